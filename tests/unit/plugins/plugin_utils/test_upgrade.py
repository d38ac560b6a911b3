from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.upgrade import (
    UpgradeError,
    api_nodes,
    batch_problem,
    batch_size,
    describe,
    hops,
    intermediate_minors,
    kept_version,
    minors_to_resolve,
    minor,
    node_needs,
    node_problems,
    parse,
    plan_upgrade,
    suc_plans,
    version_in,
)


def test_versions_parse_and_sort() -> None:
    assert parse("v1.35.1+k3s1") == (1, 35, 1, 1, 1)
    assert parse("v1.35.0-rc1+k3s1") < parse("v1.35.0+k3s1") < parse("v1.35.0+k3s2") < parse("v1.35.1+k3s1")
    assert parse("v1.34.9+k3s1") < parse("v1.35.0+k3s1")
    assert parse("stable") is None and parse("") is None
    assert version_in("k3s version v1.34.2+k3s1 (1a2b3c4d)") == "v1.34.2+k3s1"
    assert version_in("Kubernetes v1.35.2") == "v1.35.2"
    assert version_in("nothing here") == ""
    assert minor("v1.33.6+k3s1") == "v1.33" and minor("x") == ""


def test_site_installs_the_inventory_version_on_a_new_cluster() -> None:
    assert kept_version("edge", "v1.35.1+k3s1", {}, "cluster_k3s_version: stable") == {
        "version": "v1.35.1+k3s1", "notice": "", "error": ""}


def test_site_keeps_the_running_version_and_names_the_upgrade() -> None:
    kept = kept_version("edge", "v1.35.1+k3s1", {"s1": "v1.34.2+k3s1", "a1": "v1.34.2+k3s1"},
                        "cluster_k3s_version: stable")
    assert kept["version"] == "v1.34.2+k3s1" and kept["error"] == ""
    assert "cluster 'edge' runs v1.34.2+k3s1" in kept["notice"]
    assert "v1.35.1+k3s1 (cluster_k3s_version: stable)" in kept["notice"]
    assert "ansible-playbook kubeforge.cluster.upgrade" in kept["notice"]


def test_site_keeps_a_newer_running_version_and_calls_the_inventory_a_downgrade() -> None:
    kept = kept_version("hub", "v1.34.2", {"cp1": "v1.35.2"}, "cluster_kubernetes_version")
    assert kept["version"] == "v1.35.2"
    assert "downgrades" in kept["notice"] and "Set cluster_kubernetes_version to v1.35.2" in kept["notice"]


def test_the_same_version_says_nothing() -> None:
    assert kept_version("edge", "v1.35.1+k3s1", {"s1": "v1.35.1+k3s1"}, "x") == {
        "version": "v1.35.1+k3s1", "notice": "", "error": ""}


def test_an_unfinished_upgrade_stops_the_build_with_the_hosts_named() -> None:
    kept = kept_version("edge", "v1.35.1+k3s1", {"s1": "v1.35.1+k3s1", "s2": "v1.34.2+k3s1"}, "x")
    assert kept["notice"] == ""
    assert "s1 v1.35.1+k3s1, s2 v1.34.2+k3s1" in kept["error"]
    assert "upgrade did not finish" in kept["error"] and "kubeforge.cluster.upgrade" in kept["error"]


def test_an_inventory_version_that_is_no_version_is_left_to_the_plan_checks() -> None:
    assert kept_version("hub", "stable", {"cp1": "v1.35.2"}, "x")["notice"] == ""


def test_intermediate_minors() -> None:
    assert intermediate_minors("v1.33.6+k3s1", "v1.35.1+k3s1") == ["v1.34"]
    assert intermediate_minors("v1.34.2+k3s1", "v1.35.1+k3s1") == []
    assert intermediate_minors("v1.35.1+k3s1", "v1.35.3+k3s1") == []
    with pytest.raises(UpgradeError):
        intermediate_minors("v1.35.1", "v2.0.0")


