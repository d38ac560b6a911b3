"""logrus text-formatter style logging to stderr.

Lines look like:  time="2025-01-02T03:04:05Z" level=info msg="Starting k3s ..."
``fatal`` prints a level=fatal line and exits 1, like logrus.Fatal.
``zap_fatal`` does the same for the embedded etcd, whose logger (zap) K3s lets
print JSON lines to the same stderr:
  {"level":"fatal","ts":"2025-01-02T03:04:05.123456Z","caller":"...","msg":"...",<fields>}
"""
import json
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


def zap(level, caller, msg, fields=None):
    """One JSON line as etcd's zap logger writes it (fields: extra keys, in order)."""
    t = time.time()
    entry = {"level": level,
             "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6),
             "caller": caller, "msg": msg}
    entry.update(fields or {})
    try:
        sys.stderr.write(json.dumps(entry, separators=(",", ":")) + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def zap_fatal(caller, msg, fields=None):
    """zap's Fatal: the JSON line, then exit 1."""
    zap("fatal", caller, msg, fields)
    raise Fatal(1)
