from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.cluster_networks import (
    NodeBlock,
    cluster_network_errors,
    node_blocks,
)

NODES = {"s1": ["192.168.1.10"], "w1": ["192.168.1.11"]}


def errors(distribution: str, pod: str, service: str, nodes: dict[str, list[str]] | None = None,
           cni: str = "flannel") -> list[str]:
    return cluster_network_errors("hub", distribution, pod, service, NODES if nodes is None else nodes,
                                  node_blocks(cni))


# (distribution, pod, service, nodes or None, cni, refused with this text, the valid neighbour's pod and service)
CASES = [
    # 1. syntax and host bits
    ("k3s", "10.42.1.0/16", "10.43.0.0/16", None, "flannel",
     "k3s_server_config cluster-cidr '10.42.1.0/16' is not a network in CIDR form: 10.42.1.0/16 has host bits set; "
     "use 10.42.0.0/16, its network address", ("10.42.0.0/16", "10.43.0.0/16")),
    ("kubeadm", "10.244.0.0/16", "10.96.0.1/12", None, "flannel",
     "cluster_service_cidr '10.96.0.1/12' is not a network in CIDR form: 10.96.0.1/12 has host bits set; "
     "use 10.96.0.0/12", ("10.244.0.0/16", "10.96.0.0/12")),
    ("kubeadm", "10.244.0.0/33", "10.96.0.0/12", None, "flannel",
     "cluster_pod_cidr '10.244.0.0/33' is not a network in CIDR form such as 10.244.0.0/16",
     ("10.244.0.0/16", "10.96.0.0/12")),
    ("k3s", "10.42.0.1", "10.43.0.0/16", None, "flannel",
     "k3s_server_config cluster-cidr '10.42.0.1' is an address, not a network in CIDR form; add the prefix length, "
     "for example 10.42.0.0/16", ("10.42.0.0/16", "10.43.0.0/16")),
    ("kubeadm", "", "10.96.0.0/12", None, "flannel", "cluster 'hub': cluster_pod_cidr is empty; set it, for example "
     "10.244.0.0/16.", ("10.244.0.0/16", "10.96.0.0/12")),
    # 2. dual-stack pairs and families
    ("k3s", "10.42.0.0/16,fd00:42::/56,10.44.0.0/16", "10.43.0.0/16,fd00:43::/112", None, "flannel",
     "lists 3 networks; Kubernetes takes one network, or two for dual-stack",
     ("10.42.0.0/16,fd00:42::/56", "10.43.0.0/16,fd00:43::/112")),
    ("k3s", "10.42.0.0/16,10.44.0.0/16", "10.43.0.0/16", None, "flannel",
     "k3s_server_config cluster-cidr '10.42.0.0/16,10.44.0.0/16' lists two IPv4 networks; a dual-stack pair is one "
     "IPv4 and one IPv6 network", ("10.42.0.0/16", "10.43.0.0/16")),
    ("kubeadm", "fd00:42::/56,fd00:44::/56", "fd00:43::/112", None, "flannel", "lists two IPv6 networks",
     ("fd00:42::/56", "fd00:43::/112")),
    ("k3s", "10.42.0.0/16,fd00:42::/56", "10.43.0.0/16", None, "flannel",
     "k3s_server_config cluster-cidr '10.42.0.0/16,fd00:42::/56' is IPv4 and IPv6 (dual-stack) but "
     "k3s_server_config service-cidr '10.43.0.0/16' is IPv4; both must be IPv4, both IPv6, or both dual-stack",
     ("10.42.0.0/16,fd00:42::/56", "10.43.0.0/16,fd00:43::/112")),
    ("kubeadm", "10.244.0.0/16", "fd00:43::/112", None, "flannel", "is IPv4 but cluster_service_cidr "
     "'fd00:43::/112' is IPv6", ("fd00:42::/56", "fd00:43::/112")),
    # 3. overlap (the Molecule validation scenario expects this text for kubeadm)
    ("kubeadm", "10.96.0.0/16", "10.96.0.0/12", None, "flannel",
     "the pod subnet 10.96.0.0/16 and the service subnet 10.96.0.0/12 overlap", ("10.112.0.0/16", "10.96.0.0/12")),
    ("k3s", "10.42.0.0/16,fd00:42::/56", "10.43.0.0/16,fd00:42::/112", None, "flannel",
     "the pod subnet fd00:42::/56 and the service subnet fd00:42::/112 overlap: pods and services would get the same "
     "addresses. Pick subnets that do not overlap (k3s_server_config cluster-cidr: '10.42.0.0/16,fd00:42::/56', "
     "k3s_server_config service-cidr: '10.43.0.0/16,fd00:42::/112').",
     ("10.42.0.0/16,fd00:42::/56", "10.43.0.0/16,fd00:43::/112")),
    # 4. per-node blocks: Flannel's /24 (and /64), Calico's block size
    ("k3s", "10.42.0.0/25", "10.43.0.0/16", {"s1": []}, "flannel",
     "the pod subnet 10.42.0.0/25 is smaller than one per-node block /24 (Flannel's per-node block: "
     "kube-controller-manager --node-cidr-mask-size-ipv4 is 24 by default); a pod network must hold at least one such "
     "block. Use a prefix length of /24 or shorter, such as 10.42.0.0/24.", ("10.42.0.0/24", "10.43.0.0/16")),
    ("k3s", "10.42.0.0/23", "10.43.0.0/16", {"a": [], "b": [], "c": []}, "flannel",
     "the pod subnet 10.42.0.0/23 holds 2 per-node blocks of /24 (Flannel's per-node block: kube-controller-manager "
     "--node-cidr-mask-size-ipv4 is 24 by default) but the cluster has 3 nodes (a, b, c); each node needs one. Use a "
     "prefix length of /22 or shorter, such as 10.42.0.0/22.", ("10.42.0.0/22", "10.43.0.0/16")),
    ("k3s", "10.42.0.0/16,fd00:42::/63", "10.43.0.0/16,fd00:43::/112", {"a": [], "b": [], "c": []}, "flannel",
     "the pod subnet fd00:42::/63 holds 2 per-node blocks of /64", ("10.42.0.0/16,fd00:42::/62",
                                                                     "10.43.0.0/16,fd00:43::/112")),
    ("kubeadm", "10.244.0.0/24", "10.96.0.0/12", {str(i): [] for i in range(5)}, "calico",
     "holds 4 per-node blocks of /26 (Calico's block, cni_calico_block_size 26) but the cluster has 5 nodes",
     ("10.244.0.0/23", "10.96.0.0/12")),
    ("kubeadm", "10.244.0.0/25", "10.96.0.0/12", {"c1": []}, "calico",
     "is smaller than one per-node block /24 (the node's pod CIDR: kube-controller-manager "
     "--node-cidr-mask-size-ipv4 is 24 by default)", ("10.244.0.0/24", "10.96.0.0/12")),
    # 5. node addresses
    ("k3s", "10.42.0.0/16", "10.43.0.0/16", {"s1": ["192.168.1.10"], "w1": ["10.42.7.1"]}, "flannel",
     "k3s_server_config cluster-cidr '10.42.0.0/16': host w1 has the address 10.42.7.1, inside the pod subnet "
     "10.42.0.0/16", ("10.44.0.0/16", "10.43.0.0/16")),
    ("kubeadm", "10.244.0.0/16", "10.96.0.0/12", {"c1": ["fd00::1", "10.100.0.5"]}, "flannel",
     "cluster_service_cidr '10.96.0.0/12': host c1 has the address 10.100.0.5, inside the service subnet "
     "10.96.0.0/12", ("10.244.0.0/16", "10.112.0.0/12")),
    # 6. service network size (kube-apiserver: at most 2^20 addresses)
    ("kubeadm", "10.244.0.0/16", "10.0.0.0/8", None, "flannel",
     "cluster_service_cidr '10.0.0.0/8': the service subnet 10.0.0.0/8 is too large; kube-apiserver takes at most "
     "2^20 service addresses, a prefix length of /12 or longer for IPv4. Use a smaller network such as 10.0.0.0/12.",
     ("10.244.0.0/16", "10.0.0.0/12")),
    ("k3s", "fd00:42::/56", "fd00:43::/107", None, "flannel", "a prefix length of /108 or longer for IPv6",
     ("fd00:42::/56", "fd00:43::/108")),
]


