from __future__ import annotations

import tomllib
from typing import Any

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeforge.cluster.plugins.filter.containerd import FilterModule
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.containerd_config import (
    ContainerdConfigError,
    containerd_config,
    containerd_major,
    hosts_toml,
    systemd_cgroup_path,
    to_toml,
)

FILTERS = FilterModule().filters()


def dig(doc: dict[str, Any], path: list[str]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


@pytest.mark.parametrize("output, major", [
    ("containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u1", 1),
    ("containerd github.com/containerd/containerd 1.7.24~ds1 1.7.24~ds1-6+b2", 1),
    ("containerd github.com/containerd/containerd/v2 v2.0.0 207ad711eabd375a01713109a8a197d197ff6542", 2),
    ("containerd containerd.io 1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da", 1),
])
def test_major_from_version_output(output: str, major: int) -> None:
    assert containerd_major(output) == major
    assert FILTERS["containerd_major"](output) == major


def test_major_refuses_text_without_version() -> None:
    with pytest.raises(ContainerdConfigError, match="cannot read a containerd version"):
        containerd_major("bash: containerd: command not found")
    with pytest.raises(AnsibleFilterError, match="containerd_major: cannot read"):
        FILTERS["containerd_major"]("")


def test_containerd_1_layout_round_trips_through_toml() -> None:
    text = FILTERS["containerd_config_toml"]({"sandbox_image": "registry.k8s.io/pause:3.10"}, 1)
    doc = tomllib.loads(text)
    assert doc["version"] == 2
    cri = doc["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == "registry.k8s.io/pause:3.10"
    assert cri["containerd"]["default_runtime_name"] == "runc"
    assert cri["containerd"]["runtimes"]["runc"]["runtime_type"] == "io.containerd.runc.v2"
    assert dig(doc, systemd_cgroup_path(1)) is True
    assert cri["registry"]["config_path"] == "/etc/containerd/certs.d"
    # Nothing of the 2.x layout leaks in.
    assert set(doc["plugins"]) == {"io.containerd.grpc.v1.cri"}
    assert '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\nSystemdCgroup = true' in text


def test_containerd_2_layout_round_trips_through_toml() -> None:
    text = FILTERS["containerd_config_toml"]({"sandbox_image": "registry.k8s.io/pause:3.10",
                                              "registry_config_path": "/etc/containerd/registries"}, "2")
    doc = tomllib.loads(text)
    assert doc["version"] == 3
    assert set(doc["plugins"]) == {"io.containerd.cri.v1.runtime", "io.containerd.cri.v1.images"}
    assert dig(doc, systemd_cgroup_path(2)) is True
    images = doc["plugins"]["io.containerd.cri.v1.images"]
    assert images["pinned_images"]["sandbox"] == "registry.k8s.io/pause:3.10"
    assert images["registry"]["config_path"] == "/etc/containerd/registries"
    assert "sandbox_image" not in text and "io.containerd.grpc.v1.cri" not in text
    assert '[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]\nSystemdCgroup = true' in text


@pytest.mark.parametrize("major", [1, 2])
def test_cgroupfs_on_request_and_extra_settings_merge(major: int) -> None:
    plugin = "io.containerd.grpc.v1.cri" if major == 1 else "io.containerd.cri.v1.runtime"
    extra = {"plugins": {plugin: {"containerd": {"snapshotter": "native"}}}, "root": "/data/containerd"}
    doc = tomllib.loads(to_toml(containerd_config(major, {"systemd_cgroup": False, "extra": extra})))
    assert dig(doc, systemd_cgroup_path(major)) is False
    assert doc["plugins"][plugin]["containerd"]["snapshotter"] == "native"
    # The merge keeps the runtimes next to the added key.
    assert doc["plugins"][plugin]["containerd"]["runtimes"]["runc"]["runtime_type"] == "io.containerd.runc.v2"
    assert doc["root"] == "/data/containerd"


def test_sandbox_image_left_to_containerd_when_unset() -> None:
    assert "sandbox_image" not in tomllib.loads(to_toml(containerd_config(1)))["plugins"]["io.containerd.grpc.v1.cri"]
    assert "pinned_images" not in tomllib.loads(to_toml(containerd_config(2)))["plugins"]["io.containerd.cri.v1.images"]


@pytest.mark.parametrize("major, settings, message", [
    (3, {}, "containerd 3 is not supported"),
    (1, {"systemd_cgroups": True}, "unknown containerd settings: systemd_cgroups"),
    (1, {"systemd_cgroup": "yes"}, "systemd_cgroup must be true or false"),
    (2, {"extra": ["root"]}, "extra must be a dict"),
])
def test_bad_settings_are_refused(major: int, settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ContainerdConfigError, match=message):
        containerd_config(major, settings)


def test_filter_refuses_a_non_numeric_major() -> None:
    with pytest.raises(AnsibleFilterError, match="must be a number"):
        FILTERS["containerd_config_toml"]({}, "two")
    with pytest.raises(AnsibleFilterError, match="containerd_config_toml: containerd 0 is not supported"):
        FILTERS["containerd_config_toml"]({}, 0)


def test_hosts_toml_lists_mirrors_in_order() -> None:
    text = FILTERS["containerd_hosts_toml"](["https://m1.example.net", "http://10.0.0.5:5000"], "docker.io")
    doc = tomllib.loads(text)
    assert doc["server"] == "https://registry-1.docker.io"
    assert list(doc["host"]) == ["https://m1.example.net", "http://10.0.0.5:5000"]
    assert doc["host"]["http://10.0.0.5:5000"]["capabilities"] == ["pull", "resolve"]
    assert tomllib.loads(hosts_toml("registry.k8s.io", ["https://m"]))["server"] == "https://registry.k8s.io"


@pytest.mark.parametrize("registry, mirrors, message", [
    ("docker.io/library", ["https://m"], "must be a registry host"),
    ("docker.io", [], "non-empty list"),
    ("docker.io", "https://m", "non-empty list"),
    ("docker.io", ["ftp://m"], "is not an http\\(s\\) URL"),
])
def test_hosts_toml_refuses_bad_input(registry: str, mirrors: Any, message: str) -> None:
    with pytest.raises(ContainerdConfigError, match=message):
        hosts_toml(registry, mirrors)
    with pytest.raises(AnsibleFilterError):
        FILTERS["containerd_hosts_toml"](mirrors, registry)


def test_toml_writer_quotes_and_escapes() -> None:
    doc = {"a b": {"quote": 'say "hi"\\', "tab": "x\ty", "n": 1.5, "list": [1, "two", True]}}
    assert tomllib.loads(to_toml(doc)) == doc
    with pytest.raises(ContainerdConfigError, match="cannot write"):
        to_toml({"x": None})
