# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Group the inventory's hosts into clusters and check the rules that span hosts.

Pure logic: it takes one record a host (what the host's own variables say about
it) and returns the clusters plus a list of human-readable errors. No I/O.
"""
from __future__ import annotations

import ipaddress
import re
from collections import OrderedDict
from typing import Any

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.cluster_networks import cluster_network_errors, node_blocks
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.upgrade import kept_version

DISTRIBUTIONS = ("k3s", "kubeadm")
DATASTORES = ("sqlite", "etcd", "external")
ROLES = ("server", "agent")
# Hosts that serve a cluster without being its nodes.
SERVICE_ROLES = ("loadbalancer", "datastore")
_CGROUP_V1_LAST_MINOR = 34
_PINNED = re.compile(r"^v[0-9]+\.[0-9]+\.[0-9]+$")


def _err(errors: list[str], text: str) -> None:
    if text not in errors:
        errors.append(text)


def _new_cluster(name: str, node: dict[str, Any]) -> dict[str, Any]:
    """A cluster as its first host in inventory order describes it, before its hosts are added."""
    return {
        "name": name,
        "distribution": node.get("distribution"),
        "datastore": node.get("datastore"),
        "release_key": node.get("release_key"),
        "airgap": _flag(node.get("airgap")),
        "servers": [],
        "agents": [],
        "loadbalancers": [],
        "datastores": [],
        "api_endpoints": [],
        "api_ports": [],
        "hosts": [],
        "nodes": {},
        # The version each node of the run reports running (hosts that run nothing yet are left out).
        "running_versions": {},
    }


def plan_clusters(nodes: list[dict[str, Any]], partial: bool = False) -> dict[str, Any]:
    """Build the cluster plan.

    Each node record has: ``host`` (inventory name), ``cluster`` (cluster name),
    ``distribution``, ``datastore``, ``roles`` (a list of ``server``/``agent``),
    ``address`` (how the other hosts and the controller reach it),
    ``node_name``, ``api_endpoint`` (the cluster_api_endpoint it was given) and
    ``token_fingerprint`` (a hash of cluster_token, never the token itself).

    Returns ``{"clusters": {name: {...}}, "errors": [str, ...]}``. Hosts are put in
    inventory order by their ``order`` (``[rank, index]``: servers, agents, load
    balancers, datastores, each in its group's order; records without it keep the
    order given, after the others), so the first server is stable across runs.

    Each cluster also gets ``servers_left_out``: the servers of the cluster in the
    inventory (``inventory_servers``) that the run leaves out, in inventory order, and
    ``agents_left_out`` likewise for its agents (``inventory_agents``).

    With ``partial``, the run may hold any part of a cluster, as a reset does (a
    ``--limit`` to some of its hosts): a cluster needs no server in the run, its
    ``first_server`` is the inventory's whether or not the run holds it, a load
    balancer or datastore host may come without the cluster's nodes, and only the
    checks a reset relies on are made (each host's own inputs, the groups, the
    distribution and datastore agreeing, one machine listed once, misspelled
    variables). The shape of the cluster, its networks and its token are not
    checked: nothing is built from such a plan.
    """
    # Inventory order, not play order: the first server listed creates the cluster.
    nodes = sorted(nodes, key=lambda n: tuple(int(x) for x in (n.get("order") or [4, 0])))
    errors: list[str] = []
    clusters: "OrderedDict[str, dict[str, Any]]" = OrderedDict()
    services: list[tuple[str, str, dict[str, Any]]] = []

    for node in nodes:
        host = node["host"]
        name = str(node.get("cluster") or "")
        if not name:
            _err(errors, f"{host}: cluster_name is empty; give every host the name of the cluster it belongs to.")
            continue
        for problem in host_input_errors(node):
            _err(errors, f"{host}: {problem}")
        for problem in (node.get("unknown_variables") or []) + (node.get("choice_problems") or []):
            _err(errors, str(problem))
        service = [r for r in node.get("roles", []) if r in SERVICE_ROLES]
        roles = [r for r in node.get("roles", []) if r in ROLES]
        if service and not roles:
            services.append((name, service[0], node))
            continue
        if not roles:
            _err(errors, f"{host}: the host is in neither the server group nor the agent group; "
                         "put it in one of them or leave it out of the play.")
            continue
        if len(roles) > 1:
            _err(errors, f"{host}: the host is in both the server and the agent group; a node is one or the other.")
            continue
        cluster = clusters.setdefault(name, _new_cluster(name, node))
        cluster["hosts"].append(host)
        cluster[roles[0] + "s"].append(host)
        for key, var in (("distribution", "cluster_distribution"), ("datastore", "cluster_datastore"),
                         ("release_key", "cluster_k3s_version (or cluster_k3s_channel_url)")):
            if node.get(key) != cluster[key]:
                _err(errors, f"cluster '{name}': {var} differs between hosts ({cluster['hosts'][0]}: "
                             f"{cluster[key]!r}, {host}: {node.get(key)!r}); set it once for the whole cluster "
                             "(for example in the cluster's group_vars).")
        if _flag(node.get("airgap")) != cluster["airgap"]:
            _err(errors, f"cluster '{name}': cluster_airgap differs between hosts ({cluster['hosts'][0]}: "
                         f"{cluster['airgap']}, {host}: {_flag(node.get('airgap'))}); a cluster's nodes are airgapped "
                         "together or not at all. Set it once for the cluster (for example in its group_vars).")
        endpoint = node.get("api_endpoint") or ""
        if endpoint and endpoint not in cluster["api_endpoints"]:
            cluster["api_endpoints"].append(endpoint)
        port = node.get("api_port", 6443)
        if port not in cluster["api_ports"]:
            cluster["api_ports"].append(port)
        cluster["nodes"][host] = _node_view(node, roles[0])
        if node.get("running_version"):
            cluster["running_versions"][host] = str(node["running_version"])

    for name, role, node in services:
        cluster = clusters.get(name)
        if cluster is None and partial:
            cluster = clusters[name] = _new_cluster(name, node)
        if cluster is None:
            _err(errors, f"{node['host']}: it is a {role} host of cluster '{name}', but no server or agent of the "
                         f"play belongs to that cluster; set its {'api_lb_cluster' if role == 'loadbalancer' else 'cluster_name'} "
                         "to the cluster it serves, or run it with that cluster's hosts.")
            continue
        cluster[role + "s"].append(node["host"])
        cluster["nodes"][node["host"]] = _node_view(node, role)

    members = [n for n in nodes if set(n.get("roles", [])) & set(ROLES)]
    by_node_name: dict[tuple[str, str], str] = {}
    for node in members:
        name = str(node.get("node_name") or node["host"])
        problem = node_name_error(name)
        if problem:
            _err(errors, f"{node['host']}: the node would register as {name!r}, but {problem}. Set node-name in "
                         "k3s_server_config or k3s_agent_config (K3s), or give the host a valid host name.")
        # The kubelet lowercases the name it registers with.
        key = (str(node.get("cluster")), name.lower())
        if key in by_node_name and by_node_name[key] != node["host"]:
            _err(errors, f"cluster '{key[0]}': hosts {by_node_name[key]} and {node['host']} would both register "
                         f"as node '{key[1]}'; give one of them another hostname or node name.")
        by_node_name.setdefault(key, node["host"])
        for text in [] if partial else node.get("token_problems") or []:
            _err(errors, f"{node['host']}: {text}")

    machines: dict[str, list[str]] = {}
    for node in members:
        if node.get("machine_id"):
            machines.setdefault(str(node["machine_id"]), []).append(node["host"])
    for machine_id, hosts in machines.items():
        if len(hosts) > 1:
            _err(errors, f"hosts {', '.join(hosts)} are one machine (the same machine-id, {machine_id}); list each "
                         "machine once in the inventory. A clone of a VM template keeps the template's machine-id: "
                         "give each clone its own (rm /etc/machine-id && systemd-machine-id-setup).")

    tokens: dict[str, dict[str, list[str]]] = {}
    for node in [] if partial else members:
        fingerprint = node.get("token_fingerprint") or ""
        if fingerprint:
            tokens.setdefault(str(node.get("cluster")), {}).setdefault(fingerprint, []).append(node["host"])
    for name, groups in tokens.items():
        if len(groups) > 1:
            sets = "; ".join(", ".join(hosts) for hosts in groups.values())
            _err(errors, f"cluster '{name}': cluster_token is not the same on every host (hosts sharing a value: "
                         f"{sets}). A cluster has one token; set cluster_token once for the cluster, for example "
                         "in its group_vars (kept in Ansible Vault).")

    address_of = {n["host"]: n.get("address") or n["host"] for n in nodes}
    for name, cluster in clusters.items():
        if cluster["distribution"] not in DISTRIBUTIONS:
            _err(errors, f"cluster '{name}': cluster_distribution must be one of {', '.join(DISTRIBUTIONS)}, "
                         f"not {cluster['distribution']!r}.")
        inventory_servers = _inventory_servers(name, nodes)
        cluster["inventory_servers"] = inventory_servers
        cluster["servers_left_out"] = [h for h in inventory_servers if h not in cluster["servers"]]
        inventory_agents = [str(h) for h in next((n.get("inventory_agents") for n in members
                                                  if n.get("cluster") == name and n.get("inventory_agents")), [])]
        cluster["agents_left_out"] = [h for h in inventory_agents if h not in cluster["agents"]]
        if partial:
            _finish_partial(errors, cluster, inventory_servers, address_of,
                            any(n.get("token_fingerprint") for n in nodes if n.get("cluster") == name))
            continue
        if not cluster["servers"]:
            left_out = sorted({str(n.get("inventory_first_server")) for n in members
                               if n.get("cluster") == name and n.get("inventory_first_server")})
            if left_out:
                _err(errors, f"cluster '{name}': no server of the cluster is in this run (its first server is "
                             f"{left_out[0]}); hosts {', '.join(cluster['agents'])} need one to join. Include the "
                             "servers (widen --limit or cluster_hosts).")
            else:
                _err(errors, f"cluster '{name}': no server; hosts {', '.join(cluster['agents'])} are agents of a "
                             "cluster without a control plane. Add at least one host of the cluster to the server "
                             "group.")
            continue
        if len(cluster["api_endpoints"]) > 1:
            _err(errors, f"cluster '{name}': cluster_api_endpoint differs between hosts "
                         f"({', '.join(cluster['api_endpoints'])}); set it once for the cluster.")
        if cluster["distribution"] == "k3s":
            if cluster["datastore"] not in DATASTORES:
                _err(errors, f"cluster '{name}': cluster_datastore must be one of {', '.join(DATASTORES)}, "
                             f"not {cluster['datastore']!r}.")
            elif cluster["datastore"] == "sqlite" and len(cluster["servers"]) > 1:
                _err(errors, f"cluster '{name}': the sqlite datastore holds one server, but "
                             f"{len(cluster['servers'])} are listed ({', '.join(cluster['servers'])}). "
                             "Set cluster_datastore to 'etcd' (embedded, 3, 5 or 7 servers) or 'external', "
                             "or keep one server.")
            elif cluster["datastore"] == "etcd":
                count = len(cluster["servers"])
                unsafe_ok = all(bool(n.get("allow_unsafe_etcd_size")) for n in nodes if n.get("cluster") == name)
                if (count < 3 or count % 2 == 0) and not unsafe_ok:
                    _err(errors, f"cluster '{name}': embedded etcd needs an odd number of servers, 3 or more, to keep "
                                 f"quorum when one fails; {count} listed ({', '.join(cluster['servers'])}). Use 3, 5 "
                                 "or 7 servers, or set cluster_allow_unsafe_etcd_size: true to accept the risk "
                                 "(for example while growing a cluster).")
            elif cluster["datastore"] == "external":
                servers = [n for n in nodes if n.get("cluster") == name and "server" in n.get("roles", [])]
                for server in servers:
                    # A user and password are needed when the collection provisions the database.
                    found = server.get("datastore_credential_problems" if cluster["datastores"]
                                       else "datastore_problems") or []
                    for problem in found:
                        _err(errors, f"{server['host']}: cluster_datastore_endpoint {problem}.")
                missing = [n["host"] for n in servers if not n.get("datastore_endpoint_set")]
                if missing:
                    _err(errors, f"cluster '{name}': cluster_datastore is 'external' but cluster_datastore_endpoint is "
                                 f"empty on {', '.join(missing)}. Set it for the cluster, for example "
                                 "postgres://k3s:PASSWORD@db.example.net:5432/k3s (keep it in Ansible Vault).")
        elif cluster["distribution"] == "kubeadm":
            _kubeadm_errors(errors, name, cluster, [n for n in nodes if n.get("cluster") == name])
        first = cluster["servers"][0]
        expected = sorted({str(n.get("inventory_first_server")) for n in members
                           if n.get("cluster") == name and n.get("inventory_first_server")})
        if expected and first not in expected:
            _err(errors, f"cluster '{name}': its first server, {expected[0]} (the first host of the cluster in the "
                         f"server group), is not in this run, so {first} would be taken for it and create a cluster "
                         f"of its own. Include {expected[0]} (widen --limit or cluster_hosts), or list another "
                         "server first in the server group to make it the first server.")
        for problem in _network_errors(name, cluster, [n for n in members if n.get("cluster") == name]):
            _err(errors, problem)
        mismatched = [n for n in nodes if n.get("cluster") == name and _flag(n.get("token_mismatch"))]
        if mismatched:
            where = mismatched[0]
            _err(errors, f"cluster '{name}': cluster_token differs from the token the cluster was created with "
                         f"(stored in {where.get('k3s_data_dir') or '/var/lib/rancher/k3s'}/server/token on "
                         f"{where['host']}). K3s encrypts its bootstrap data with that token and would refuse to "
                         "start. Put the original token back in cluster_token, or leave cluster_token empty to keep "
                         "the existing one.")
        cluster["first_server"] = first
        cluster["api_endpoint"] = cluster["api_endpoints"][0] if cluster["api_endpoints"] else address_of[first]
        cluster["api_port"] = _api_port(errors, name, cluster["api_ports"])
        cluster.update(api_addresses(cluster["api_endpoint"], cluster["api_port"]))
        cluster["token_source"] = "cluster_token" if any(
            n.get("token_fingerprint") for n in nodes if n.get("cluster") == name) else "first_server"
    for cluster in clusters.values():
        cluster.pop("api_endpoints", None)
        cluster.pop("api_ports", None)

    return {"clusters": dict(clusters), "errors": errors,
            "release_keys": sorted({str(n.get("release_key") or "") for n in nodes
                                    if n.get("distribution") == "k3s" and n.get("release_key")
                                    and set(n.get("roles", [])) & set(ROLES)})}


def _inventory_servers(name: str, nodes: list[dict[str, Any]]) -> list[str]:
    """The servers of cluster ``name`` in the inventory, in its order, as the first host record that knows says."""
    for node in nodes:
        if str(node.get("cluster") or "") == name and node.get("inventory_servers"):
            return [str(host) for host in node["inventory_servers"]]
    return []


def _finish_partial(errors: list[str], cluster: dict[str, Any], inventory_servers: list[str],
                    address_of: dict[str, str], token_given: bool) -> None:
    """The addresses of a cluster of which the run may hold only part (see ``plan_clusters``)."""
    servers = cluster["servers"]
    first = inventory_servers[0] if inventory_servers else (servers[0] if servers else "")
    cluster["first_server"] = first
    cluster["api_endpoint"] = cluster["api_endpoints"][0] if cluster["api_endpoints"] else address_of.get(first, first)
    cluster["api_port"] = _api_port(errors, cluster["name"], cluster["api_ports"])
    cluster.update(api_addresses(cluster["api_endpoint"], cluster["api_port"]))
    cluster["token_source"] = "cluster_token" if token_given else "first_server"


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*\.?$")
# Directories a host record may carry, by the variable that sets them.
_PATHS = (("k3s_data_dir", "cluster_k3s_data_dir"), ("k3s_bin_dir", "cluster_k3s_bin_dir"),
          ("pki_dir", "cluster_pki_dir"))


_SUBDOMAIN_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def node_name_error(name: str) -> str:
    """Why the kubelet would refuse ``name`` as a node name (it lowercases it first), or ''."""
    lowered = name.strip().lower()
    if not lowered:
        return "it is empty"
    if len(lowered) > 253:
        return "it is longer than 253 characters"
    bad = [label for label in lowered.split(".") if not _SUBDOMAIN_LABEL.match(label) or len(label) > 63]
    if bad:
        return ("Kubernetes node names are DNS subdomains: labels of lower-case letters, digits and dashes, at most "
                f"63 each, starting and ending with a letter or digit, joined by dots ({bad[0]!r} is not one)")
    return ""


def dns_label_suggestion(name: str) -> str:
    """The closest DNS label to ``name``: lower case, other characters as dashes, trimmed to 63."""
    label = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63].strip("-")
    return label or "default"


def endpoint_error(endpoint: str) -> str:
    """Why ``endpoint`` is not a host name or IP address for cluster_api_endpoint, or '' when it is one."""
    value = endpoint.strip()
    if not value:
        return ""
    if "://" in value:
        return ("it carries a scheme; give the host name or address alone (the collection builds "
                "https://<endpoint>:<cluster_api_port> itself)")
    if "/" in value:
        return "it carries a path; give the host name or address alone"
    if value.startswith("["):
        inner, closed, rest = value[1:].partition("]")
        if not closed:
            return "its '[' has no closing ']'; write an IPv6 address as fd00::10 or [fd00::10]"
        if rest:
            return "it carries a port; set the port in cluster_api_port and give the address alone"
        value = inner
    try:
        ipaddress.ip_address(value)
        return ""
    except ValueError:
        pass
    if value.count(":") == 1:
        return "it carries a port; set the port in cluster_api_port and give the host name or address alone"
    if ":" in value:
        return "it is not a valid IPv6 address"
    if not _HOSTNAME.match(value) or value.replace(".", "").isdigit():
        return "it is neither a DNS name (letters, digits, dashes and dots) nor an IP address"
    return ""


def host_input_errors(node: dict[str, Any]) -> list[str]:
    """Problems of one host's own inputs: the cluster name, the API endpoint, the node paths."""
    problems: list[str] = []
    name = str(node.get("cluster") or "")
    if not _DNS_LABEL.match(name):
        problems.append(f"cluster_name is {name!r}, but it becomes a kubeconfig context, a directory and a label, "
                        "so it must be a DNS label (lower-case letters, digits and dashes, at most 63, starting "
                        f"and ending with a letter or digit); for example {dns_label_suggestion(name)!r}.")
    endpoint = str(node.get("api_endpoint") or "")
    why = endpoint_error(endpoint)
    if why:
        problems.append(f"cluster_api_endpoint is {endpoint!r}, but {why}.")
    for key, var in _PATHS:
        value = node.get(key)
        if value is not None and not str(value).startswith("/"):
            problems.append(f"{var} is {value!r}, but it must be an absolute path (starting with /), "
                            f"such as {'/' + str(value).lstrip('./') if str(value).strip('./') else '/var/lib/rancher/k3s'!r}.")
    return problems


