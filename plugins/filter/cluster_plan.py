# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: cluster_plan
author: kubeforge maintainers
version_added: 0.1.0
short_description: Group inventory hosts into clusters and check cross-host rules
description:
  - Takes one record a host and returns the clusters of the inventory and the list of errors
    (a host in no or both groups, one datastore mode and distribution per cluster, duplicate node names,
    a SQLite cluster with more than one server, a cluster without servers).
  - The records are built by the C(kubeforge.cluster.cluster) role; see its tasks for the fields.
options:
  _input:
    description: List of host records (C(host), C(cluster), C(distribution), C(datastore), C(roles), C(address),
      C(node_name), C(api_endpoint)).
    type: list
    elements: dict
    required: true
  releases:
    description:
      - The K3s release each release key (C(<version> <channel url>)) resolved to. When given, the plan is completed
        with each cluster's C(k3s_version) and C(kube_minor), and hosts whose kubelet would refuse cgroup v1 are
        reported in C(errors).
    type: dict
  partial:
    description:
      - The run may hold any part of a cluster, as a reset of some of its hosts does. A cluster then needs no
        server in the run, its C(first_server) is the inventory's first server whether the run holds it or not, a
        load balancer or datastore host may come without the cluster's nodes, and the checks of the cluster's
        shape, networks and token are left out. Nothing may be built from such a plan.
    type: bool
    default: false
    version_added: 0.2.0
  keep_running:
    description:
      - With O(releases), a cluster some of whose nodes run already keeps the version they run (site.yml never
        upgrades; C(playbooks/upgrade.yml) does). C(wanted_version) is the inventory's version, and C(notices) say
        which clusters keep another one. Nodes of one cluster that run different versions (an upgrade that did not
        finish) are an error.
    type: bool
    default: false
    version_added: 0.2.0
"""

EXAMPLES = r"""
- name: Plan the clusters
  ansible.builtin.set_fact:
    plan: "{{ records | kubeforge.cluster.cluster_plan }}"
"""

RETURN = r"""
_value:
  description:
    - C(clusters), a dict by cluster name; each cluster has C(servers), C(agents), C(loadbalancers), C(datastores),
      C(hosts), C(first_server), C(inventory_servers) (the cluster's servers in the inventory, in its order),
      C(servers_left_out) (the cluster's servers in the inventory that the run leaves out), C(agents_left_out)
      (likewise its agents), C(api_endpoint),
      C(api_port), C(api_hostport), C(api_url), C(token_source),
      C(nodes) (by host - C(role), C(address), C(node_name), C(arch), C(cgroup_v1), C(container), C(kube_bin_dir))
      C(running_versions) (by host, the version each node of the run runs),
      and, with O(releases), C(k3s_version), C(kube_minor) and C(wanted_version) (the inventory's version).
    - C(errors), the list of problems; C(release_keys), the K3s releases to resolve; with O(releases), C(k3s_versions)
      and C(notices) (the clusters that keep a version the inventory does not ask for).
  type: dict
"""

from typing import Any

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.filter_errors import as_filter
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.cluster_plan import finish_plan, plan_clusters, summary_table
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.node_removal import plan_removal


def _cluster_plan(nodes: list[dict[str, Any]], releases: dict[str, str] | None = None,
                  partial: bool = False, keep_running: bool = False) -> dict[str, Any]:
    if not isinstance(nodes, list) or not all(isinstance(n, dict) and "host" in n for n in nodes):
        raise TypeError("cluster_plan expects a list of host records, each with a 'host' key")
    plan = plan_clusters(nodes, partial=bool(partial))
    return plan if releases is None else finish_plan(plan, dict(releases), keep_running=bool(keep_running))


def _cluster_summary(cluster: dict[str, Any], context: str = "") -> str:
    if not isinstance(cluster, dict) or "name" not in cluster:
        raise TypeError("cluster_summary expects one cluster of the plan (the cluster_plan fact)")
    return summary_table(cluster, context)


def _node_removal(cluster: dict[str, Any], remove: list[str], roles: dict[str, str],
                  unreachable: list[str] | None = None, allow_unreachable: bool = False,
                  allow_unsafe_etcd_size: bool = False) -> dict[str, Any]:
    if not isinstance(cluster, dict) or "inventory_servers" not in cluster:
        raise TypeError("node_removal expects one cluster of the plan (the cluster_plan fact)")
    if not isinstance(remove, list) or not isinstance(roles, dict):
        raise TypeError("node_removal expects remove as a list of hosts and roles as a dict of host: server|agent")
    return plan_removal(cluster, remove, roles, list(unreachable or []), bool(allow_unreachable),
                        bool(allow_unsafe_etcd_size))


class FilterModule:
    """Cluster planning filters."""

    def filters(self) -> dict[str, Any]:
        return {"cluster_plan": as_filter(_cluster_plan, (TypeError,)),
                "cluster_summary": as_filter(_cluster_summary, (TypeError,)),
                "node_removal": as_filter(_node_removal, (TypeError,))}
