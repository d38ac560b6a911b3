"""logrus text-formatter style logging to stderr.

Lines look like:  time="2025-01-02T03:04:05Z" level=info msg="Starting k3s ..."
``fatal`` prints a level=fatal line and exits 1, like logrus.Fatal.
"""
import sys
import time

_LEVELS = {"debug": 0, "info": 1, "warning": 2, "error": 3, "fatal": 4}
DEBUG = False


def go_quote(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif o < 0x20 or o == 0x7F:
            out.append("\\x%02x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _ts():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def log(level, msg, *args):
    if args:
        msg = msg % args
    if level == "debug" and not DEBUG:
        return
    line = "time=%s level=%s msg=%s\n" % (go_quote(_ts()), level, go_quote(msg))
    try:
        sys.stderr.write(line)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def debug(msg, *a):
    log("debug", msg, *a)


def info(msg, *a):
    log("info", msg, *a)


def warn(msg, *a):
    log("warning", msg, *a)


def error(msg, *a):
    log("error", msg, *a)


class Fatal(SystemExit):
    """Raised by fatal(); carries exit status 1."""


def fatal(msg, *a):
    log("fatal", msg, *a)
    raise Fatal(1)