def _network_errors(name: str, cluster: dict[str, Any], members: list[dict[str, Any]]) -> list[str]:
    """The pod and service networks in effect, checked against the nodes (see cluster_networks)."""
    first = next((n for n in members if n["host"] == cluster["servers"][0]), {})
    addresses = {n["host"]: [a for a in (n.get("addresses") or []) if a] for n in members}
    if cluster.get("distribution") == "k3s":
        cni = "none" if first.get("flannel_backend") == "none" else "flannel"
        return cluster_network_errors(name, "k3s", first.get("k3s_cluster_cidr") or "10.42.0.0/16",
                                      first.get("k3s_service_cidr") or "10.43.0.0/16", addresses, node_blocks(cni))
    if cluster.get("distribution") == "kubeadm":
        # A block size that is not a number is refused with its own message by the cni role's checks.
        size = str(first.get("calico_block_size") or "26").strip()
        blocks = node_blocks(str(first.get("cni_plugin") or "flannel"), int(size) if size.isdigit() else 26)
        return cluster_network_errors(name, "kubeadm", cluster.get("pod_cidr", ""), cluster.get("service_cidr", ""),
                                      addresses, blocks)
    return []


def _node_view(node: dict[str, Any], role: str) -> dict[str, Any]:
    """What the roles need to know of one host, as the plan publishes it."""
    return {
        "host": node["host"],
        "role": role,
        "address": node.get("address") or node["host"],
        "node_name": node.get("node_name") or node["host"],
        "arch": node.get("arch", ""),
        "cgroup_v1": str(node.get("cgroup_version", 2)) == "1",
        "container": _flag(node.get("container")),
        "swap_off": _flag(node.get("swap_off")),
        "kube_bin_dir": node.get("kube_bin_dir") or "/usr/local/bin",
        "allow_cgroup_v1": _flag(node.get("allow_cgroup_v1")),
        # kubectl with the cluster's admin credentials, as the host runs it (servers hold them).
        "kubectl": list(node.get("kubectl") or []),
        # The collection's scheduled-backup timers installed on the host (unit names).
        "backup_timers": [str(t) for t in node.get("backup_timers") or []],
    }


