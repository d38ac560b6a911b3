# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark's cluster shapes and the inventory each run uses. Pure data; bench.py makes the containers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

K3S_VERSION = "v1.35.1+k3s1"
# What bench.py --upgrade builds before it upgrades to K3S_VERSION: the minor before.
K3S_UPGRADE_FROM = "v1.34.2+k3s1"
KUBERNETES_VERSION = "v1.35.2"
IMAGE = "kubeforge-node:bookworm-amd64"


@dataclass(frozen=True)
class Shape:
    key: str
    title: str
    distribution: str  # k3s or kubeadm
    servers: int
    agents: int
    loadbalancers: int = 0
    # Runs a rerun with one more agent after the unchanged rerun (the "add one node" figure).
    grow: bool = False

    @property
    def nodes(self) -> int:
        return self.servers + self.agents

    @property
    def hosts(self) -> int:
        return self.nodes + self.loadbalancers


SHAPES: Dict[str, Shape] = {s.key: s for s in (
    Shape("k3s-1", "K3s 1 server (SQLite)", "k3s", 1, 0),
    Shape("k3s-1+2", "K3s 1 server + 2 agents", "k3s", 1, 2),
    Shape("k3s-ha", "K3s 3 servers (etcd) + 2 agents, HAProxy", "k3s", 3, 2, loadbalancers=1),
    Shape("k3s-1+8", "K3s 1 server + 8 agents", "k3s", 1, 8, grow=True),
    Shape("k3s-1+24", "K3s 1 server + 24 agents", "k3s", 1, 24),
    Shape("kubeadm-1+2", "kubeadm 1 control plane + 2 workers", "kubeadm", 1, 2),
)}
# The clusters bench.py --backup backs up and restores: each datastore the collection restores from a snapshot.
BACKUP_SHAPES = (
    Shape("k3s-etcd-3", "K3s 3 servers (embedded etcd)", "k3s", 3, 0),
    Shape("kubeadm-1", "kubeadm 1 control plane (stacked etcd)", "kubeadm", 1, 0),
)

SMOKE = "k3s-1"


def host_names(shape: Shape, prefix: str, extra_agents: int = 0) -> Dict[str, List[str]]:
    """The containers' names by group: servers, agents, loadbalancers."""
    return {
        "servers": [f"{prefix}-s{i}" for i in range(1, shape.servers + 1)],
        "agents": [f"{prefix}-a{i}" for i in range(1, shape.agents + extra_agents + 1)],
        "loadbalancers": [f"{prefix}-lb{i}" for i in range(1, shape.loadbalancers + 1)],
    }


def forks_for(hosts: int) -> int:
    """One fork per host (at least Ansible's 10, at most 50): what the README tells users to set."""
    return max(10, min(50, hosts))


def inventory(shape: Shape, groups: Dict[str, List[str]], *, mirror_url: str, run_dir: str,
              api_endpoint: Optional[str] = None, floor_files: Optional[Dict[str, str]] = None,
              images_archive: Optional[Tuple[str, str]] = None) -> Dict[str, Any]:
    """An inventory (as a dict to dump as JSON) for site.yml or the floor playbook.

    mirror_url is the loopback release mirror (http://127.0.0.1:PORT), run_dir the run's private
    directory on the controller (artifact cache, kubeconfig, PKI). floor_files names the release
    files the floor playbook copies (it has no download step of its own). images_archive is the
    kubeadm image archive and its sha256 (the test bed has no registry, so both site.yml and the
    floor load kubeadm's images from it).
    """
    all_vars: Dict[str, Any] = {
        "ansible_connection": "community.docker.docker",
        "cluster_name": "bench",
        "cluster_distribution": shape.distribution,
        "cluster_allow_cgroup_v1": True,
        "cluster_artifacts_cache_dir": f"{run_dir}/artifacts",
        "kubeconfig_dest": f"{run_dir}/kubeconfig",
        "cluster_pki_dir": f"{run_dir}/pki",
        "k3s_artifacts_source": "mirror",
        "k3s_artifacts_mirror_url": f"{mirror_url}/k3s-io/k3s/releases/download",
        "cluster_k3s_channel_url": f"{mirror_url}/v1-release/channels",
        "kube_artifacts_source": "mirror",
        "kube_artifacts_mirror_url": f"{mirror_url}/dl.k8s.io",
        # etcdctl and etcdutl of a kubeadm backup and restore: the mirror's etcd release.
        "backup_etcd_source": "mirror",
        "backup_etcd_mirror_url": f"{mirror_url}/github.com/etcd-io/etcd/releases/download",
    }
    if shape.distribution == "k3s":
        all_vars["cluster_k3s_version"] = K3S_VERSION
    else:
        all_vars["cluster_kubernetes_version"] = KUBERNETES_VERSION
        all_vars["cluster_pod_cidr"] = "10.244.0.0/16"
    if shape.servers > 1:
        all_vars["cluster_datastore"] = "etcd"
    if api_endpoint:
        all_vars["cluster_api_endpoint"] = api_endpoint
    if floor_files:
        all_vars["bench_floor_files"] = floor_files
    if images_archive and shape.distribution == "kubeadm":
        all_vars["kubeadm_images_archive"] = images_archive[0]
        all_vars["kubeadm_images_archive_checksum"] = "sha256:" + images_archive[1]
    return {
        "all": {
            "vars": all_vars,
            "children": {
                group: {"hosts": {name: {} for name in names}}
                for group, names in groups.items() if names
            },
        }
    }