def test_one_minor_is_one_hop() -> None:
    assert hops("edge", "v1.34.2+k3s1", "v1.35.1+k3s1", {}, False) == {"hops": ["v1.35.1+k3s1"], "problems": []}
    assert hops("edge", "v1.35.1+k3s1", "v1.35.1+k3s1", {}, False) == {"hops": [], "problems": []}


def test_a_downgrade_is_refused() -> None:
    found = hops("edge", "v1.35.1+k3s1", "v1.34.2+k3s1", {}, True)
    assert found["hops"] == [] and "does not support downgrades" in found["problems"][0]


def test_a_skipped_minor_is_refused_unless_multi_hop_is_allowed() -> None:
    refused = hops("edge", "v1.33.6+k3s1", "v1.35.1+k3s1", {"v1.34": "v1.34.2+k3s1"}, False)
    assert refused["hops"] == []
    assert "skips v1.34" in refused["problems"][0] and "upgrade_allow_multi_hop: true" in refused["problems"][0]
    allowed = hops("edge", "v1.33.6+k3s1", "v1.35.1+k3s1", {"v1.34": "v1.34.2+k3s1"}, True)
    assert allowed == {"hops": ["v1.34.2+k3s1", "v1.35.1+k3s1"], "problems": []}


def test_multi_hop_needs_a_release_of_every_minor_in_between() -> None:
    found = hops("hub", "v1.33.1", "v1.35.2", {}, True)
    assert "no release of v1.34" in found["problems"][0] and "upgrade_hops" in found["problems"][0]
    wrong = hops("hub", "v1.33.1", "v1.35.2", {"v1.34": "v1.33.9"}, True)
    assert "is a v1.33 release" in wrong["problems"][0]


def test_more_hops_than_one_run_makes_are_refused() -> None:
    newest = {"v1.31": "v1.31.9", "v1.32": "v1.32.9", "v1.33": "v1.33.9", "v1.34": "v1.34.9"}
    found = hops("hub", "v1.30.1", "v1.35.2", newest, True)
    assert "takes 5 hops" in found["problems"][0] and "upgrade to v1.33.9 first" in found["problems"][0]


def nodes(*items: tuple[str, str, bool, str]) -> list[dict[str, Any]]:
    return [{"name": n, "role": r, "ready": ready, "version": v} for n, r, ready, v in items]


def test_a_healthy_cluster_can_be_upgraded() -> None:
    assert node_problems("edge", nodes(("s1", "server", True, "v1.34.2+k3s1"), ("s2", "server", True, "v1.34.2+k3s1"),
                                       ("s3", "server", True, "v1.34.2+k3s1"), ("a1", "agent", True, "v1.33.6+k3s1")),
                         "etcd") == []


def test_nodes_not_ready_are_named() -> None:
    found = node_problems("edge", nodes(("s1", "server", True, "v1.34.2+k3s1"), ("a1", "agent", False, "v1.34.2+k3s1")),
                          "sqlite")
    assert len(found) == 1 and "Nodes a1 are not Ready" in found[0]


def test_an_etcd_cluster_without_quorum_margin_is_refused() -> None:
    found = node_problems("edge", nodes(("s1", "server", True, "v1.34.2+k3s1"), ("s2", "server", True, "v1.34.2+k3s1"),
                                        ("s3", "server", False, "v1.34.2+k3s1")), "etcd")
    assert any("2 of its 3 etcd members" in p and "lose quorum" in p for p in found)
    # One server alone has no quorum to keep: it is upgraded in place.
    assert node_problems("solo", nodes(("s1", "server", True, "v1.34.2+k3s1")), "etcd") == []


def test_skew_already_broken_is_refused() -> None:
    apart = node_problems("edge", nodes(("s1", "server", True, "v1.33.6+k3s1"), ("s2", "server", True, "v1.35.1+k3s1"),
                                        ("s3", "server", True, "v1.35.1+k3s1")), "etcd")
    assert any("more than one minor apart" in p for p in apart)
    newer = node_problems("edge", nodes(("s1", "server", True, "v1.34.2+k3s1"), ("a1", "agent", True, "v1.35.1+k3s1")),
                          "sqlite")
    assert any("a1 runs kubelet v1.35.1+k3s1, newer than control plane s1" in p for p in newer)
    old = node_problems("hub", nodes(("cp", "server", True, "v1.35.2"), ("w", "agent", True, "v1.31.4")), "etcd")
    assert any("4 minors older" in p for p in old)
    # A newer patch build of the same release is not newer.
    assert node_problems("edge", nodes(("s1", "server", True, "v1.35.1+k3s1"), ("a1", "agent", True, "v1.35.1+k3s2")),
                         "sqlite") == []


