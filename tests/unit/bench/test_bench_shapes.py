# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for tests/bench/benchlib/shapes.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from benchlib import shapes  # noqa: E402
from benchlib.shapes import SHAPES  # noqa: E402

MIRROR = "http://127.0.0.1:38211"
RUN_DIR = "/work/.cache/bench/20250101T000000-abc/kfbench1-k3s-ha-r1"


def test_shape_keys_in_order() -> None:
    assert list(SHAPES) == ["k3s-1", "k3s-1+2", "k3s-ha", "k3s-1+8", "k3s-1+24", "kubeadm-1+2"]
    assert all(key == shape.key for key, shape in SHAPES.items())
    assert shapes.SMOKE in SHAPES


@pytest.mark.parametrize("key, distribution, servers, agents, loadbalancers, nodes, hosts, grow", [
    ("k3s-1", "k3s", 1, 0, 0, 1, 1, False),
    ("k3s-1+2", "k3s", 1, 2, 0, 3, 3, False),
    ("k3s-ha", "k3s", 3, 2, 1, 5, 6, False),
    ("k3s-1+8", "k3s", 1, 8, 0, 9, 9, True),
    ("k3s-1+24", "k3s", 1, 24, 0, 25, 25, False),
    ("kubeadm-1+2", "kubeadm", 1, 2, 0, 3, 3, False),
])
def test_shape_counts(key, distribution, servers, agents, loadbalancers, nodes, hosts, grow) -> None:
    s = SHAPES[key]
    assert (s.distribution, s.servers, s.agents, s.loadbalancers) == (distribution, servers, agents, loadbalancers)
    assert (s.nodes, s.hosts, s.grow) == (nodes, hosts, grow)


def test_host_names_by_group() -> None:
    assert shapes.host_names(SHAPES["k3s-ha"], "kfb-ha-r1") == {
        "servers": ["kfb-ha-r1-s1", "kfb-ha-r1-s2", "kfb-ha-r1-s3"],
        "agents": ["kfb-ha-r1-a1", "kfb-ha-r1-a2"],
        "loadbalancers": ["kfb-ha-r1-lb1"],
    }


def test_host_names_keep_empty_groups() -> None:
    assert shapes.host_names(SHAPES["k3s-1"], "p") == {"servers": ["p-s1"], "agents": [], "loadbalancers": []}


def test_host_names_extra_agents_adds_agents_only() -> None:
    shape = SHAPES["k3s-1+8"]
    plain = shapes.host_names(shape, "p")
    grown = shapes.host_names(shape, "p", extra_agents=1)
    assert grown["servers"] == plain["servers"] == ["p-s1"]
    assert grown["loadbalancers"] == plain["loadbalancers"] == []
    assert grown["agents"] == plain["agents"] + ["p-a9"]
    assert len(grown["agents"]) == 9
    assert shapes.host_names(SHAPES["k3s-1"], "p", extra_agents=2)["agents"] == ["p-a1", "p-a2"]


def test_host_names_are_distinct_across_groups() -> None:
    for shape in SHAPES.values():
        names = [n for g in shapes.host_names(shape, "p", extra_agents=1).values() for n in g]
        assert len(names) == len(set(names)) == shape.hosts + 1


@pytest.mark.parametrize("hosts, forks", [(0, 10), (1, 10), (9, 10), (10, 10), (11, 11), (26, 26), (50, 50),
                                          (51, 50), (500, 50)])
def test_forks_for_bounds(hosts, forks) -> None:
    assert shapes.forks_for(hosts) == forks


def test_inventory_of_an_ha_k3s_cluster() -> None:
    shape = SHAPES["k3s-ha"]
    groups = shapes.host_names(shape, "p")
    inv = shapes.inventory(shape, groups, mirror_url=MIRROR, run_dir=RUN_DIR, api_endpoint="172.18.0.7")
    assert list(inv) == ["all"]
    assert inv["all"]["children"] == {
        "servers": {"hosts": {"p-s1": {}, "p-s2": {}, "p-s3": {}}},
        "agents": {"hosts": {"p-a1": {}, "p-a2": {}}},
        "loadbalancers": {"hosts": {"p-lb1": {}}},
    }
    v = inv["all"]["vars"]
    assert v["cluster_distribution"] == "k3s"
    assert v["cluster_k3s_version"] == shapes.K3S_VERSION == "v1.35.1+k3s1"
    assert "cluster_kubernetes_version" not in v and "cluster_pod_cidr" not in v
    assert v["cluster_datastore"] == "etcd"
    assert v["cluster_api_endpoint"] == "172.18.0.7"
    assert "bench_floor_files" not in v
    assert v["ansible_connection"] == "community.docker.docker"
    assert v["cluster_artifacts_cache_dir"] == f"{RUN_DIR}/artifacts"
    assert v["kubeconfig_dest"] == f"{RUN_DIR}/kubeconfig"
    assert v["cluster_pki_dir"] == f"{RUN_DIR}/pki"


