from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.cluster_plan import plan_clusters


def node(host: str, cluster: str = "default", roles: tuple[str, ...] = ("server",), **extra: Any) -> dict[str, Any]:
    record = {"host": host, "cluster": cluster, "distribution": "k3s", "datastore": "sqlite",
              "roles": list(roles), "address": f"10.0.0.{len(host)}", "node_name": host, "api_endpoint": ""}
    record.update(extra)
    return record


def kubeadm_node(host: str, cluster: str = "hub", roles: tuple[str, ...] = ("server",), **extra: Any) -> dict[str, Any]:
    record = {"distribution": "kubeadm", "kubernetes_version": "v1.35.2", "pod_cidr": "10.244.0.0/16",
              "service_cidr": "10.96.0.0/12"}
    record.update(extra)
    return node(host, cluster, roles, **record)


def test_single_server_cluster() -> None:
    plan = plan_clusters([node("s1")])
    assert plan["errors"] == []
    cluster = plan["clusters"]["default"]
    assert cluster["servers"] == ["s1"] and cluster["agents"] == []
    assert cluster["first_server"] == "s1"
    assert cluster["api_endpoint"] == "10.0.0.2"


def test_many_clusters_in_one_inventory_keep_inventory_order() -> None:
    plan = plan_clusters([node("b1", "b"), node("a1", "a"), node("b2", "b", roles=("agent",))])
    assert plan["errors"] == []
    assert list(plan["clusters"]) == ["b", "a"]
    assert plan["clusters"]["b"]["servers"] == ["b1"]
    assert plan["clusters"]["b"]["agents"] == ["b2"]


def test_explicit_endpoint_wins() -> None:
    plan = plan_clusters([node("s1", api_endpoint="k8s.example.net")])
    assert plan["clusters"]["default"]["api_endpoint"] == "k8s.example.net"


@pytest.mark.parametrize("nodes, message", [
    ([node("s1"), node("s2")], "the sqlite datastore holds one server"),
    ([node("w1", roles=("agent",))], "no server; hosts w1 are agents"),
    ([node("s1", roles=("server", "agent"))], "in both the server and the agent group"),
    ([node("s1", roles=())], "in neither the server group nor the agent group"),
    ([node("s1", cluster="")], "cluster_name is empty"),
    ([node("s1"), node("w1", roles=("agent",), datastore="etcd")], "cluster_datastore differs between hosts"),
    ([node("s1", distribution="rke2")], "cluster_distribution must be one of k3s, kubeadm"),
    ([node("s1", datastore="mongo")], "cluster_datastore must be one of sqlite, etcd, external"),
    ([node("s1"), node("w1", roles=("agent",), node_name="s1")], "would both register as node 's1'"),
    ([node("s1", api_endpoint="a"), node("w1", roles=("agent",), api_endpoint="b")], "cluster_api_endpoint differs"),
    ([kubeadm_node("c1", kubernetes_version="")], "needs cluster_kubernetes_version pinned"),
    ([kubeadm_node("c1", kubernetes_version="stable")], "got 'stable'"),
    ([kubeadm_node("c1"), kubeadm_node("w1", roles=("agent",), kubernetes_version="v1.35.1")],
     "cluster_kubernetes_version differs between hosts (v1.35.1, v1.35.2)"),
    ([kubeadm_node("c1"), kubeadm_node("c2"), kubeadm_node("c3")],
     "3 control planes listed (c1, c2, c3) but cluster_api_endpoint is not set"),
    ([kubeadm_node("c1", api_endpoint="lb"), kubeadm_node("c2", api_endpoint="lb")],
     "stacked etcd, which needs an odd number"),
    ([kubeadm_node("c1", pod_cidr="10.96.0.0/16")],
     "the pod subnet 10.96.0.0/16 and the service subnet 10.96.0.0/12 overlap"),
    ([kubeadm_node("c1", pod_cidr="10.244.0.0/33")], "cluster_pod_cidr: '10.244.0.0/33'"),
    ([kubeadm_node("c1"), kubeadm_node("w1", roles=("agent",), pod_cidr="10.32.0.0/16")],
     "cluster_pod_cidr differs between hosts"),
    ([node("s1", datastore="etcd")], "odd number of servers, 3 or more"),
    ([node(f"s{i}", datastore="etcd") for i in range(4)], "4 listed"),
    ([node("s1", datastore="external")], "cluster_datastore_endpoint is empty on s1"),
    ([node("s1", token_fingerprint="aa"), node("w1", roles=("agent",), token_fingerprint="bb")],
     "cluster_token is not the same on every host"),
])
def test_invalid_inventories_are_explained(nodes: list[dict[str, Any]], message: str) -> None:
    errors = plan_clusters(nodes)["errors"]
    assert any(message in e for e in errors), errors


def test_same_node_name_in_different_clusters_is_fine() -> None:
    plan = plan_clusters([node("a", "one", node_name="n"), node("b", "two", node_name="n")])
    assert plan["errors"] == []


def test_etcd_with_three_servers_and_agents() -> None:
    nodes = [node(f"s{i}", datastore="etcd") for i in range(3)] + [node("w1", roles=("agent",), datastore="etcd")]
    plan = plan_clusters(nodes)
    assert plan["errors"] == []
    assert plan["clusters"]["default"]["first_server"] == "s0"


def test_even_etcd_size_with_explicit_override() -> None:
    nodes = [node(f"s{i}", datastore="etcd", allow_unsafe_etcd_size=True) for i in range(2)]
    assert plan_clusters(nodes)["errors"] == []


def test_token_given_once_or_everywhere_alike_is_fine() -> None:
    nodes = [node("s1", token_fingerprint="aa"), node("w1", roles=("agent",)),
             node("w2", roles=("agent",), token_fingerprint="aa"), node("x1", "other", token_fingerprint="bb")]
    assert plan_clusters(nodes)["errors"] == []


def test_external_datastore_with_endpoint() -> None:
    nodes = [node(f"s{i}", datastore="external", datastore_endpoint_set=True) for i in range(2)]
    assert plan_clusters(nodes)["errors"] == []


def test_kubeadm_and_k3s_clusters_in_one_inventory() -> None:
    plan = plan_clusters([kubeadm_node("c1"), kubeadm_node("w1", roles=("agent",)), node("edge1", "edge")])
    assert plan["errors"] == []
    hub = plan["clusters"]["hub"]
    assert hub["distribution"] == "kubeadm" and hub["first_server"] == "c1" and hub["agents"] == ["w1"]
    assert hub["kubernetes_version"] == "v1.35.2"
    assert (hub["pod_cidr"], hub["service_cidr"]) == ("10.244.0.0/16", "10.96.0.0/12")
    assert plan["clusters"]["edge"]["distribution"] == "k3s"


def test_kubeadm_ha_control_planes_behind_an_endpoint() -> None:
    nodes = [kubeadm_node(f"c{i}", api_endpoint="172.30.98.10") for i in range(1, 4)]
    nodes.append(kubeadm_node("w1", roles=("agent",), api_endpoint="172.30.98.10"))
    plan = plan_clusters(nodes)
    assert plan["errors"] == []
    hub = plan["clusters"]["hub"]
    assert hub["servers"] == ["c1", "c2", "c3"] and hub["first_server"] == "c1"
    assert hub["api_endpoint"] == "172.30.98.10"


def test_kubeadm_two_control_planes_when_the_risk_is_accepted() -> None:
    nodes = [kubeadm_node(f"c{i}", api_endpoint="lb", allow_unsafe_etcd_size=True) for i in (1, 2)]
    assert plan_clusters(nodes)["errors"] == []