@pytest.mark.parametrize("value", [1, "3", "20%", "100%", " 5 "])
def test_batch_sizes(value: Any) -> None:
    assert batch_problem(value) == ""


@pytest.mark.parametrize("value", [0, "0%", "101%", "-1", "a third", "20 %", None])
def test_bad_batch_sizes(value: Any) -> None:
    assert "upgrade_agent_batch is" in batch_problem(value)


def test_a_node_needs_a_hop_until_both_its_kubelet_and_binary_reached_it() -> None:
    assert node_needs("v1.34.2+k3s1", "v1.34.2+k3s1", "v1.35.1+k3s1")
    assert node_needs("v1.34.2+k3s1", "v1.35.1+k3s1", "v1.35.1+k3s1")
    assert node_needs("", "v1.35.1+k3s1", "v1.35.1+k3s1")
    assert not node_needs("v1.35.1+k3s1", "v1.35.1+k3s1", "v1.35.1+k3s1")
    assert not node_needs("v1.35.1+k3s1", "v1.35.1+k3s1", "v1.34.2+k3s1")


def test_the_description_names_hops_and_order() -> None:
    text = describe("edge", "v1.33.6+k3s1", ["v1.34.2+k3s1", "v1.35.1+k3s1"], ["s1", "s2"], ["a1"], "20%", True)
    assert text.startswith("cluster 'edge': v1.33.6+k3s1 -> v1.34.2+k3s1 -> v1.35.1+k3s1, servers one at a time (s1, s2)")
    assert "agents in batches of 20% (a1)" in text and "before any node starts the next" in text
    assert text.endswith("an etcd snapshot first.")
    assert describe("edge", "v1.35.1+k3s1", [], [], [], 1, False) == "cluster 'edge' runs v1.35.1+k3s1 already: nothing to upgrade."


def k3s_cluster(**extra: Any) -> dict[str, Any]:
    cluster = {"name": "edge", "distribution": "k3s", "datastore": "etcd", "k3s_version": "v1.35.1+k3s1",
               "servers": ["s1", "s2", "s3"], "agents": ["a1"], "servers_left_out": [], "agents_left_out": [],
               "nodes": {h: {"node_name": h.upper() if h == "s2" else h} for h in ("s1", "s2", "s3", "a1")},
               "running_versions": {h: "v1.34.2+k3s1" for h in ("s1", "s2", "s3", "a1")}}
    cluster.update(extra)
    return cluster


def item(name: str, version: str, ready: bool = True, server: bool = True) -> dict[str, Any]:
    labels = {"node-role.kubernetes.io/control-plane": "true"} if server else {}
    return {"metadata": {"name": name, "labels": labels},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                       "nodeInfo": {"kubeletVersion": version}}}


def items(version: str = "v1.34.2+k3s1") -> list[dict[str, Any]]:
    return [item("s1", version), item("s2", version), item("s3", version), item("a1", version, server=False)]


def test_api_nodes_reads_role_readiness_and_version() -> None:
    assert api_nodes([item("a1", "v1.34.2+k3s1", ready=False, server=False)]) == [
        {"name": "a1", "role": "agent", "ready": False, "version": "v1.34.2+k3s1", "upgrading": ""}]


def test_an_upgrade_by_one_minor() -> None:
    plan = plan_upgrade(k3s_cluster(), items(), {}, False, "20%")
    assert plan["problems"] == [] and plan["from"] == "v1.34.2+k3s1" and plan["hops"] == ["v1.35.1+k3s1"]
    assert plan["steps"] == [{"servers": ["s1", "s2", "s3"], "agents": ["a1"]}]
    assert plan["snapshot"] is True and "v1.34.2+k3s1 -> v1.35.1+k3s1" in plan["description"]


