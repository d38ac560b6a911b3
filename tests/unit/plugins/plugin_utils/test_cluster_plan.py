from __future__ import annotations

import typing as t
from typing import Any

import pytest

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.cluster_plan import (
    endpoint_error,
    finish_plan,
    node_name_error,
    plan_clusters,
    summary_table,
)


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


def test_each_node_says_which_backup_timers_it_has() -> None:
    plan = plan_clusters([node("s1", backup_timers=["kubeforge-k3s-sqlite-backup.timer"]), node("s2", cluster="b")])
    assert plan["clusters"]["default"]["nodes"]["s1"]["backup_timers"] == ["kubeforge-k3s-sqlite-backup.timer"]
    assert plan["clusters"]["b"]["nodes"]["s2"]["backup_timers"] == []


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
    ([kubeadm_node("c1", pod_cidr="10.244.0.0/33")], "cluster_pod_cidr '10.244.0.0/33' is not a network"),
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


def test_load_balancers_and_datastores_are_planned_with_their_cluster() -> None:
    plan = plan_clusters([node("s1", datastore="external", datastore_endpoint_set=True, api_endpoint="fd00::10"),
                          node("lb1", roles=("loadbalancer",), address="10.0.1.1"),
                          node("db1", roles=("datastore",), address="10.0.2.1")])
    assert plan["errors"] == []
    cluster = plan["clusters"]["default"]
    assert cluster["loadbalancers"] == ["lb1"] and cluster["datastores"] == ["db1"]
    assert cluster["hosts"] == ["s1"], "load balancers and datastores are not nodes"
    assert cluster["nodes"]["lb1"]["role"] == "loadbalancer" and cluster["nodes"]["lb1"]["address"] == "10.0.1.1"
    assert cluster["api_url"] == "https://[fd00::10]:6443" and cluster["api_hostport"] == "[fd00::10]:6443"


def test_a_service_host_of_an_unknown_cluster_is_named() -> None:
    plan = plan_clusters([node("s1"), node("lb1", cluster="other", roles=("loadbalancer",))])
    assert any("lb1: it is a loadbalancer host of cluster 'other'" in e and "api_lb_cluster" in e
               for e in plan["errors"])


@pytest.mark.parametrize("ports, message", [
    ((6443, 7443), "cluster_api_port differs between hosts (6443, 7443)"),
    ((0, 0), "cluster_api_port must be a port number from 1 to 65535, got 0"),
    (("https", "https"), "got 'https'"),
    ((True, True), "got True"),
])
def test_api_port_is_checked_across_the_cluster(ports: tuple[object, object], message: str) -> None:
    plan = plan_clusters([node("s1", api_port=ports[0]), node("w1", roles=("agent",), api_port=ports[1])])
    assert any(message in e for e in plan["errors"]), plan["errors"]


def test_api_port_as_text_is_accepted() -> None:
    plan = plan_clusters([node("s1", api_port="7443")])
    assert plan["errors"] == [] and plan["clusters"]["default"]["api_url"] == "https://10.0.0.2:7443"


def test_release_keys_and_finishing_the_plan() -> None:
    key = "stable https://update.k3s.io/v1-release/channels"
    plan = plan_clusters([node("s1", release_key=key, cgroup_version=1),
                          kubeadm_node("c1", release_key=key, cgroup_version=1, allow_cgroup_v1=True)])
    assert plan["release_keys"] == [key]
    done = finish_plan(plan, {key: "v1.35.1+k3s1"})
    assert done["clusters"]["default"]["k3s_version"] == "v1.35.1+k3s1"
    assert done["clusters"]["default"]["kube_minor"] == 35 and done["clusters"]["hub"]["kube_minor"] == 35
    assert done["k3s_versions"] == ["v1.35.1+k3s1"]
    assert [e for e in done["errors"] if "cgroup v1: s1." in e], "s1 runs a 1.35 kubelet on cgroup v1 without opt-in"
    assert not [e for e in done["errors"] if "c1" in e], "c1 opted in"
    older = finish_plan(plan, {key: "v1.34.5+k3s1"})
    assert older["errors"] == []


