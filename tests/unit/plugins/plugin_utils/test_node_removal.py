from __future__ import annotations

from typing import Any

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeforge.cluster.plugins.filter.cluster_plan import FilterModule
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.cluster_plan import plan_clusters
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.node_removal import etcd_members, plan_removal, quorum


def cluster(servers: list[str], distribution: str = "k3s", datastore: str = "etcd", name: str = "edge") -> dict[str, Any]:
    return {"name": name, "distribution": distribution, "datastore": datastore, "inventory_servers": servers,
            "first_server": servers[0] if servers else ""}


THREE = cluster(["s1", "s2", "s3"])
FIVE = cluster(["s1", "s2", "s3", "s4", "s5"])


def test_etcd_members_and_quorum() -> None:
    assert etcd_members(THREE)
    assert etcd_members(cluster(["cp"], "kubeadm", "sqlite"))
    assert not etcd_members(cluster(["s1"], datastore="sqlite"))
    assert not etcd_members(cluster(["s1", "s2"], datastore="external"))
    assert [quorum(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]


def test_agents_first_then_servers_last_listed_first_through_a_staying_server() -> None:
    plan = plan_removal(FIVE, ["s3", "a1", "s5"], {"s3": "server", "a1": "agent", "s5": "server"}, [])
    assert plan["errors"] == []
    assert [(r["host"], r["role"], r["etcd_member"]) for r in plan["removals"]] == [
        ("a1", "agent", False), ("s5", "server", True), ("s3", "server", True)]
    assert plan["via"] == "s1" and plan["servers_after"] == ["s1", "s2", "s4"] and plan["members_after"] == 3


def test_an_agent_alone_leaves_the_members_alone() -> None:
    plan = plan_removal(THREE, ["a1"], {"a1": "agent"}, [])
    assert plan["errors"] == [] and plan["members_after"] is None and plan["via"] == "s1"


def test_even_member_count_refused_unless_allowed() -> None:
    plan = plan_removal(THREE, ["s3"], {"s3": "server"}, [])
    assert len(plan["errors"]) == 1
    assert "leaves 2 etcd members (s1, s2)" in plan["errors"][0]
    assert "-e cluster_allow_unsafe_etcd_size=true" in plan["errors"][0]
    allowed = plan_removal(THREE, ["s3"], {"s3": "server"}, [], allow_unsafe_etcd_size=True)
    assert allowed["errors"] == [] and allowed["members_after"] == 2


def test_quorum_loss_refused_even_when_unsafe_sizes_are_allowed() -> None:
    # s2 is down: after removing s3, 1 of 2 members answers and 2 are needed
    plan = plan_removal(THREE, ["s3"], {"s3": "server"}, ["s2"], allow_unsafe_etcd_size=True)
    assert len(plan["errors"]) == 1
    assert "without quorum: 1 of the 2 members left answer (s1), 2 are needed. Bring s2 back" in plan["errors"][0]


def test_removing_a_dead_server_keeps_quorum_of_the_rest() -> None:
    plan = plan_removal(FIVE, ["s5", "s4"], {"s5": "server", "s4": "server"}, ["s5"], allow_unreachable=True)
    assert plan["errors"] == []
    assert [(r["host"], r["reachable"]) for r in plan["removals"]] == [("s5", False), ("s4", True)]


def test_unreachable_refused_unless_allowed() -> None:
    plan = plan_removal(THREE, ["a1"], {"a1": "agent"}, ["a1"])
    assert plan["errors"] == ["a1 does not answer, so it can be neither drained nor reset. To remove it anyway (its "
                              "Node deleted), run again with -e remove_node_allow_unreachable=true, and reset the "
                              "machine before it comes back. No host has been changed."]
    assert plan_removal(THREE, ["a1"], {"a1": "agent"}, ["a1"], allow_unreachable=True)["errors"] == []
    server = plan_removal(FIVE, ["s5"], {"s5": "server"}, ["s5"])
    assert "(its Node deleted, its etcd member with it)" in server["errors"][0]


def test_unreachable_kubeadm_control_plane_always_refused() -> None:
    hub = cluster(["cp1", "cp2", "cp3", "cp4"], "kubeadm", "sqlite", "hub")
    plan = plan_removal(hub, ["cp4"], {"cp4": "server"}, ["cp4"], allow_unreachable=True)
    assert len(plan["errors"]) == 1
    assert "cp4 does not answer, and it is a control plane of kubeadm cluster 'hub'" in plan["errors"][0]
    assert "etcdctl member remove" in plan["errors"][0]


def test_first_server_refused_with_the_next_one_named() -> None:
    plan = plan_removal(THREE, ["s1"], {"s1": "server"}, [], allow_unsafe_etcd_size=True)
    assert len(plan["errors"]) == 1
    assert plan["errors"][0].startswith("s1 is the first server of cluster 'edge'")
    assert "List another server (s2) first in the group that cluster_server_group names" in plan["errors"][0]


def test_every_server_refused_sqlite_included() -> None:
    lone = plan_removal(cluster(["s1"], datastore="sqlite", name="lab"), ["s1"], {"s1": "server"}, [])
    assert lone["errors"] == ["remove_node names every server of cluster 'lab' (s1): without a server the cluster is "
                              "gone. To take the whole cluster away use playbooks/reset.yml (-e reset_confirm=lab). "
                              "No host has been changed."]
    assert plan_removal(THREE, ["s1", "s2", "s3"], {h: "server" for h in ("s1", "s2", "s3")}, [])["errors"][0] \
        .startswith("remove_node names every server of cluster 'edge' (s1, s2, s3)")


def test_external_datastore_servers_are_not_members() -> None:
    plan = plan_removal(cluster(["s1", "s2"], datastore="external"), ["s2"], {"s2": "server"}, [])
    assert plan["errors"] == [] and plan["members_after"] is None
    assert plan["removals"] == [{"host": "s2", "role": "server", "etcd_member": False, "reachable": True}]


def test_no_staying_server_answers() -> None:
    plan = plan_removal(cluster(["s1", "s2"], datastore="external"), ["a1"], {"a1": "agent"}, ["s1", "s2"])
    assert plan["errors"] == ["no server of cluster 'edge' that stays answers (s1, s2); the Nodes are drained and "
                              "deleted through one. Bring one back first. No host has been changed."]


def test_filter_takes_a_cluster_of_the_plan() -> None:
    records = [{"host": h, "cluster": "edge", "distribution": "k3s", "datastore": "etcd", "roles": ["server"],
                "address": "10.0.0.%d" % i, "node_name": h, "api_endpoint": "",
                "inventory_servers": ["s1", "s2", "s3"], "inventory_first_server": "s1"}
               for i, h in enumerate(("s1", "s2", "s3"))]
    planned = plan_clusters(records, partial=True)["clusters"]["edge"]
    assert planned["inventory_servers"] == ["s1", "s2", "s3"]
    removal = FilterModule().filters()["node_removal"]
    plan = removal(planned, ["s3"], {"s3": "server"}, allow_unsafe_etcd_size=True)
    assert plan["errors"] == [] and plan["via"] == "s1"
    with pytest.raises(AnsibleFilterError, match="node_removal expects one cluster of the plan"):
        removal({"name": "x"}, ["s3"], {})
    with pytest.raises(AnsibleFilterError, match="remove as a list of hosts"):
        removal(planned, "s3", {})