def test_a_finished_upgrade_has_nothing_to_do() -> None:
    done = plan_upgrade(k3s_cluster(running_versions={h: "v1.35.1+k3s1" for h in ("s1", "s2", "s3", "a1")}),
                        items("v1.35.1+k3s1"), {}, False, 1)
    assert done["problems"] == [] and done["hops"] == [] and done["steps"] == [] and done["snapshot"] is False
    assert "nothing to upgrade" in done["description"]


def test_a_stopped_upgrade_resumes_where_it_stopped() -> None:
    running = {"s1": "v1.35.1+k3s1", "s2": "v1.34.2+k3s1", "s3": "v1.34.2+k3s1", "a1": "v1.34.2+k3s1"}
    nodes = [item("s1", "v1.35.1+k3s1"), item("s2", "v1.34.2+k3s1"), item("s3", "v1.34.2+k3s1"),
             item("a1", "v1.34.2+k3s1", server=False)]
    plan = plan_upgrade(k3s_cluster(running_versions=running), nodes, {}, False, 1)
    assert plan["problems"] == [] and plan["steps"] == [{"servers": ["s2", "s3"], "agents": ["a1"]}]
    # A binary replaced but a Node not yet at the version still needs the step.
    running["s2"] = "v1.35.1+k3s1"
    again = plan_upgrade(k3s_cluster(running_versions=running), nodes, {}, False, 1)
    assert again["steps"][0]["servers"] == ["s2", "s3"]


def test_multi_hop_steps_every_node_through_each_minor() -> None:
    cluster = k3s_cluster(running_versions={h: "v1.33.6+k3s1" for h in ("s1", "s2", "s3", "a1")})
    assert minors_to_resolve(cluster, items("v1.33.6+k3s1")) == ["v1.34"]
    refused = plan_upgrade(cluster, items("v1.33.6+k3s1"), {"v1.34": "v1.34.2+k3s1"}, False, 1)
    assert refused["steps"] == [] and "skips v1.34" in refused["problems"][0]
    plan = plan_upgrade(cluster, items("v1.33.6+k3s1"), {"v1.34": "v1.34.2+k3s1"}, True, 1)
    assert plan["hops"] == ["v1.34.2+k3s1", "v1.35.1+k3s1"] and len(plan["steps"]) == 2
    assert all(step == {"servers": ["s1", "s2", "s3"], "agents": ["a1"]} for step in plan["steps"])


def test_the_upgrade_plan_refuses_before_anything_changes() -> None:
    plan = plan_upgrade(k3s_cluster(agents_left_out=["a2"]), items()[:3], {}, False, "0")
    text = " ".join(plan["problems"])
    assert "a2 of the cluster is left out of the run" in text
    assert "a1 has no Node in the cluster's API" in text
    assert "upgrade_agent_batch is '0'" in text
    assert plan["steps"] == [] and plan["hops"] == []


def test_a_node_newer_than_the_target_is_a_downgrade() -> None:
    running = {"s1": "v1.35.2+k3s1", "s2": "v1.34.2+k3s1", "s3": "v1.34.2+k3s1", "a1": "v1.34.2+k3s1"}
    plan = plan_upgrade(k3s_cluster(running_versions=running), items(), {}, False, 1)
    assert any("s1 already runs newer than v1.35.1+k3s1" in p for p in plan["problems"])


def test_a_cluster_that_does_not_run_has_nothing_to_upgrade() -> None:
    plan = plan_upgrade(k3s_cluster(running_versions={}), [], {}, False, 1)
    assert any("does not run" in p for p in plan["problems"])
    assert minors_to_resolve(k3s_cluster(running_versions={}), []) == []