def test_k3s_version_must_agree_within_a_cluster() -> None:
    plan = plan_clusters([node("s1", release_key="v1.35 u"), node("w1", roles=("agent",), release_key="v1.34 u")])
    assert any("cluster_k3s_version (or cluster_k3s_channel_url) differs between hosts" in e for e in plan["errors"])


def test_token_source_says_where_the_token_comes_from() -> None:
    assert plan_clusters([node("s1")])["clusters"]["default"]["token_source"] == "first_server"
    given = plan_clusters([node("s1", token_fingerprint="abc")])
    assert given["clusters"]["default"]["token_source"] == "cluster_token"


def test_summary_names_what_was_built() -> None:
    plan = finish_plan(plan_clusters([node("s1", arch="x86_64", release_key="k"),
                                      node("w1", roles=("agent",), arch="aarch64", release_key="k")]),
                       {"k": "v1.35.1+k3s1"})
    table = summary_table(plan["clusters"]["default"]).splitlines()
    assert table[0] == ("cluster default: k3s v1.35.1+k3s1, datastore sqlite, API https://10.0.0.2:6443, "
                        "kubeconfig context 'default'")
    assert table[1].split() == ["host", "role", "arch", "node", "name"]
    assert table[3].split() == ["s1", "server", "x86_64", "s1"]
    assert table[4].split() == ["w1", "agent", "aarch64", "w1"]


@pytest.mark.parametrize("value, expected", [(True, True), ("True", True), ("false", False), (False, False),
                                             (None, False), ("yes", True)])
def test_node_flags_read_text_and_bools(value: object, expected: bool) -> None:
    plan = plan_clusters([node("s1", container=value, swap_off=value, allow_cgroup_v1=value)])
    view = plan["clusters"]["default"]["nodes"]["s1"]
    assert view["container"] is expected and view["swap_off"] is expected and view["allow_cgroup_v1"] is expected


def test_inventory_order_not_play_order_decides_the_first_server() -> None:
    plan = plan_clusters([node("w1", roles=("agent",), order=[1, 0]), node("s2", order=[0, 1]),
                          node("lb", roles=("loadbalancer",), order=[2, 0]), node("s1", order=[0, 0])])
    cluster = plan["clusters"]["default"]
    assert cluster["first_server"] == "s1" and cluster["servers"] == ["s1", "s2"] and cluster["hosts"][-1] == "w1"


@pytest.mark.parametrize("endpoint", ["k8s.example.net", "lb-1", "10.0.0.10", "fd00::10", "[fd00::10]",
                                      "K8S.Example.NET.", ""])
def test_endpoints_that_are_a_host_or_an_address(endpoint: str) -> None:
    assert endpoint_error(endpoint) == ""
    assert not [e for e in plan_clusters([node("s1", api_endpoint=endpoint)])["errors"] if "cluster_api_endpoint" in e]


@pytest.mark.parametrize("endpoint, why", [
    ("https://k8s.example.net", "carries a scheme"),
    ("https://k8s.example.net:6443/", "carries a scheme"),
    ("k8s.example.net/api", "carries a path"),
    ("k8s.example.net:6443", "carries a port; set the port in cluster_api_port"),
    ("10.0.0.10:6443", "carries a port"),
    ("[fd00::10]:6443", "carries a port"),
    ("fd00::zz", "not a valid IPv6 address"),
    ("k8s_example.net", "neither a DNS name"),
    ("-lb.example.net", "neither a DNS name"),
    ("10.0.0.300", "neither a DNS name"),
])
def test_endpoints_with_more_than_a_host_are_refused(endpoint: str, why: str) -> None:
    errors = plan_clusters([node("s1", api_endpoint=endpoint)])["errors"]
    assert any(e.startswith(f"s1: cluster_api_endpoint is {endpoint!r}, but it") and why in e for e in errors), errors


@pytest.mark.parametrize("name, suggestion", [("Store_12", "store-12"), ("edge.eu", "edge-eu"),
                                              ("-x-", "x"), ("a" * 70, "a" * 63), ("__", "default")])
def test_cluster_names_must_be_dns_labels(name: str, suggestion: str) -> None:
    errors = plan_clusters([node("s1", cluster=name)])["errors"]
    assert any(f"s1: cluster_name is {name!r}" in e and f"for example {suggestion!r}" in e for e in errors), errors


