"""``kubeadm version``."""
from __future__ import annotations

import json
import sys

from .. import version, yamlk
from .base import Fail, out, parse


def cmd_version(args):
    vals, pos, _ = parse(args, {"output": "str"}, {"o": "output"})
    o = vals.get("output", "")
    if o == "":
        out("kubeadm version: " + version.info_go())
    elif o == "short":
        out(version.VERSION)
    elif o == "json":
        out(json.dumps({"clientVersion": version.info_json()}, indent=2))
    elif o == "yaml":
        sys.stdout.write(yamlk.dump({"clientVersion": dict(sorted(version.info_json().items()))}))
    else:
        raise Fail('invalid output format: %s' % o)
    return 0
