"""``--patches`` / ``patches.directory``: strategic-merge, merge and JSON patches applied to one target."""
from __future__ import annotations

import json
import os

from .. import paths, yamlk
from .base import Fail, go_q, out


def apply_patches(obj, directory, target):
    """kubeadm --patches / patches.directory for one target: files <target>[suffix][+type].(yaml|json)."""
    if not directory:
        return obj
    d = paths.host(directory)
    try:
        names = sorted(os.listdir(d))
    except OSError as e:
        raise Fail("could not list patch files for path %s: %s" % (go_q(directory), e))
    for n in names:
        base, dot, ext = n.rpartition(".")
        if ext not in ("yaml", "yml", "json"):
            continue
        tgt, plus, ptype = base.partition("+")
        ptype = ptype or "strategic"
        if not tgt.startswith(target):
            continue
        try:
            patch = yamlk.safe_load(open(os.path.join(d, n), encoding="utf-8").read())
        except (OSError, yamlk.YamlError) as e:
            raise Fail("could not parse patch file %s: %s" % (n, e))
        if ptype in ("strategic", "merge"):
            obj = merge_patch(obj, patch)
        elif ptype == "json":
            obj = json_patch(obj, patch)
        else:
            raise Fail("unknown patch type %s in %s" % (go_q(ptype), n))
        out('[patches] Applied patch of type "application/%s" to target "%s"'
            % ({"strategic": "strategic-merge-patch+json", "merge": "merge-patch+json",
                "json": "json-patch+json"}[ptype], target))
    return obj


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return patch
    res = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            res.pop(k, None)
        else:
            res[k] = merge_patch(res.get(k), v)
    return res


def json_patch(obj, ops):
    obj = json.loads(json.dumps(obj))
    for op in ops or []:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op.get("path", "").split("/")[1:]]
        parent = obj
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent.setdefault(p, {})
        last = parts[-1] if parts else None
        if op.get("op") in ("add", "replace"):
            if isinstance(parent, list):
                if last == "-":
                    parent.append(op.get("value"))
                else:
                    parent.insert(int(last), op.get("value")) if op["op"] == "add" else \
                        parent.__setitem__(int(last), op.get("value"))
            else:
                parent[last] = op.get("value")
        elif op.get("op") == "remove":
            if isinstance(parent, list):
                parent.pop(int(last))
            else:
                parent.pop(last, None)
    return obj