@pytest.mark.parametrize("distribution, pod, service, nodes, cni, message, neighbour", CASES)
def test_refused_with_the_message_and_the_neighbour_accepted(distribution: str, pod: str, service: str,
                                                            nodes: dict[str, list[str]] | None, cni: str,
                                                            message: str, neighbour: tuple[str, str]) -> None:
    found = errors(distribution, pod, service, nodes, cni)
    assert any(message in e for e in found), found
    assert all(e.startswith("cluster 'hub': ") for e in found), found
    assert errors(distribution, *neighbour, nodes, cni) == []


def test_the_defaults_and_a_dual_stack_pair_are_fine() -> None:
    assert errors("k3s", "10.42.0.0/16", "10.43.0.0/16") == []
    assert errors("kubeadm", "10.244.0.0/16", "10.96.0.0/12") == []
    assert errors("k3s", "fd00:42::/56,10.42.0.0/16", "10.43.0.0/16,fd00:43::/112") == []
    assert cluster_network_errors("hub", "k3s", ["10.42.0.0/16", "fd00:42::/56"], "10.43.0.0/16,fd00:43::/112",
                                  NODES) == []


def test_syntax_errors_come_alone() -> None:
    found = errors("kubeadm", "10.244.0.0/33", "10.0.0.0/8")
    assert len(found) == 1 and "not a network" in found[0]