def _flag(value: Any) -> bool:
    """A yes/no fact, whether templating gave a bool or its text."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "1")
    return bool(value)


def _api_port(errors: list[str], name: str, ports: list[Any]) -> int:
    """The one API port of a cluster: an integer 1-65535, the same on every host."""
    checked: list[int] = []
    for port in ports:
        text = str(port).strip()
        if isinstance(port, bool) or not text.isdigit() or not 1 <= int(text) <= 65535:
            _err(errors, f"cluster '{name}': cluster_api_port must be a port number from 1 to 65535, got {port!r}.")
            continue
        if int(text) not in checked:
            checked.append(int(text))
    if len(checked) > 1:
        _err(errors, f"cluster '{name}': cluster_api_port differs between hosts ({', '.join(map(str, checked))}); "
                     "set it once for the cluster.")
    return checked[0] if checked else 6443


def api_addresses(endpoint: str, port: int) -> dict[str, str]:
    """The API's host:port and URL, with IPv6 addresses in brackets."""
    host = endpoint.strip("[]")
    shown = f"[{host}]" if ":" in host else host
    return {"api_hostport": f"{shown}:{port}", "api_url": f"https://{shown}:{port}"}


def finish_plan(plan: dict[str, Any], releases: dict[str, str], keep_running: bool = False) -> dict[str, Any]:
    """Add what is known once the K3s releases are resolved: versions, minors, the cgroup v1 policy.

    ``releases`` maps each K3s release key (``"<version> <channel url>"``) to the release it resolved to.
    With ``keep_running`` (a build: site.yml), a cluster whose nodes run already keeps the version they run, whatever
    the inventory asks for: ``wanted_version`` is the inventory's, and ``notices`` say which clusters keep another.
    Returns a new plan; its ``errors`` gain the hosts whose kubelet would refuse cgroup v1, and the clusters whose
    nodes run different versions when ``keep_running``.
    """
    errors = list(plan["errors"])
    notices: list[str] = []
    clusters: dict[str, dict[str, Any]] = {}
    for name, cluster in plan["clusters"].items():
        cluster = dict(cluster)
        if cluster.get("distribution") == "k3s":
            wanted = releases.get(cluster.get("release_key") or "", "")
            variable = "cluster_k3s_version: " + str(cluster.get("release_key") or "").split(" ", maxsplit=1)[0]
        else:
            wanted = cluster.get("kubernetes_version", "")
            variable = "cluster_kubernetes_version"
        cluster["wanted_version"] = wanted
        version = wanted
        if keep_running and cluster.get("running_versions") and cluster.get("distribution") in DISTRIBUTIONS:
            kept = kept_version(name, wanted, cluster["running_versions"], variable)
            version = kept["version"]
            for text, found in ((kept["error"], errors), (kept["notice"], notices)):
                if text:
                    _err(found, text)
        if cluster.get("distribution") == "k3s":
            cluster["k3s_version"] = version
        else:
            cluster["k3s_version"] = ""
            cluster["kubernetes_version"] = version
        match = re.match(r"^v1\.([0-9]+)\.", version or "")
        cluster["kube_minor"] = int(match.group(1)) if match else 0
        refused = [h for h, n in cluster.get("nodes", {}).items()
                   if n["role"] in ROLES and n["cgroup_v1"] and not n["allow_cgroup_v1"]
                   and cluster["kube_minor"] > _CGROUP_V1_LAST_MINOR]
        if refused:
            _err(errors, "Kubernetes 1.35 and newer kubelets refuse to run on cgroup v1 hosts, and these hosts are "
                         f"cgroup v1: {', '.join(refused)}. Boot them with the unified cgroup hierarchy "
                         "(systemd.unified_cgroup_hierarchy=1), pin an older release (cluster_k3s_version: v1.34), "
                         "or accept the deprecated mode with cluster_allow_cgroup_v1: true, which passes "
                         "fail-cgroupv1=false to the kubelet.")
        clusters[name] = cluster
    k3s_versions = sorted({c["k3s_version"] for c in clusters.values() if c.get("k3s_version")})
    return {**plan, "clusters": clusters, "errors": errors, "notices": notices, "k3s_versions": k3s_versions}


