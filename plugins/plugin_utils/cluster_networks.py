# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of a cluster's pod and service networks, before any host is changed.

The pod network (K3s ``cluster-cidr``, kubeadm ``podSubnet``) and the service
network (K3s ``service-cidr``, kubeadm ``serviceSubnet``) are comma-separated
CIDR text: one network, or one IPv4 and one IPv6 network for dual-stack.
``cluster_network_errors`` refuses what Kubernetes would refuse later, or what
would break the cluster quietly, with messages that name the cluster, the
variable, the value, what is allowed and the fix. Pure functions: no I/O.

Upstream facts the checks rest on:

* kube-controller-manager gives each node a /24 (IPv4) or /64 (IPv6) out of the
  pod network unless ``--node-cidr-mask-size[-ipv4|-ipv6]`` says otherwise, and
  refuses a pod network with a longer prefix than that; kubeadm refuses such a
  ``podSubnet`` too (``ValidatePodSubnetNodeMask``). Flannel (K3s' and this
  collection's) uses exactly that per-node block.
* Calico hands out blocks of ``blockSize`` (cni_calico_block_size) from its
  pool, at least one a node.
* kube-apiserver and kubeadm refuse a service network with more than 2^20
  addresses: for IPv4 the prefix must be /12 or longer, for IPv6 /108 or longer.
"""
from __future__ import annotations

import ipaddress
import typing as t
from collections.abc import Mapping, Sequence

IPNetwork = t.Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

# kube-controller-manager --node-cidr-mask-size-ipv4 / -ipv6 defaults.
NODE_MASK_DEFAULT = {4: 24, 6: 64}
# kube-apiserver: at most 2^20 service addresses (constants.MaximumBitsForServiceSubnet in kubeadm).
MAX_SERVICE_HOST_BITS = 20
CALICO_BLOCK_SIZE_DEFAULT = 26
# Default networks, by distribution: (pod, service).
DEFAULT_NETWORKS = {"k3s": ("10.42.0.0/16", "10.43.0.0/16"), "kubeadm": ("10.244.0.0/16", "10.96.0.0/12")}
# Names of the variables that set the networks, by distribution, for messages.
VARIABLES = {"k3s": ("k3s_server_config cluster-cidr", "k3s_server_config service-cidr"),
             "kubeadm": ("cluster_pod_cidr", "cluster_service_cidr")}
_IPV6_EXAMPLE = {"pod": "fd00:42::/56", "service": "fd00:43::/112"}


class NodeBlock(t.NamedTuple):
    """A block of the pod network handed to a node, of one IP version.

    ``prefix``: its prefix length. ``source``: where it comes from, for messages.
    ``each_node``: every node needs one of its own (else the pod network must
    only be at least one block wide, as kube-controller-manager and kubeadm
    demand even when the CNI does not use the node's block).
    """

    version: int
    prefix: int
    source: str
    each_node: bool = True


def node_blocks(cni: str, calico_block_size: int = CALICO_BLOCK_SIZE_DEFAULT,
                node_mask: Mapping[int, int] | None = None) -> list[NodeBlock]:
    """The per-node blocks the pod network must hold, for a CNI: flannel (K3s' own too), calico or none.

    ``node_mask``: kube-controller-manager's node-cidr-mask-size by IP version,
    where set (defaults /24 and /64). Flannel's node block is that one; Calico
    (an IPv4 pool in this collection) takes cni_calico_block_size blocks.
    """
    masks = {**NODE_MASK_DEFAULT, **dict(node_mask or {})}
    blocks = []
    for version in (4, 6):
        setting = "kube-controller-manager --node-cidr-mask-size-ipv%d %s %d" % (
            version, "is" if masks[version] == NODE_MASK_DEFAULT[version] else "set to", masks[version])
        if masks[version] == NODE_MASK_DEFAULT[version]:
            setting += " by default"
        if cni == "flannel":
            blocks.append(NodeBlock(version, masks[version], "Flannel's per-node block: " + setting))
        else:
            blocks.append(NodeBlock(version, masks[version], "the node's pod CIDR: " + setting, each_node=False))
    if cni == "calico":
        blocks.append(NodeBlock(4, int(calico_block_size), "Calico's block, cni_calico_block_size %d"
                                % int(calico_block_size)))
    return blocks


def split_cidrs(text: t.Any) -> list[str]:
    """The parts of comma-separated CIDR text (a list is taken as its parts)."""
    parts = text if isinstance(text, (list, tuple)) else str(text or "").split(",")
    return [str(p).strip() for p in parts if str(p).strip()]


def parse_networks(text: t.Any, what: str, example: str) -> tuple[list[IPNetwork], list[str]]:
    """The networks of comma-separated CIDR text, and what is wrong with its parts.

    ``what`` names the setting in messages (``the pod subnet``); ``example`` is a
    network to suggest when it is empty.
    """
    networks: list[IPNetwork] = []
    errors: list[str] = []
    for part in split_cidrs(text):
        try:
            if "/" not in part:
                raise ValueError("no prefix length")
            networks.append(ipaddress.ip_network(part, strict=True))
        except ValueError as exc:
            errors.append(_syntax_error(part, what, exc))
    if not networks and not errors:
        errors.append("%s is empty; set it, for example %s" % (what, example))
    return networks, errors


def _syntax_error(part: str, what: str, exc: ValueError) -> str:
    try:
        loose = ipaddress.ip_network(part, strict=False)
    except ValueError:
        return "%s %r is not a network in CIDR form such as 10.244.0.0/16 (%s)" % (what, part, exc)
    if "/" not in part:
        return "%s %r is an address, not a network in CIDR form; add the prefix length, for example %s" % (
            what, part, ipaddress.ip_network((loose.network_address, 16 if loose.version == 4 else 56), strict=False))
    return "%s %r is not a network in CIDR form: %s; use %s, its network address" % (what, part, exc, loose)


def overlap_errors(pods: Sequence[IPNetwork], services: Sequence[IPNetwork]) -> list[str]:
    """Pod and service networks of the same IP version that overlap."""
    return ["the pod subnet %s and the service subnet %s overlap: pods and services would get the same addresses. "
            "Pick subnets that do not overlap" % (pod, service)
            for pod in pods for service in services if pod.version == service.version and pod.overlaps(service)]


def cluster_network_errors(cluster: str, distribution: str, pod: t.Any, service: t.Any,
                           node_addresses: Mapping[str, Sequence[str]],
                           blocks: Sequence[NodeBlock] | None = None,
                           variables: tuple[str, str] | None = None) -> list[str]:
    """What is wrong with a cluster's pod and service networks, one sentence an error.

    ``distribution``: k3s or kubeadm (picks the variable names and examples).
    ``pod`` / ``service``: the values in effect, comma-separated CIDR text or a
    list (for K3s the defaults 10.42.0.0/16 and 10.43.0.0/16 when unset).
    ``node_addresses``: every host of the cluster -> its own addresses where
    facts show them (may be empty); the number of hosts is the node count.
    Pass the node's primary addresses (ansible_default_ipv4/ipv6 address, the
    node-ip or advertise address), not ansible_all_ipv4_addresses: once the
    cluster runs, those include flannel.1, cni0 and kube-ipvs0 addresses that
    lie inside the pod and service networks by design.
    ``blocks``: from ``node_blocks``; Flannel with default masks when None.
    ``variables``: the names of the pod and service settings, for messages.
    Syntax errors are reported alone: the other checks need valid networks.
    """
    pod_var, service_var = variables or VARIABLES.get(distribution, VARIABLES["kubeadm"])
    pod_default, service_default = DEFAULT_NETWORKS.get(distribution, DEFAULT_NETWORKS["kubeadm"])
    head = "cluster '%s': " % cluster
    given = {"pod": (pod_var, ",".join(split_cidrs(pod))), "service": (service_var, ",".join(split_cidrs(service)))}
    pods, pod_errors = parse_networks(pod, pod_var, pod_default)
    services, service_errors = parse_networks(service, service_var, service_default)
    if pod_errors or service_errors:
        return [head + e + "." for e in pod_errors + service_errors]
    errors: list[str] = []
    for kind, networks, default in (("pod", pods, pod_default), ("service", services, service_default)):
        errors.extend(head + e for e in _stack_errors(kind, given[kind], networks, default))
    if not errors:
        errors.extend(head + e for e in _family_errors(given, pods, services))
    errors.extend("%s%s (%s: %r, %s: %r)." % (head, e, pod_var, given["pod"][1], service_var, given["service"][1])
                  for e in overlap_errors(pods, services))
    errors.extend(head + e for e in _block_errors(given["pod"], pods, blocks, sorted(node_addresses)))
    errors.extend(head + e for e in _service_size_errors(given["service"], services))
    errors.extend(head + e for e in _address_errors(given, pods, services, node_addresses))
    return errors


def _families(networks: Sequence[IPNetwork]) -> str:
    versions = sorted({n.version for n in networks})
    return " and ".join("IPv%d" % v for v in versions) + (" (dual-stack)" if len(versions) == 2 else "")


def _stack_errors(kind: str, given: tuple[str, str], networks: Sequence[IPNetwork], default: str) -> list[str]:
    var, text = given
    pair = "%s,%s" % (default, _IPV6_EXAMPLE[kind])
    if len(networks) > 2:
        return ["%s %r lists %d networks; Kubernetes takes one network, or two for dual-stack (one IPv4 and one "
                "IPv6, such as %s). Keep one of each IP version." % (var, text, len(networks), pair)]
    if len(networks) == 2 and networks[0].version == networks[1].version:
        return ["%s %r lists two IPv%d networks; a dual-stack pair is one IPv4 and one IPv6 network (such as %s). "
                "Keep one of them, or replace the other with a network of the other IP version."
                % (var, text, networks[0].version, pair)]
    return []


def _family_errors(given: Mapping[str, tuple[str, str]], pods: Sequence[IPNetwork],
                   services: Sequence[IPNetwork]) -> list[str]:
    if {n.version for n in pods} == {n.version for n in services}:
        return []
    (pod_var, pod_text), (service_var, service_text) = given["pod"], given["service"]
    return ["%s %r is %s but %s %r is %s; both must be IPv4, both IPv6, or both dual-stack (one IPv4 and one IPv6 "
            "network each). Give the two settings the same IP versions."
            % (pod_var, pod_text, _families(pods), service_var, service_text, _families(services))]


def _block_errors(given: tuple[str, str], pods: Sequence[IPNetwork], blocks: Sequence[NodeBlock] | None,
                  hosts: Sequence[str]) -> list[str]:
    var, text = given
    errors = []
    for block in node_blocks("flannel") if blocks is None else blocks:
        for pod in (p for p in pods if p.version == block.version):
            if pod.prefixlen > block.prefix:
                errors.append("%s %r: the pod subnet %s is smaller than one per-node block /%d (%s); a pod network "
                              "must hold at least one such block. Use a prefix length of /%d or shorter, such as %s."
                              % (var, text, pod, block.prefix, block.source, block.prefix,
                                 pod.supernet(new_prefix=block.prefix)))
                continue
            count = 2 ** (block.prefix - pod.prefixlen)
            if block.each_node and count < len(hosts):
                wider = block.prefix - (len(hosts) - 1).bit_length()
                errors.append("%s %r: the pod subnet %s holds %d per-node block%s of /%d (%s) but the cluster has %d "
                              "nodes (%s); each node needs one. Use a prefix length of /%d or shorter, such as %s."
                              % (var, text, pod, count, "" if count == 1 else "s", block.prefix, block.source,
                                 len(hosts), ", ".join(hosts), wider, pod.supernet(new_prefix=max(wider, 0))))
    return errors


def _service_size_errors(given: tuple[str, str], services: Sequence[IPNetwork]) -> list[str]:
    var, text = given
    errors = []
    for service in services:
        shortest = service.max_prefixlen - MAX_SERVICE_HOST_BITS
        if service.prefixlen < shortest:
            errors.append("%s %r: the service subnet %s is too large; kube-apiserver takes at most 2^%d service "
                          "addresses, a prefix length of /%d or longer for IPv%d. Use a smaller network such as %s."
                          % (var, text, service, MAX_SERVICE_HOST_BITS, shortest, service.version,
                             ipaddress.ip_network((service.network_address, shortest))))
    return errors


def _address_errors(given: Mapping[str, tuple[str, str]], pods: Sequence[IPNetwork], services: Sequence[IPNetwork],
                    node_addresses: Mapping[str, Sequence[str]]) -> list[str]:
    errors = []
    for host in sorted(node_addresses):
        for text in node_addresses[host] or ():
            try:
                address = ipaddress.ip_address(str(text).split("/", maxsplit=1)[0].split("%", maxsplit=1)[0])
            except ValueError:
                continue
            for kind, networks in (("pod", pods), ("service", services)):
                var, value = given[kind]
                for network in networks:
                    if address in network:
                        errors.append("%s %r: host %s has the address %s, inside the %s subnet %s; traffic to the "
                                      "node would be taken for %s traffic. Pick a %s subnet that none of the nodes' "
                                      "addresses fall in." % (var, value, host, address, kind, network,
                                                              kind, kind))
    return errors