@pytest.mark.parametrize("name", ["default", "store-12", "a", "edge-eu-1", "a" * 63])
def test_dns_label_cluster_names_are_accepted(name: str) -> None:
    assert plan_clusters([node("s1", cluster=name)])["errors"] == []


@pytest.mark.parametrize("key, var", [("k3s_data_dir", "cluster_k3s_data_dir"), ("k3s_bin_dir", "cluster_k3s_bin_dir"),
                                      ("pki_dir", "cluster_pki_dir")])
def test_node_paths_must_be_absolute(key: str, var: str) -> None:
    errors = plan_clusters([node("s1", **{key: "var/lib/rancher"})])["errors"]
    assert any(f"s1: {var} is 'var/lib/rancher', but it must be an absolute path" in e
               and "such as '/var/lib/rancher'" in e for e in errors), errors
    assert plan_clusters([node("s1", **{key: "/srv/k3s"})])["errors"] == []


_HOSTS = ["k8s.example.net", "api", "edge-12.store.example", "10.1.2.3", "192.168.0.1", "fd00::1", "2001:db8::10"]
_GENERATED = [(f"[{h}]" if ":" in h else h) for h in _HOSTS]


@pytest.mark.parametrize("host", _GENERATED)
@pytest.mark.parametrize("scheme, port, path, why", [
    ("https://", "", "", "scheme"), ("http://", ":6443", "", "scheme"), ("tcp://", "", "/", "scheme"),
    ("", ":6443", "", "port"), ("", ":443", "", "port"), ("", "", "/k8s", "path"), ("", ":6443", "/k8s", "path"),
])
def test_generated_endpoints_with_a_scheme_port_or_path(host: str, scheme: str, port: str, path: str,
                                                         why: str) -> None:
    """Every host form, each decorated the ways users get it wrong: refused, and the bare neighbour accepted."""
    assert why in endpoint_error(scheme + host + port + path)
    assert endpoint_error(host) == ""


_LABELS = ["default", "edge", "store-12", "a1", "z" * 63]


@pytest.mark.parametrize("label", _LABELS)
@pytest.mark.parametrize("decorate", [str.upper, lambda s: s + "_x", lambda s: "-" + s, lambda s: s + ".eu",
                                      lambda s: s + " ", lambda s: s + "z" * 64])
def test_generated_cluster_names(label: str, decorate: t.Callable[[str], str]) -> None:
    """A valid label is accepted; each way of spoiling it is refused with a suggestion that is itself valid."""
    assert plan_clusters([node("s1", cluster=label)])["errors"] == []
    bad = decorate(label)
    errors = [e for e in plan_clusters([node("s1", cluster=bad)])["errors"] if "cluster_name is" in e]
    assert errors, bad
    suggestion = errors[0].rsplit("for example ", 1)[1].strip(".'")
    assert plan_clusters([node("s1", cluster=suggestion)])["errors"] == [], suggestion


def test_external_endpoint_problems_are_reported_per_server() -> None:
    problem = "postgres://k3s:****@db:5432/k3s: the user or password holds '@'"
    plan = plan_clusters([node("s1", datastore="external", datastore_endpoint_set=True,
                               datastore_problems=[problem], datastore_credential_problems=[problem, "creds"])])
    assert f"s1: cluster_datastore_endpoint {problem}." in plan["errors"]
    assert not any("creds" in e for e in plan["errors"]), "no datastore host: credentials are the user's business"


def test_credentials_are_required_when_the_collection_provisions_the_database() -> None:
    plan = plan_clusters([node("s1", datastore="external", datastore_endpoint_set=True, datastore_problems=[],
                               datastore_credential_problems=["postgres://db:5432/k3s: the user and the password are "
                                                              "missing"]),
                          node("db1", datastore="external", roles=("datastore",))])
    assert "s1: cluster_datastore_endpoint postgres://db:5432/k3s: the user and the password are missing." in plan["errors"]


def test_a_limited_run_without_the_first_server_is_refused() -> None:
    plan = plan_clusters([node("s2", inventory_first_server="s1", datastore="etcd", allow_unsafe_etcd_size=True),
                          node("w1", roles=("agent",), inventory_first_server="s1", datastore="etcd",
                               allow_unsafe_etcd_size=True)])
    assert any("its first server, s1 (the first host of the cluster in the server group), is not in this run, so s2"
               in e and "widen --limit or cluster_hosts" in e for e in plan["errors"]), plan["errors"]
    whole = plan_clusters([node("s1", inventory_first_server="s1"), node("w1", roles=("agent",),
                                                                         inventory_first_server="s1")])
    assert whole["errors"] == []