def test_unparsable_and_scoped_addresses_from_facts() -> None:
    assert errors("k3s", "10.42.0.0/16", "10.43.0.0/16", {"s1": ["", "not-an-ip"]}) == []
    assert "fe80::1" in " ".join(errors("k3s", "fe80::/56", "fd00:43::/112", {"s1": ["fe80::1%eth0"]}))


def test_variables_and_node_masks_can_be_given() -> None:
    found = cluster_network_errors("hub", "k3s", "10.42.0.0/25", "10.43.0.0/16", {"s1": []},
                                   node_blocks("flannel", node_mask={4: 26}), ("pods", "services"))
    assert found == []
    found = cluster_network_errors("hub", "k3s", "10.42.0.0/25", "10.43.0.0/16", {"a": [], "b": [], "c": []},
                                   node_blocks("flannel", node_mask={4: 26}), ("pods", "services"))
    assert found and found[0].startswith("cluster 'hub': pods '10.42.0.0/25'"), found
    assert "--node-cidr-mask-size-ipv4 set to 26" in found[0]


def test_node_blocks() -> None:
    assert [(b.version, b.prefix, b.each_node) for b in node_blocks("flannel")] == [(4, 24, True), (6, 64, True)]
    assert [(b.version, b.prefix, b.each_node) for b in node_blocks("calico", 28)] == [
        (4, 24, False), (6, 64, False), (4, 28, True)]
    assert all(not b.each_node for b in node_blocks("none"))


# Generated inputs -----------------------------------------------------------

def ipv4_network(prefix: int) -> st.SearchStrategy[ipaddress.IPv4Network]:
    # Inside 10.0.0.0/8, clear of the service network 172.16.0.0/16 and the nodes' 192.168.1.0/24.
    return st.integers(0, 2 ** 24 - 1).map(
        lambda n: ipaddress.ip_network((0x0A000000 + n, prefix), strict=False))


SERVICE = "172.16.0.0/16"


@settings(max_examples=300, deadline=None)
@given(st.data(), st.integers(8, 24), st.integers(1, 300), st.sampled_from([24, 26, 28]))
def test_block_count_decides(data: st.DataObject, prefix: int, nodes: int, block: int) -> None:
    pod = data.draw(ipv4_network(prefix))
    hosts = {"n%d" % i: [] for i in range(nodes)}
    blocks = [NodeBlock(4, block, "test block")]
    found = cluster_network_errors("hub", "kubeadm", str(pod), SERVICE, hosts, blocks)
    assert (found == []) == (2 ** (block - prefix) >= nodes), found
    if found:
        # The suggested network is wide enough.
        suggestion = ipaddress.ip_network(found[0].rsplit("such as ", 1)[1].rstrip("."))
        assert cluster_network_errors("hub", "kubeadm", str(suggestion), SERVICE, hosts, blocks) == []


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2 ** 128 - 1), st.integers(0, 128), st.booleans())
def test_host_bits_are_refused_and_the_network_address_accepted(value: int, prefix: int, ipv4: bool) -> None:
    address = ipaddress.IPv4Address(value % 2 ** 32) if ipv4 else ipaddress.IPv6Address(value)
    prefix = prefix % 33 if ipv4 else prefix
    text = "%s/%d" % (address, prefix)
    network = ipaddress.ip_network(text, strict=False)
    found = cluster_network_errors("hub", "kubeadm", "10.244.0.0/16", text, {})
    if address != network.network_address:
        assert found == ["cluster 'hub': cluster_service_cidr %r is not a network in CIDR form: %s has host bits "
                         "set; use %s, its network address." % (text, text, network)]
    found = cluster_network_errors("hub", "kubeadm", "10.244.0.0/16", str(network), {})
    assert not any("not a network" in e for e in found), found
