"""What etcdctl and etcdutl share: cobra's exit codes and errors, pflag's flag syntax, zap's JSON log lines."""
from __future__ import annotations

import json
import sys
import time

# pkg/cobrautl/error.go
EXIT_ERROR = 1
EXIT_BAD_CONNECTION = 2
EXIT_INVALID_INPUT = 3
EXIT_INTERRUPTED = 5
EXIT_IO = 6
EXIT_BAD_ARGS = 128


class Exit(Exception):
    """cobrautl.ExitWithError: ``Error: <message>`` on stderr, then the exit code."""

    def __init__(self, code: int, message: str = "") -> None:
        Exception.__init__(self, message)
        self.code = code
        self.message = message


def parse(args: list[str], flags: dict[str, object], short: dict[str, str] | None = None,
          env: dict[str, str] | None = None, env_prefix: str = "") -> tuple[dict[str, object], list[str], set[str]]:
    """pflag: ``--name=value``, ``--name value``, ``-x value``, booleans as ``--name`` or ``--name=false``; flags
    anywhere among the positional arguments; ``--`` ends the flags. ``flags`` maps each name to its default (a
    bool default makes a boolean flag). With ``env_prefix``, an unset flag takes ``<PREFIX><NAME>`` from ``env``
    (etcdctl's ETCDCTL_* variables). Returns (values, positional, names set on the command line)."""
    short = short or {}
    values = dict(flags)
    positional: list[str] = []
    given: set[str] = set()
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a == "--":
            positional.extend(args[i:])
            break
        if not a.startswith("-") or a == "-":
            positional.append(a)
            continue
        if a.startswith("--"):
            name, eq, value = a[2:].partition("=")
        else:
            name, eq, value = a[1:2], a[2:3] == "=" or bool(a[2:]), a[3:] if a[2:3] == "=" else a[2:]
            if name not in short:
                raise Exit(EXIT_ERROR, "unknown shorthand flag: '%s' in %s" % (name, a))
            name = short[name]
        if name not in flags:
            raise Exit(EXIT_ERROR, "unknown flag: --%s" % name)
        if isinstance(flags[name], bool):
            if eq:
                if value.lower() not in ("true", "false", "1", "0", "t", "f"):
                    raise Exit(EXIT_ERROR, 'invalid argument "%s" for "--%s" flag: strconv.ParseBool: parsing "%s": '
                                           'invalid syntax' % (value, name, value))
                values[name] = value.lower() in ("true", "1", "t")
            else:
                values[name] = True
        else:
            if not eq:
                if i >= len(args):
                    raise Exit(EXIT_ERROR, "flag needs an argument: --%s" % name)
                value = args[i]
                i += 1
            values[name] = value
        given.add(name)
    if env_prefix and env is not None:
        for name in flags:
            key = env_prefix + name.upper().replace("-", "_")
            if name not in given and key in env:
                values[name] = env[key] if not isinstance(flags[name], bool) else env[key].lower() in ("true", "1")
    return values, positional, given


def zap(level: str, caller: str, msg: str, **fields: object) -> None:
    """One line of etcd's zap JSON logger on stderr."""
    line = {"level": level, "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000000Z",
            "caller": caller, "msg": msg}
    line.update(fields)
    sys.stderr.write(json.dumps(line) + "\n")


def go_bytes(data: bytes) -> str:
    """Go's %v of a []byte: ``[1 2 3]``."""
    return "[" + " ".join(str(b) for b in data) + "]"