def test_inventory_mirror_urls_are_built_from_mirror_url() -> None:
    shape = SHAPES["k3s-1"]
    v = shapes.inventory(shape, shapes.host_names(shape, "p"), mirror_url="http://127.0.0.1:40001",
                         run_dir="/r")["all"]["vars"]
    assert v["k3s_artifacts_source"] == "mirror"
    assert v["k3s_artifacts_mirror_url"] == "http://127.0.0.1:40001/k3s-io/k3s/releases/download"
    assert v["cluster_k3s_channel_url"] == "http://127.0.0.1:40001/v1-release/channels"
    assert v["kube_artifacts_source"] == "mirror"
    assert v["kube_artifacts_mirror_url"] == "http://127.0.0.1:40001/dl.k8s.io"
    assert v["backup_etcd_source"] == "mirror"
    assert v["backup_etcd_mirror_url"] == "http://127.0.0.1:40001/github.com/etcd-io/etcd/releases/download"
    urls = [value for value in v.values() if isinstance(value, str) and value.startswith("http")]
    assert len(urls) == 4 and all(u.startswith("http://127.0.0.1:40001/") for u in urls)


def test_inventory_of_a_single_server_omits_empty_groups_and_optional_vars() -> None:
    shape = SHAPES["k3s-1"]
    inv = shapes.inventory(shape, shapes.host_names(shape, "p"), mirror_url=MIRROR, run_dir=RUN_DIR)
    assert inv["all"]["children"] == {"servers": {"hosts": {"p-s1": {}}}}
    v = inv["all"]["vars"]
    for absent in ("cluster_datastore", "cluster_api_endpoint", "bench_floor_files"):
        assert absent not in v


@pytest.mark.parametrize("key", ["k3s-1+2", "k3s-1+8", "k3s-1+24", "kubeadm-1+2"])
def test_inventory_datastore_only_with_several_servers(key) -> None:
    shape = SHAPES[key]
    v = shapes.inventory(shape, shapes.host_names(shape, "p"), mirror_url=MIRROR, run_dir=RUN_DIR)["all"]["vars"]
    assert "cluster_datastore" not in v


def test_inventory_of_kubeadm_with_floor_files() -> None:
    shape = SHAPES["kubeadm-1+2"]
    floor = {n: f"/rel/dl.k8s.io/release/v1.35.2/bin/linux/amd64/{n}" for n in ("kubeadm", "kubelet", "kubectl")}
    inv = shapes.inventory(shape, shapes.host_names(shape, "p"), mirror_url=MIRROR, run_dir=RUN_DIR,
                           floor_files=floor)
    v = inv["all"]["vars"]
    assert v["cluster_distribution"] == "kubeadm"
    assert v["cluster_kubernetes_version"] == shapes.KUBERNETES_VERSION == "v1.35.2"
    assert v["cluster_pod_cidr"] == "10.244.0.0/16"
    assert "cluster_k3s_version" not in v
    assert v["bench_floor_files"] == floor
    assert inv["all"]["children"] == {"servers": {"hosts": {"p-s1": {}}},
                                      "agents": {"hosts": {"p-a1": {}, "p-a2": {}}}}


def test_inventory_with_grown_groups_lists_the_extra_agent() -> None:
    shape = SHAPES["k3s-1+8"]
    inv = shapes.inventory(shape, shapes.host_names(shape, "p", extra_agents=1), mirror_url=MIRROR, run_dir=RUN_DIR)
    assert list(inv["all"]["children"]["agents"]["hosts"]) == [f"p-a{i}" for i in range(1, 10)]


def test_inventory_empty_optional_arguments_are_omitted() -> None:
    shape = SHAPES["k3s-ha"]
    v = shapes.inventory(shape, shapes.host_names(shape, "p"), mirror_url=MIRROR, run_dir=RUN_DIR,
                         api_endpoint="", floor_files={})["all"]["vars"]
    assert "cluster_api_endpoint" not in v and "bench_floor_files" not in v


def test_inventory_is_json() -> None:
    shape = SHAPES["k3s-ha"]
    inv = shapes.inventory(shape, shapes.host_names(shape, "p"), mirror_url=MIRROR, run_dir=RUN_DIR,
                           api_endpoint="10.0.0.1", floor_files={"k3s": "/rel/k3s"})
    assert json.loads(json.dumps(inv)) == inv


@pytest.mark.parametrize("key", ["kubeadm-1+2", "k3s-1+2"])
def test_inventory_gives_only_kubeadm_the_image_archive(key) -> None:
    shape = SHAPES[key]
    v = shapes.inventory(shape, shapes.host_names(shape, "p"), mirror_url=MIRROR, run_dir=RUN_DIR,
                         images_archive=("/rel/kubeadm-images/v1.35.2/kubeadm-images-amd64.tar", "ab" * 32))["all"]["vars"]
    if shape.distribution == "kubeadm":
        assert v["kubeadm_images_archive"] == "/rel/kubeadm-images/v1.35.2/kubeadm-images-amd64.tar"
        assert v["kubeadm_images_archive_checksum"] == "sha256:" + "ab" * 32
    else:
        assert "kubeadm_images_archive" not in v and "kubeadm_images_archive_checksum" not in v
