# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which nodes of one cluster playbooks/remove_node.yml may remove, in which order, through which server.

Pure: the inputs are one cluster of the plan (``cluster_plan``) and what the playbook learnt from the inventory and
from the hosts that answered. Every refusal names the host, the variable and the way out, and is raised before any
host changes.
"""
from __future__ import annotations

from typing import Any


def etcd_members(cluster: dict[str, Any]) -> bool:
    """Whether the servers of ``cluster`` are the members of its etcd cluster."""
    return cluster.get("distribution") == "kubeadm" or (
        cluster.get("distribution") == "k3s" and cluster.get("datastore") == "etcd")


def quorum(members: int) -> int:
    return members // 2 + 1


def plan_removal(cluster: dict[str, Any], remove: list[str], roles: dict[str, str], unreachable: list[str],
                 allow_unreachable: bool = False, allow_unsafe_etcd_size: bool = False) -> dict[str, Any]:
    """The removal of ``remove`` (hosts of ``cluster``) or the reasons it is refused.

    ``cluster`` needs ``name``, ``distribution``, ``datastore``, ``inventory_servers`` (the cluster's servers in
    inventory order) and ``first_server``; ``roles`` maps each host to remove to ``server`` or ``agent``;
    ``unreachable`` lists the cluster's hosts that did not answer (removed or not).

    Returns ``errors``, ``removals`` (dicts with ``host``, ``role``, ``etcd_member``, ``reachable``: the agents
    first, then the servers, the last listed first), ``via`` (the server that stays and answers, through which
    the Nodes are drained and deleted), ``servers_after`` and ``members_after`` (the etcd members left, or None).
    """
    name = str(cluster.get("name") or "default")
    servers = [str(h) for h in cluster.get("inventory_servers") or []]
    remove = [str(h) for h in remove]
    down = {str(h) for h in unreachable}
    errors: list[str] = []
    etcd = etcd_members(cluster)

    removing_servers = [h for h in servers if h in remove]
    staying = [h for h in servers if h not in remove]
    if servers and not staying:
        errors.append(f"remove_node names every server of cluster '{name}' ({', '.join(servers)}): without a "
                      "server the cluster is gone. To take the whole cluster away use playbooks/reset.yml "
                      f"(-e reset_confirm={name}). No host has been changed.")
    elif cluster.get("first_server") in removing_servers:
        first = str(cluster["first_server"])
        errors.append(f"{first} is the first server of cluster '{name}' (the first of its hosts in the server "
                      "group): site.yml joins every other node through it, so it cannot be removed while it is "
                      f"first. List another server ({staying[0]}) first in the group that cluster_server_group "
                      "names, then run remove_node again. No host has been changed.")

    for host in remove:
        k3s_member = etcd and roles.get(host) == "server" and cluster.get("distribution") == "k3s"
        if host in down and not allow_unreachable:
            errors.append(f"{host} does not answer, so it can be neither drained nor reset. To remove it anyway "
                          f"(its Node deleted{', its etcd member with it' if k3s_member else ''}), run again with "
                          "-e remove_node_allow_unreachable=true, and reset the machine before it comes back. No host "
                          "has been changed.")
        elif host in down and roles.get(host) == "server" and cluster.get("distribution") == "kubeadm":
            errors.append(f"{host} does not answer, and it is a control plane of kubeadm cluster '{name}': its "
                          "etcd member leaves the cluster through kubeadm reset on the host itself, which cannot run. "
                          "Bring the host back and run remove_node again (or take the member out yourself with "
                          "etcdctl member remove through a healthy control plane, then delete its Node). No host "
                          "has been changed.")

    members_after = None
    if etcd and removing_servers and staying:
        members_after = len(staying)
        live = [h for h in staying if h not in down]
        if len(live) < quorum(members_after):
            errors.append(f"removing {', '.join(removing_servers)} from cluster '{name}' would leave its etcd "
                          f"without quorum: {len(live)} of the {members_after} members left answer "
                          f"({', '.join(live) or 'none'}), {quorum(members_after)} are needed. Bring "
                          f"{', '.join(h for h in staying if h in down)} back first. No host has been changed.")
        elif (members_after < 3 or members_after % 2 == 0) and not allow_unsafe_etcd_size:
            errors.append(f"removing {', '.join(removing_servers)} from cluster '{name}' leaves {members_after} etcd "
                          f"member{'s' if members_after != 1 else ''} ({', '.join(staying)}): an etcd cluster needs "
                          "an odd number of members, 3 or more, to keep quorum when one fails. Add a server first "
                          "(site.yml with the new host in the server group), or accept the risk with "
                          "-e cluster_allow_unsafe_etcd_size=true. No host has been changed.")

    via = next((h for h in staying if h not in down), "")
    if servers and staying and not via and not errors:
        errors.append(f"no server of cluster '{name}' that stays answers ({', '.join(staying)}); the Nodes are "
                      "drained and deleted through one. Bring one back first. No host has been changed.")

    agents = [h for h in remove if roles.get(h) == "agent"]
    removals = [{"host": h, "role": "agent", "etcd_member": False, "reachable": h not in down} for h in agents]
    removals += [{"host": h, "role": "server", "etcd_member": etcd, "reachable": h not in down}
                 for h in reversed(removing_servers)]
    return {"errors": errors, "removals": removals, "via": via, "servers_after": staying,
            "members_after": members_after}