def test_a_node_that_stopped_half_way_is_named_with_the_fix() -> None:
    running = {"s1": "v1.35.1+k3s1", "s2": "v1.34.2+k3s1", "s3": "v1.34.2+k3s1", "a1": "v1.34.2+k3s1"}
    nodes = [item("s1", "v1.34.2+k3s1", ready=False), item("s2", "v1.34.2+k3s1"), item("s3", "v1.34.2+k3s1"),
             item("a1", "v1.34.2+k3s1", server=False)]
    plan = plan_upgrade(k3s_cluster(running_versions=running), nodes, {}, False, 1)
    text = " ".join(plan["problems"])
    assert "Nodes s1 are not Ready" in text
    assert "s1 runs a newer k3s binary than its Node reports: its upgrade stopped half-way" in text
    assert "journalctl -u k3s or k3s-agent" in text and "start K3s there" in text
    assert plan["steps"] == []


def kubeadm_cluster(**extra: Any) -> dict[str, Any]:
    # A kubeadm cluster's plan: its datastore setting means nothing (the control planes run stacked etcd members).
    settings: dict[str, Any] = {"distribution": "kubeadm", "datastore": "sqlite", "k3s_version": "",
                                "kubernetes_version": "v1.35.2",
                                "running_versions": {h: "v1.34.3" for h in ("s1", "s2", "s3", "a1")}}
    return k3s_cluster(**dict(settings, **extra))


def test_a_kubeadm_upgrade_takes_no_k3s_snapshot_and_keeps_etcd_quorum() -> None:
    plan = plan_upgrade(kubeadm_cluster(), items("v1.34.3"), {}, False, 1)
    assert plan["problems"] == [] and plan["hops"] == ["v1.35.2"] and plan["snapshot"] is False
    assert plan["steps"] == [{"servers": ["s1", "s2", "s3"], "agents": ["a1"]}]
    nodes = items("v1.34.3")
    nodes[1] = item("s2", "v1.34.3", ready=False)
    refused = plan_upgrade(kubeadm_cluster(), nodes, {}, False, 1)
    assert any("etcd would lose quorum" in p for p in refused["problems"])


def test_a_kubeadm_control_plane_whose_api_server_moved_before_its_kubelet() -> None:
    # s1's static Pods run v1.35.2 (kubeadm upgrade apply ran), its kubelet still v1.34.3: the step is not done.
    running = {"s1": "v1.35.2", "s2": "v1.34.3", "s3": "v1.34.3", "a1": "v1.34.3"}
    plan = plan_upgrade(kubeadm_cluster(running_versions=running), items("v1.34.3"), {}, False, 1)
    assert plan["problems"] == [] and plan["steps"][0]["servers"] == ["s1", "s2", "s3"]
    nodes = items("v1.34.3")
    nodes[0] = item("s1", "v1.34.3", ready=False)
    stopped = plan_upgrade(kubeadm_cluster(running_versions=running), nodes, {}, False, 1)
    text = " ".join(stopped["problems"])
    assert "s1 runs a newer API server or kubelet than its Node reports" in text
    assert "journalctl -u kubelet" in text and "start the kubelet there" in text


def annotated(node: dict[str, Any], version: str) -> dict[str, Any]:
    node["metadata"]["annotations"] = {"kubeforge.io/upgrading": version}
    return node


def test_a_node_left_cordoned_at_the_target_is_finished() -> None:
    running = {h: "v1.35.1+k3s1" for h in ("s1", "s2", "s3", "a1")}
    nodes = items("v1.35.1+k3s1")
    nodes[1] = annotated(nodes[1], "v1.35.1+k3s1")
    plan = plan_upgrade(k3s_cluster(running_versions=running), nodes, {}, False, 1)
    assert plan["problems"] == [] and plan["hops"] == ["v1.35.1+k3s1"]
    assert plan["steps"] == [{"servers": ["s2"], "agents": []}]
    assert "A stopped run left s2 cordoned" in plan["description"]


