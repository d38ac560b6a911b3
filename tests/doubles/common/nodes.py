"""Node object details that the K3s agent/server and the kubelet double fill in the same way,
and the node lifecycle controller's view of a node that stopped reporting."""
from __future__ import annotations

import copy
import time
from typing import Any

from . import timestamps

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
UNREACHABLE = "node.kubernetes.io/unreachable"


def os_image(path: str = "/etc/os-release") -> str:
    """status.nodeInfo.osImage: PRETTY_NAME of os-release, "Linux" without one."""
    image = "Linux"
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith("PRETTY_NAME="):
                    image = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return image


def parse_taint(spec: str) -> dict[str, str] | None:
    """key[=value]:Effect -> a Node taint; None when the effect is missing or unknown."""
    kv, sep, effect = spec.rpartition(":")
    if not sep or effect not in TAINT_EFFECTS:
        return None
    k, _, v = kv.partition("=")
    taint = {"key": k, "effect": effect}
    if v:
        taint["value"] = v
    return taint


def present_unreachable(obj: dict[str, Any], grace: float, now: float | None = None) -> dict[str, Any]:
    """A Node whose Ready heartbeat is older than grace seconds, shown as the node lifecycle
    controller marks it (every condition Unknown, the unreachable NoSchedule and NoExecute
    taints); any other object, or a Node in time, comes back as it is. Computed at read time:
    the stored object is not changed."""
    conds = obj.get("status", {}).get("conditions", [])
    ready = [c for c in conds if c.get("type") == "Ready"]
    if not ready:
        return obj
    now = time.time() if now is None else now
    last = timestamps.parse_rfc3339(ready[0].get("lastHeartbeatTime"))
    if last is None:
        last = now
    if now - last <= grace:
        return obj
    obj = copy.deepcopy(obj)
    since = timestamps.format_rfc3339(last + grace)
    for c in obj["status"]["conditions"]:
        if c.get("status") != "Unknown":
            c["lastTransitionTime"] = since
        c["status"] = "Unknown"
        c["reason"] = "NodeStatusUnknown"
        c["message"] = "Kubelet stopped posting node status."
    taints = obj.setdefault("spec", {}).setdefault("taints", [])
    for eff in ("NoSchedule", "NoExecute"):
        if not any(t.get("key") == UNREACHABLE and t.get("effect") == eff for t in taints):
            taints.append({"key": UNREACHABLE, "effect": eff, "timeAdded": since})
    return obj
