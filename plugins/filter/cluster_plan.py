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
"""

EXAMPLES = r"""
- name: Plan the clusters
  ansible.builtin.set_fact:
    plan: "{{ records | kubeforge.cluster.cluster_plan }}"
"""

RETURN = r"""
_value:
  description: C(clusters) (a dict by cluster name with servers, agents, first_server, api_endpoint) and C(errors).
  type: dict
"""

from typing import Any

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.filter_errors import as_filter
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.cluster_plan import plan_clusters


def _cluster_plan(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    if not isinstance(nodes, list) or not all(isinstance(n, dict) and "host" in n for n in nodes):
        raise TypeError("cluster_plan expects a list of host records, each with a 'host' key")
    return plan_clusters(nodes)


class FilterModule:
    """Cluster planning filters."""

    def filters(self) -> dict[str, Any]:
        return {"cluster_plan": as_filter(_cluster_plan, (TypeError,))}