def test_a_node_left_cordoned_half_way_through_the_hops_finishes_in_its_hop() -> None:
    running = {"s1": "v1.34.2+k3s1", "s2": "v1.34.2+k3s1", "s3": "v1.33.6+k3s1", "a1": "v1.33.6+k3s1"}
    nodes = [item("s1", "v1.34.2+k3s1"), annotated(item("s2", "v1.34.2+k3s1"), "v1.34.2+k3s1"),
             item("s3", "v1.33.6+k3s1"), item("a1", "v1.33.6+k3s1", server=False)]
    plan = plan_upgrade(k3s_cluster(running_versions=running), nodes, {"v1.34": "v1.34.2+k3s1"}, True, 1)
    assert plan["problems"] == []
    assert plan["steps"] == [{"servers": ["s2", "s3"], "agents": ["a1"]},
                             {"servers": ["s1", "s2", "s3"], "agents": ["a1"]}]
    # A mark for a version the path does not hold is finished in the last hop.
    nodes[1] = annotated(item("s2", "v1.34.2+k3s1"), "v1.34.1+k3s1")
    other = plan_upgrade(k3s_cluster(running_versions=running), nodes, {"v1.34": "v1.34.2+k3s1"}, True, 1)
    assert other["steps"][0]["servers"] == ["s3"] and "s2" in other["steps"][1]["servers"]


def test_a_batch_share_rounds_up_and_stays_within_the_agents() -> None:
    assert batch_size("20%", 8) == 2 and batch_size("20%", 2) == 1 and batch_size("20%", 10) == 2
    assert batch_size("100%", 3) == 3 and batch_size(5, 3) == 3 and batch_size("2", 8) == 2
    assert batch_size("20%", 0) == 1
    with pytest.raises(UpgradeError, match="upgrade_agent_batch is '0%'"):
        batch_size("0%", 8)


def test_the_controller_plans_follow_the_upgrade_settings() -> None:
    cluster = k3s_cluster(agents=["a1", "a2", "a3", "a4", "a5", "a6"], agents_left_out=[])
    server, agent = suc_plans(cluster, "v1.35.1+k3s1", "50%", True, 120, 30, "rancher/k3s-upgrade", "system-upgrade")
    assert server["apiVersion"] == "upgrade.cattle.io/v1" and server["kind"] == "Plan"
    assert server["metadata"]["name"] == "kubeforge-edge-server" and server["metadata"]["namespace"] == "system-upgrade"
    assert server["spec"]["concurrency"] == 1 and server["spec"]["cordon"] is True and "drain" not in server["spec"]
    assert server["spec"]["nodeSelector"]["matchExpressions"] == [
        {"key": "node-role.kubernetes.io/control-plane", "operator": "In", "values": ["true"]}]
    assert server["spec"]["version"] == agent["spec"]["version"] == "v1.35.1+k3s1"
    assert server["spec"]["serviceAccountName"] == "system-upgrade"
    assert agent["spec"]["concurrency"] == 3
    assert agent["spec"]["prepare"] == {"image": "rancher/k3s-upgrade", "args": ["prepare", "kubeforge-edge-server"]}
    assert agent["spec"]["drain"] == {"ignoreDaemonSets": True, "deleteEmptydirData": True, "timeout": "120s",
                                      "gracePeriod": 30}
    assert agent["spec"]["nodeSelector"]["matchExpressions"] == [
        {"key": "node-role.kubernetes.io/control-plane", "operator": "DoesNotExist"}]
    # Without the drain the agents are only cordoned; a grace period of -1 leaves the pods' own.
    _, cordoned = suc_plans(cluster, "v1.35.1+k3s1", 1, False, 120, -1, "mirror/k3s-upgrade", "suc")
    assert cordoned["spec"]["cordon"] is True and "drain" not in cordoned["spec"]
    _, kept = suc_plans(cluster, "v1.35.1+k3s1", 1, True, 300, -1, "mirror/k3s-upgrade", "suc")
    assert "gracePeriod" not in kept["spec"]["drain"] and kept["metadata"]["namespace"] == "suc"


def test_the_controller_plans_are_for_k3s_only() -> None:
    with pytest.raises(UpgradeError, match="moves K3s nodes only"):
        suc_plans(kubeadm_cluster(), "v1.35.2", 1, True, 300, -1, "rancher/k3s-upgrade", "system-upgrade")