def test_agents_alone_are_told_the_servers_are_left_out() -> None:
    plan = plan_clusters([node("w1", roles=("agent",), inventory_first_server="s1")])
    assert any("no server of the cluster is in this run (its first server is s1)" in e for e in plan["errors"])


def test_a_token_that_differs_from_the_running_cluster_is_refused() -> None:
    plan = plan_clusters([node("s1", token_mismatch=True, k3s_data_dir="/srv/k3s")])
    assert any("cluster_token differs from the token the cluster was created with (stored in "
               "/srv/k3s/server/token on s1)" in e for e in plan["errors"])
    assert plan_clusters([node("s1", token_mismatch=False)])["errors"] == []


def test_token_problems_are_reported_per_host() -> None:
    plan = plan_clusters([node("s1", token_problems=["cluster_token is blank (only white space); leave it empty"])])
    assert "s1: cluster_token is blank (only white space); leave it empty" in plan["errors"]


@pytest.mark.parametrize("name", ["node-1", "Node-1", "edge-1.store.example", "a" * 63, "k3s-agent-07"])
def test_valid_node_names(name: str) -> None:
    assert node_name_error(name) == ""


@pytest.mark.parametrize("name, why", [("node_1", "'node_1' is not one"), ("-node", "'-node' is not one"),
                                       ("a" * 64, "is not one"), ("edge..eu", "'' is not one"),
                                       ("x" * 254, "longer than 253")])
def test_invalid_node_names_are_refused_with_the_setting_to_change(name: str, why: str) -> None:
    errors = plan_clusters([node("s1", node_name=name)])["errors"]
    assert any(e.startswith(f"s1: the node would register as {name!r}, but") and why in e
               and "Set node-name in k3s_server_config or k3s_agent_config" in e for e in errors), errors


def test_node_names_are_unique_however_they_are_written() -> None:
    plan = plan_clusters([node("s1", node_name="Edge-1"), node("w1", roles=("agent",), node_name="edge-1")])
    assert any("hosts s1 and w1 would both register as node 'edge-1'" in e for e in plan["errors"])


def test_one_machine_under_two_inventory_names_is_refused() -> None:
    plan = plan_clusters([node("s1", machine_id="abc"), node("w1", roles=("agent",), machine_id="abc", node_name="w1")])
    assert any("hosts s1, w1 are one machine (the same machine-id, abc)" in e for e in plan["errors"])
    other = plan_clusters([node("s1", machine_id="abc"), node("w1", roles=("agent",), machine_id="def")])
    assert other["errors"] == []
    unknown = plan_clusters([node("s1", machine_id=""), node("w1", roles=("agent",), machine_id="")])
    assert unknown["errors"] == []


def test_k3s_networks_are_checked_against_the_nodes() -> None:
    plan = plan_clusters([node("s1", addresses=["10.42.3.4"]), node("w1", roles=("agent",), addresses=["10.0.0.9"])])
    assert any("host s1 has the address 10.42.3.4, inside the pod subnet 10.42.0.0/16" in e for e in plan["errors"])
    small = plan_clusters([node("s1", k3s_cluster_cidr="10.42.0.0/25")])
    assert any("k3s_server_config cluster-cidr '10.42.0.0/25'" in e and "smaller than one per-node block /24" in e
               for e in small["errors"]), small["errors"]
    assert plan_clusters([node("s1", addresses=["10.0.0.5"])])["errors"] == []


def test_kubeadm_networks_use_the_cni_block() -> None:
    nodes = [kubeadm_node("c1", pod_cidr="10.244.0.0/24", cni_plugin="calico", calico_block_size=26, addresses=[])]
    nodes += [kubeadm_node(f"w{i}", roles=("agent",), pod_cidr="10.244.0.0/24", addresses=[]) for i in range(5)]
    plan = plan_clusters(nodes)
    assert any("holds 4 per-node blocks of /26" in e and "the cluster has 6 nodes" in e for e in plan["errors"]), \
        plan["errors"]