def _kubeadm_errors(errors: list[str], name: str, cluster: dict[str, Any], nodes: list[dict[str, Any]]) -> None:
    """The rules of a kubeadm cluster; records what it needs in ``cluster``."""
    versions = sorted({str(n.get("kubernetes_version") or "") for n in nodes})
    if len(versions) > 1:
        _err(errors, f"cluster '{name}': cluster_kubernetes_version differs between hosts ({', '.join(versions)}); "
                     "a kubeadm cluster is installed at one version. Set it once for the cluster.")
    version = versions[0] if versions else ""
    if len(versions) == 1 and not _PINNED.match(version):
        _err(errors, f"cluster '{name}': a kubeadm cluster needs cluster_kubernetes_version pinned to a release such as "
                     f"v1.35.2 (got {version!r}); kubeadm, kubelet and kubectl are fetched for that exact version.")
    cluster["kubernetes_version"] = version
    count = len(cluster["servers"])
    servers = ", ".join(cluster["servers"])
    if count > 1:
        # Stacked etcd: every control plane is an etcd member, so the quorum rules of embedded etcd apply.
        unsafe_ok = all(bool(n.get("allow_unsafe_etcd_size")) for n in nodes)
        if count % 2 == 0 and not unsafe_ok:
            _err(errors, f"cluster '{name}': {count} control planes listed ({servers}); each one is a member of the "
                         "cluster's stacked etcd, which needs an odd number (3, 5 or 7) to keep quorum when one "
                         "fails. Use an odd number, or set cluster_allow_unsafe_etcd_size: true to accept the risk.")
        if not cluster["api_endpoints"]:
            _err(errors, f"cluster '{name}': {count} control planes listed ({servers}) but cluster_api_endpoint is "
                         "not set. kubeadm joins control planes only to a cluster with a stable controlPlaneEndpoint "
                         "that stays reachable when any one of them is down: set cluster_api_endpoint to a load "
                         "balancer in front of the control planes (for example hosts in the loadbalancers group, "
                         "kubeforge.cluster.api_lb) before the cluster is first created.")
    for key, var in (("pod_cidr", "cluster_pod_cidr"), ("service_cidr", "cluster_service_cidr")):
        values = sorted({str(n.get(key) or "") for n in nodes})
        if len(values) > 1:
            _err(errors, f"cluster '{name}': {var} differs between hosts ({', '.join(values)}); set it once for "
                         "the cluster.")
        cluster[key] = values[0] if values else ""


def summary_table(cluster: dict[str, Any], context: str = "") -> str:
    """One cluster of the plan as the table the end of a run prints: what was built, where, and how to reach it."""
    version = cluster.get("k3s_version") or cluster.get("kubernetes_version") or "?"
    datastore = cluster.get("datastore") if cluster.get("distribution") == "k3s" else "stacked etcd"
    lines = [
        f"cluster {cluster.get('name')}: {cluster.get('distribution')} {version}, datastore {datastore}, "
        f"API {cluster.get('api_url')}, kubeconfig context '{context or cluster.get('name')}'",
    ]
    rows = [("host", "role", "arch", "node name")]
    for host, node in (cluster.get("nodes") or {}).items():
        rows.append((host, node.get("role", ""), node.get("arch") or "-", node.get("node_name") or "-"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
    for index, row in enumerate(rows):
        lines.append("  " + "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
        if index == 0:
            lines.append("  " + "  ".join("-" * width for width in widths))
    return "\n".join(lines)
