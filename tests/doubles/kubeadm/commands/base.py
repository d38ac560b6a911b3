"""What every ``kubeadm`` subcommand of the double shares: global flags, parsing, failures, output."""
from __future__ import annotations

import json
import sys

from .. import flags, glog, paths


GLOBAL_FLAGS = {"v": "int", "add-dir-header": "bool", "log-file": "str", "log-file-max-size": "int",
                "one-output": "bool", "rootfs": "str", "skip-headers": "bool", "skip-log-headers": "bool",
                "help": "bool"}


STACK_HINT = "To see the stack trace of this error execute with --v=5 or higher\n"


class Fail(Exception):
    def __init__(self, msg, phase=None):
        Exception.__init__(self, msg)
        self.phase = phase


def out(s=""):
    sys.stdout.write(s + "\n")
    sys.stdout.flush()


def parse(args, extra, short=None):
    spec = flags.Spec(dict(GLOBAL_FLAGS, **extra), dict({"v": "v"}, **(short or {})))
    try:
        vals, pos, given = flags.parse(args, spec)
    except flags.FlagError as e:
        raise Fail(str(e))
    glog.VERBOSITY = vals.get("v", 0)
    return vals, pos, given


def go_q(s):
    return json.dumps(s)


def read_config(path):
    try:
        return paths.read_text(path)
    except FileNotFoundError:
        raise Fail("unable to read config from %s : open %s: no such file or directory" % (go_q(path), path))
    except OSError as e:
        raise Fail("unable to read config from %s : open %s: %s" % (go_q(path), path, (e.strerror or "").lower()))


def check_ignore(ign):
    low = [i.lower() for i in ign]
    if "all" in low and len(low) > 1:
        raise Fail("ignorePreflightErrors: Invalid value: %s: don't specify individual checks if 'all' is used"
                   % go_q(",".join(ign)))
    return ign
