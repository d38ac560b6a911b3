"""common.versions and common.hostarch: tags, Go toolchains, the architecture guard."""
from __future__ import annotations

import re

import pytest

from common import hostarch, versions
from k3s import version as k3s_version
from kubeadm import version as kube_version


def test_parse_tag() -> None:
    pattern = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
    assert versions.parse_tag(pattern, "v1.35.2", "bad %r") == (1, 35, 2)
    for tag in ("1.35.2", "v1.35", "", None):
        with pytest.raises(ValueError, match=r"^bad "):
            versions.parse_tag(pattern, tag, "bad %r")


@pytest.mark.parametrize("minor,go", [(36, "go1.25.5"), (35, "go1.25.5"), (34, "go1.24.9"), (33, "go1.24.9"),
                                      (32, "go1.23.12"), (31, "go1.23.12"), (30, "go1.22.12"),
                                      (29, "go1.22.12"), (28, "go1.21.13"), (0, "go1.21.13")])
def test_go_version(minor: int, go: str) -> None:
    assert versions.go_version(minor) == go


def test_doubles_keep_their_tag_rules_and_messages() -> None:
    assert k3s_version.parse_tag("v1.35.1+k3s1") == (1, 35, 1)
    with pytest.raises(ValueError, match=r"^invalid k3s version tag 'v1\.35\.1'$"):
        k3s_version.parse_tag("v1.35.1")
    assert kube_version.parse_tag("v1.35.2") == (1, 35, 2)
    with pytest.raises(ValueError, match=r"want vMAJOR\.MINOR\.PATCH"):
        kube_version.parse_tag("v1.35.1+k3s1")
    # the kubeadm double's oldest toolchain is go1.23.12; the K3s double goes back further
    assert kube_version.go_version_for("v1.29.0") == "go1.23.12"
    assert k3s_version.go_version_for("v1.29.0+k3s1") == "go1.22.12"
    assert kube_version.go_version_for("v1.33.1") == k3s_version.go_version_for("v1.33.1+k3s1") == "go1.24.9"


@pytest.mark.parametrize("machine,arch", [("x86_64", "amd64"), ("AARCH64", "arm64"), ("armv7l", "arm"),
                                          ("mips", "mips")])
def test_goarch(machine: str, arch: str) -> None:
    assert hostarch.goarch(machine) == arch


def test_arch_guard(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    exits: list[int] = []
    monkeypatch.setattr(hostarch.os, "_exit", exits.append)
    hostarch.arch_guard("/usr/bin/k3s", None)
    hostarch.arch_guard("/usr/bin/k3s", hostarch.host_arch())
    assert exits == [] and capsys.readouterr().err == ""
    other = "s390x" if hostarch.host_arch() != "s390x" else "amd64"
    hostarch.arch_guard("/usr/bin/k3s", other)
    assert exits == [126]
    assert capsys.readouterr().err == "/usr/bin/k3s: cannot execute binary file: Exec format error\n"
