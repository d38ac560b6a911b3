"""common.nodes and common.timestamps: Node details and the unreachable view."""
from __future__ import annotations

import pathlib

import pytest

from common import nodes, timestamps


def test_rfc3339_round_trip() -> None:
    assert timestamps.format_rfc3339(0) == "1970-01-01T00:00:00Z"
    assert timestamps.parse_rfc3339("2026-01-02T03:04:05Z") == 1767323045
    assert timestamps.format_rfc3339(1767323045) == "2026-01-02T03:04:05Z"
    for bad in ("2026-01-02 03:04:05", "", None, 5):
        assert timestamps.parse_rfc3339(bad) is None


@pytest.mark.parametrize("spec,taint", [
    ("a=b:NoSchedule", {"key": "a", "value": "b", "effect": "NoSchedule"}),
    ("a:NoExecute", {"key": "a", "effect": "NoExecute"}),
    ("a=:PreferNoSchedule", {"key": "a", "effect": "PreferNoSchedule"}),
    ("a=b", None), ("a=b:Sometimes", None), ("", None),
])
def test_parse_taint(spec: str, taint: dict[str, str] | None) -> None:
    assert nodes.parse_taint(spec) == taint


def test_os_image(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "os-release"
    f.write_text('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')
    assert nodes.os_image(str(f)) == "Debian GNU/Linux 12 (bookworm)"
    assert nodes.os_image(str(tmp_path / "missing")) == "Linux"


def node(heartbeat: str) -> dict:
    return {"metadata": {"name": "n1"},
            "status": {"conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": heartbeat},
                                      {"type": "MemoryPressure", "status": "Unknown"}]},
            "spec": {"taints": [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}]}}


def test_present_unreachable() -> None:
    beat = timestamps.parse_rfc3339("2026-01-01T00:00:00Z")
    fresh = node("2026-01-01T00:00:00Z")
    assert nodes.present_unreachable(fresh, 40, now=beat + 40) is fresh
    late = nodes.present_unreachable(fresh, 40, now=beat + 41)
    assert fresh["status"]["conditions"][0]["status"] == "True"  # the stored object is left alone
    ready, memory = late["status"]["conditions"]
    assert ready == {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
                     "message": "Kubelet stopped posting node status.", "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                     "lastTransitionTime": "2026-01-01T00:00:40Z"}
    assert "lastTransitionTime" not in memory  # already Unknown: no transition
    assert late["spec"]["taints"] == [
        {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2026-01-01T00:00:40Z"}]


def test_present_unreachable_needs_a_ready_condition_and_a_timestamp() -> None:
    obj = {"status": {"conditions": [{"type": "DiskPressure"}]}}
    assert nodes.present_unreachable(obj, 0, now=1e12) is obj
    garbled = node("yesterday")
    assert nodes.present_unreachable(garbled, 40) is garbled