def test_unknown_variables_found_on_a_host_are_errors() -> None:
    message = "s1: k3s_sever_config is not a variable of kubeforge.cluster; did you mean k3s_server_config?"
    assert message in plan_clusters([node("s1", unknown_variables=[message])])["errors"]


@pytest.mark.parametrize("value", [True, "True", "true", "yes"])
def test_an_airgapped_cluster_is_published_as_such(value: object) -> None:
    plan = plan_clusters([node("s1", airgap=value), node("a1", roles=("agent",), airgap=True)])
    assert plan["errors"] == []
    assert plan["clusters"]["default"]["airgap"] is True


def test_a_cluster_is_not_airgapped_by_default() -> None:
    assert plan_clusters([node("s1")])["clusters"]["default"]["airgap"] is False


def test_hosts_of_one_cluster_that_disagree_on_airgap_are_named() -> None:
    plan = plan_clusters([node("s1", airgap="False"), node("a1", roles=("agent",), airgap="True"),
                          node("e1", cluster="edge", airgap=True)])
    assert plan["errors"] == [
        "cluster 'default': cluster_airgap differs between hosts (s1: False, a1: True); a cluster's nodes are "
        "airgapped together or not at all. Set it once for the cluster (for example in its group_vars)."]
    assert plan["clusters"]["edge"]["airgap"] is True


# A partial plan: the run holds part of a cluster, as a reset does.

def test_servers_left_out_name_the_inventory_servers_the_run_lacks() -> None:
    inventory = ["s1", "s2", "s3"]
    plan = plan_clusters([node(h, datastore="etcd", inventory_servers=inventory, inventory_first_server="s1")
                          for h in inventory])
    assert plan["errors"] == []
    assert plan["clusters"]["default"]["servers_left_out"] == []
    limited = plan_clusters([node("s1", datastore="etcd", allow_unsafe_etcd_size=True, inventory_servers=inventory,
                                  inventory_first_server="s1")])
    assert limited["clusters"]["default"]["servers_left_out"] == ["s2", "s3"]
    assert plan_clusters([node("s1")])["clusters"]["default"]["servers_left_out"] == []


def test_a_partial_plan_takes_agents_without_their_servers() -> None:
    records = [node("w1", roles=("agent",), inventory_first_server="s1", inventory_servers=["s1"])]
    assert plan_clusters(records)["errors"], "a build needs the servers"
    plan = plan_clusters(records, partial=True)
    assert plan["errors"] == []
    cluster = plan["clusters"]["default"]
    assert cluster["agents"] == ["w1"] and cluster["servers"] == []
    assert cluster["first_server"] == "s1"
    assert cluster["servers_left_out"] == ["s1"]
    assert cluster["nodes"]["w1"]["role"] == "agent"
    assert cluster["api_url"] == "https://s1:6443"


def test_a_partial_plan_keeps_the_inventory_first_server() -> None:
    records = [node("s2", datastore="etcd", inventory_first_server="s1", inventory_servers=["s1", "s2", "s3"])]
    assert plan_clusters(records)["errors"], "a build refuses an even etcd and a missing first server"
    plan = plan_clusters(records, partial=True)
    assert plan["errors"] == []
    assert plan["clusters"]["default"]["first_server"] == "s1"
    assert plan["clusters"]["default"]["servers_left_out"] == ["s1", "s3"]


def test_a_partial_plan_takes_load_balancers_alone() -> None:
    records = [node("lb1", roles=("loadbalancer",), inventory_servers=["s1"])]
    assert any("no server or agent of the play belongs to that cluster" in e for e in plan_clusters(records)["errors"])
    plan = plan_clusters(records, partial=True)
    assert plan["errors"] == []
    cluster = plan["clusters"]["default"]
    assert cluster["loadbalancers"] == ["lb1"] and cluster["hosts"] == []
    assert cluster["nodes"]["lb1"]["role"] == "loadbalancer"
    assert cluster["first_server"] == "s1" and cluster["servers_left_out"] == ["s1"]


