# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an image archive holds: names from an OCI layout or docker save index, compared as containerd names them."""
from __future__ import annotations

import json

import pytest

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.image_archive import (
    ImageArchiveError,
    missing,
    names_from_members,
    normalise,
)


@pytest.mark.parametrize(("ref", "want"), [
    ("pause:3.10", "docker.io/library/pause:3.10"),
    ("busybox", "docker.io/library/busybox:latest"),
    ("flannel-io/flannel:v0.26.7", "docker.io/flannel-io/flannel:v0.26.7"),
    ("docker.io/busybox:1", "docker.io/library/busybox:1"),
    ("docker.io/library/busybox:1", "docker.io/library/busybox:1"),
    ("registry.k8s.io/pause:3.10.1", "registry.k8s.io/pause:3.10.1"),
    ("registry.k8s.io/coredns/coredns:v1.13.1", "registry.k8s.io/coredns/coredns:v1.13.1"),
    ("localhost/app", "localhost/app:latest"),
    ("registry.local:5000/app:1", "registry.local:5000/app:1"),
    ("registry.local:5000/app", "registry.local:5000/app:latest"),
    ("ghcr.io/x/y@sha256:" + "a" * 64, "ghcr.io/x/y@sha256:" + "a" * 64),
    ("  registry.k8s.io/etcd:3.6.6-0 ", "registry.k8s.io/etcd:3.6.6-0"),
])
def test_references_are_named_as_containerd_names_them(ref: str, want: str) -> None:
    assert normalise(ref) == want


def _index(*annotations: dict[str, str]) -> bytes:
    return json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "0" * 64, "size": 1,
         "annotations": a} for a in annotations]}).encode()


def test_oci_layout_names_come_from_the_containerd_annotation_or_a_full_ref_name() -> None:
    members = {"index.json": _index(
        {"io.containerd.image.name": "registry.k8s.io/pause:3.10.1", "org.opencontainers.image.ref.name": "3.10.1"},
        {"org.opencontainers.image.ref.name": "registry.k8s.io/etcd:3.6.6-0"},
        {"org.opencontainers.image.ref.name": "latest"},
        {})}
    assert names_from_members(members) == ["registry.k8s.io/etcd:3.6.6-0", "registry.k8s.io/pause:3.10.1"]


def test_docker_save_names_come_from_repo_tags() -> None:
    manifest = json.dumps([{"Config": "c.json", "RepoTags": ["busybox:1", "ghcr.io/a/b:2"], "Layers": []},
                           {"Config": "d.json", "RepoTags": None, "Layers": []}]).encode()
    assert names_from_members({"manifest.json": manifest}) == ["docker.io/library/busybox:1", "ghcr.io/a/b:2"]


def test_both_indexes_are_read_when_present() -> None:
    members = {"index.json": _index({"io.containerd.image.name": "registry.k8s.io/pause:3.10.1"}),
               "manifest.json": json.dumps([{"RepoTags": ["registry.k8s.io/pause:3.10.1"]}]).encode()}
    assert names_from_members(members) == ["registry.k8s.io/pause:3.10.1"]


def test_an_archive_without_an_index_is_refused() -> None:
    with pytest.raises(ImageArchiveError, match="neither index.json"):
        names_from_members({})


@pytest.mark.parametrize("member", ["index.json", "manifest.json"])
def test_an_index_that_is_not_json_is_refused_by_name(member: str) -> None:
    with pytest.raises(ImageArchiveError, match=f"its {member} is not valid JSON"):
        names_from_members({member: b"\xff{"})


@pytest.mark.parametrize("member,data", [("index.json", b"[]"), ("manifest.json", b"{}"),
                                         ("index.json", b'{"manifests": [1, "x"]}')])
def test_an_index_of_the_wrong_shape_names_nothing(member: str, data: bytes) -> None:
    assert not names_from_members({member: data})


def test_missing_keeps_the_wanted_spelling_and_order() -> None:
    held = ["docker.io/library/pause:3.10", "registry.k8s.io/kube-proxy:v1.35.2"]
    assert missing(["registry.k8s.io/etcd:3.6.6-0", "pause:3.10", "", "registry.k8s.io/kube-proxy:v1.35.2",
                    "registry.k8s.io/coredns/coredns:v1.13.1"], held) == [
        "registry.k8s.io/etcd:3.6.6-0", "registry.k8s.io/coredns/coredns:v1.13.1"]
    assert not missing([], held)
    assert missing(["pause:3.10"], []) == ["pause:3.10"]