def test_a_partial_plan_leaves_out_the_shape_network_and_token_checks() -> None:
    records = [node("s1", datastore="etcd", token_problems=["cluster_token is blank"], token_mismatch=True,
                    token_fingerprint="aa", k3s_cluster_cidr="10.42.0.0/33"),
               node("s2", datastore="etcd", token_fingerprint="bb")]
    assert len(plan_clusters(records)["errors"]) >= 4
    plan = plan_clusters(records, partial=True)
    assert plan["errors"] == []
    assert plan["clusters"]["default"]["token_source"] == "cluster_token"


@pytest.mark.parametrize("records, message", [
    ([node("s1", cluster="Lab")], "must be a DNS label"),
    ([node("s1", k3s_data_dir="var/lib/rancher/k3s")], "cluster_k3s_data_dir is 'var/lib/rancher/k3s'"),
    ([node("s1", roles=("server", "agent"))], "in both the server and the agent group"),
    ([node("s1"), node("w1", roles=("agent",), distribution="kubeadm")], "cluster_distribution differs"),
    ([node("s1", machine_id="m"), node("w1", roles=("agent",), machine_id="m")], "are one machine"),
    ([node("s1", unknown_variables=["s1: reset_confim is not a variable"])], "reset_confim"),
])
def test_a_partial_plan_keeps_the_checks_a_reset_relies_on(records: list[dict[str, Any]], message: str) -> None:
    errors = plan_clusters(records, partial=True)["errors"]
    assert any(message in e for e in errors), errors


def test_a_partial_plan_is_finished_without_releases() -> None:
    plan = finish_plan(plan_clusters([node("w1", roles=("agent",), inventory_servers=["s1"], release_key="stable u")],
                                     partial=True), {})
    assert plan["errors"] == []
    assert plan["clusters"]["default"]["k3s_version"] == "" and plan["k3s_versions"] == []


def test_a_build_keeps_the_version_a_running_cluster_runs() -> None:
    key = "stable https://update.k3s.io/v1-release/channels"
    plan = plan_clusters([node("s1", release_key=key, running_version="v1.34.2+k3s1"),
                          node("a1", roles=("agent",), release_key=key),
                          node("t1", cluster="fresh", release_key=key)])
    assert plan["clusters"]["default"]["running_versions"] == {"s1": "v1.34.2+k3s1"}
    kept = finish_plan(plan, {key: "v1.35.1+k3s1"}, keep_running=True)
    assert kept["errors"] == []
    default = kept["clusters"]["default"]
    assert default["k3s_version"] == "v1.34.2+k3s1" and default["wanted_version"] == "v1.35.1+k3s1"
    assert default["kube_minor"] == 34
    assert kept["clusters"]["fresh"]["k3s_version"] == "v1.35.1+k3s1"
    assert kept["k3s_versions"] == ["v1.34.2+k3s1", "v1.35.1+k3s1"]
    assert len(kept["notices"]) == 1 and "cluster 'default' runs v1.34.2+k3s1" in kept["notices"][0]
    assert "(cluster_k3s_version: stable)" in kept["notices"][0]
    # An upgrade plans the inventory's version.
    moving = finish_plan(plan, {key: "v1.35.1+k3s1"})
    assert moving["clusters"]["default"]["k3s_version"] == "v1.35.1+k3s1" and moving["notices"] == []


def test_a_build_stops_on_a_cluster_whose_nodes_disagree() -> None:
    plan = plan_clusters([kubeadm_node("cp1", running_version="v1.35.2"),
                          kubeadm_node("w1", roles=("agent",), running_version="v1.34.5")])
    done = finish_plan(plan, {}, keep_running=True)
    assert any("cp1 v1.35.2, w1 v1.34.5" in e and "upgrade did not finish" in e for e in done["errors"])
    same = finish_plan(plan_clusters([kubeadm_node("cp1", running_version="v1.35.2", kubernetes_version="v1.35.3")]),
                       {}, keep_running=True)
    assert same["clusters"]["hub"]["kubernetes_version"] == "v1.35.2"
    assert "(cluster_kubernetes_version)" in same["notices"][0]


def test_agents_left_out_of_the_run_are_named() -> None:
    plan = plan_clusters([node("s1", inventory_agents=["a1", "a2"]), node("a1", roles=("agent",), inventory_agents=["a1", "a2"])])
    assert plan["clusters"]["default"]["agents_left_out"] == ["a2"]
