# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Versions of running clusters: what site.yml keeps, and the plan of an upgrade.

Pure logic, no I/O: the roles hand in what they read (the version each host's binaries report, the Nodes the API
lists, the newest release of each minor the release source names) and get back versions, hops and problems.

The rules are Kubernetes' version skew policy (https://kubernetes.io/releases/version-skew-policy/): the API servers
of a cluster are at most one minor apart, a kubelet is never newer than the API servers and at most three minors
older, and a control plane moves one minor at a time.
"""
from __future__ import annotations

import re
from typing import Any

# v1.35.1, v1.35.1+k3s1, v1.35.1-rc1+k3s2; "Kubernetes v1.35.2" and "k3s version v1.35.1+k3s1 (abc)" are read too.
_VERSION = re.compile(r"v([0-9]+)\.([0-9]+)\.([0-9]+)(-rc[0-9]+)?(?:\+k3s([0-9]+))?")
_BATCH = re.compile(r"^([0-9]+)(%?)$")
# A kubelet may be this many minors older than the API servers (Kubernetes 1.28 and later).
KUBELET_MAX_LAG = 3
# The hop plays playbooks/upgrade.yml has: the most minors one run moves a cluster.
MAX_HOPS = 3
UPGRADE_COMMAND = "ansible-playbook kubeforge.cluster.upgrade"
# Set on a Node while the upgrade has it cordoned (the version it moves to); removed when it is uncordoned. A run
# stopped in between leaves it, and the next run finishes that node (uncordons it) even when it reached the version.
UPGRADING_ANNOTATION = "kubeforge.io/upgrading"


class UpgradeError(ValueError):
    """Input the upgrade helpers cannot work with (a programming error of the caller)."""


def parse(version: str) -> tuple[int, int, int, int, int] | None:
    """``(major, minor, patch, final, build)`` of a version, comparable; None when there is none in the text.

    ``final`` is 0 for a release candidate and 1 for a release, so v1.35.0-rc1 sorts before v1.35.0."""
    match = _VERSION.search(str(version or ""))
    if not match:
        return None
    return (int(match.group(1)), int(match.group(2)), int(match.group(3)), 0 if match.group(4) else 1,
            int(match.group(5) or 0))


def version_in(text: str) -> str:
    """The version a binary's ``--version`` output names (``k3s version v1.35.1+k3s1 (abc)``, ``Kubernetes
    v1.35.2``), or an empty string."""
    match = _VERSION.search(str(text or ""))
    return match.group(0) if match else ""


def minor(version: str) -> str:
    """``v1.35`` for ``v1.35.1+k3s1``; empty when the text holds no version."""
    parts = parse(version)
    return "v%d.%d" % parts[:2] if parts else ""


def _key(version: str) -> tuple[int, int, int, int, int]:
    parts = parse(version)
    if parts is None:
        raise UpgradeError("%r is not a Kubernetes or K3s version" % (version,))
    return parts


def _minor_number(version: str) -> tuple[int, int]:
    return _key(version)[:2]


def kept_version(cluster: str, wanted: str, running: dict[str, str], variable: str) -> dict[str, str]:
    """What site.yml installs on a cluster some of whose hosts run already.

    ``running`` maps each host of the run that runs the cluster's software to the version it reports; ``wanted`` is
    the version the inventory resolves to, ``variable`` the inventory variable that sets it. Returns ``version``
    (the version to install: the running one when the cluster runs), ``notice`` (what site.yml says when it keeps
    a version the inventory does not ask for) and ``error`` (hosts that disagree: an upgrade that did not finish)."""
    versions = sorted(set(v for v in running.values() if v), key=_key)
    if not versions:
        return {"version": wanted, "notice": "", "error": ""}
    if len(versions) > 1:
        hosts = ", ".join("%s %s" % (h, v) for h, v in sorted(running.items()) if v)
        return {"version": wanted, "notice": "", "error": (
            "cluster '%s': its hosts run different versions (%s): an upgrade did not finish. site.yml changes no "
            "version; finish the upgrade with %s (it goes on where it stopped), then run site.yml again."
            % (cluster, hosts, UPGRADE_COMMAND))}
    current = versions[0]
    # An inventory version that is no version at all is refused by the plan's own checks.
    if not wanted or parse(wanted) is None or current == wanted:
        return {"version": current, "notice": "", "error": ""}
    if _key(wanted) < _key(current):
        notice = ("cluster '%s' runs %s, and the inventory asks for %s (%s), an older release: Kubernetes does not "
                  "support downgrades. site.yml keeps %s, and new nodes join at %s. Set %s to %s."
                  % (cluster, current, wanted, variable, current, current, variable, current))
    else:
        notice = ("cluster '%s' runs %s, and the inventory asks for %s (%s). site.yml never upgrades: it keeps %s, "
                  "and new nodes join at %s. To upgrade, run %s with the same inventory."
                  % (cluster, current, wanted, variable, current, current, UPGRADE_COMMAND))
    return {"version": current, "notice": notice, "error": ""}


def intermediate_minors(running: str, target: str) -> list[str]:
    """The minors strictly between the running and the target version (``['v1.34']`` from v1.33.x to v1.35.x)."""
    low, high = _minor_number(running), _minor_number(target)
    if low[0] != high[0]:
        raise UpgradeError("cannot upgrade across major versions (%s to %s)" % (running, target))
    return ["v%d.%d" % (low[0], m) for m in range(low[1] + 1, high[1])]


def hops(cluster: str, running: str, target: str, newest: dict[str, str], allow_multi_hop: bool) -> dict[str, Any]:
    """The versions an upgrade of a cluster from ``running`` to ``target`` goes through, in order.

    ``newest`` maps each minor between the two (see intermediate_minors) to its newest release, from the release
    source. Returns ``hops`` (the versions, target last; empty when the cluster runs the target) and ``problems``."""
    if not running or running == target:
        return {"hops": [], "problems": []}
    if _key(target) < _key(running):
        return {"hops": [], "problems": [
            "cluster '%s' runs %s, newer than the inventory's %s: Kubernetes does not support downgrades, and this "
            "upgrade changes nothing. Set the inventory's version to %s, or restore a backup taken at %s."
            % (cluster, running, target, running, target)]}
    between = intermediate_minors(running, target)
    if between and not allow_multi_hop:
        return {"hops": [], "problems": [
            "cluster '%s' runs %s, and %s skips %s: a control plane moves one minor at a time. Set "
            "upgrade_allow_multi_hop: true to go through the newest release of each minor in between, or set the "
            "inventory's version to a %s release first." % (cluster, running, target, ", ".join(between), between[0])]}
    missing = [m for m in between if not newest.get(m)]
    if missing:
        return {"hops": [], "problems": [
            "cluster '%s': no release of %s is known to go through from %s to %s; name them in upgrade_hops "
            "(for example upgrade_hops: ['%s.X'])." % (cluster, ", ".join(missing), running, target, missing[0])]}
    path = [newest[m] for m in between] + [target]
    for m, version in zip(between, path):
        if minor(version) != m:
            return {"hops": [], "problems": [
                "cluster '%s': %s is named as the release of %s to go through, but it is a %s release."
                % (cluster, version, m, minor(version) or "not a")]}
    if len(path) > MAX_HOPS:
        return {"hops": [], "problems": [
            "cluster '%s': %s to %s takes %d hops (%s), and one run makes at most %d; upgrade to %s first."
            % (cluster, running, target, len(path), ", ".join(path), MAX_HOPS, path[MAX_HOPS - 1])]}
    return {"hops": path, "problems": []}


def node_problems(cluster: str, nodes: list[dict[str, Any]], datastore: str) -> list[str]:
    """Why a cluster cannot be upgraded as it stands; empty when it can.

    ``nodes``: one dict a Node of the API, with ``name``, ``role`` (``server`` or ``agent``), ``ready`` (bool) and
    ``version`` (its kubelet's). Refused: Nodes that are not Ready, versions already outside the skew policy, and
    an embedded etcd cluster that would lose quorum while one of its servers restarts."""
    problems = []
    not_ready = sorted(n["name"] for n in nodes if not n.get("ready"))
    if not_ready:
        problems.append("cluster '%s': Nodes %s are not Ready. An upgrade takes one node down at a time and needs "
                        "the others serving; bring them back (or remove them with kubeforge.cluster.remove_node) "
                        "and run the upgrade again." % (cluster, ", ".join(not_ready)))
    servers = [n for n in nodes if n.get("role") == "server" and parse(n.get("version", ""))]
    agents = [n for n in nodes if n.get("role") != "server" and parse(n.get("version", ""))]
    if servers:
        oldest = min(servers, key=lambda n: _key(n["version"]))
        newest = max(servers, key=lambda n: _key(n["version"]))
        if _minor_number(newest["version"])[1] - _minor_number(oldest["version"])[1] > 1:
            problems.append("cluster '%s': control planes %s (%s) and %s (%s) are more than one minor apart, outside "
                            "the version skew policy; bring %s to %s by hand before upgrading."
                            % (cluster, oldest["name"], oldest["version"], newest["name"], newest["version"],
                               oldest["name"], minor(newest["version"])))
        for agent in agents:
            lag = _minor_number(oldest["version"])[1] - _minor_number(agent["version"])[1]
            if _key(agent["version"])[:3] > _key(oldest["version"])[:3]:
                problems.append("cluster '%s': Node %s runs kubelet %s, newer than control plane %s (%s); a "
                                "kubelet is never newer than the API servers. Upgrade the control planes first."
                                % (cluster, agent["name"], agent["version"], oldest["name"], oldest["version"]))
            elif lag > KUBELET_MAX_LAG:
                problems.append("cluster '%s': Node %s runs kubelet %s, %d minors older than the control planes "
                                "(%s); the policy allows %d. Upgrade that node by hand first."
                                % (cluster, agent["name"], agent["version"], lag, oldest["version"], KUBELET_MAX_LAG))
    members = [n for n in nodes if n.get("role") == "server"]
    if datastore == "etcd" and len(members) > 1:
        ready = len([n for n in members if n.get("ready")])
        quorum = len(members) // 2 + 1
        if ready - 1 < quorum:
            problems.append("cluster '%s': %d of its %d etcd members (servers) are Ready; with one more restarting "
                            "for the upgrade, etcd would lose quorum (%d needed). Bring the others back first."
                            % (cluster, ready, len(members), quorum))
    return problems


def batch_problem(value: Any) -> str:
    """Why ``upgrade_agent_batch`` is not a batch size (a count of 1 or more, or a percentage 1%-100%)."""
    match = _BATCH.match(str(value).strip())
    number = int(match.group(1)) if match else 0
    if not match or number < 1 or (match.group(2) and number > 100):
        return ("upgrade_agent_batch is %r: give the number of agents upgraded together (1 or more), or a share of "
                "them such as '20%%' (1%% to 100%%; at least one agent a batch)." % (value,))
    return ""


def batch_size(value: Any, agents: int) -> int:
    """How many agents of ``agents`` a batch of ``upgrade_agent_batch`` takes: the count, or the share rounded up
    (20% of 8 agents is 2), at least one and at most all of them."""
    problem = batch_problem(value)
    if problem:
        raise UpgradeError(problem)
    match = _BATCH.match(str(value).strip())
    number = int(match.group(1))  # type: ignore[union-attr]
    size = -(-number * agents // 100) if match.group(2) else number  # type: ignore[union-attr]
    return max(1, min(size, agents)) if agents > 0 else max(1, size)


# The labels the system-upgrade-controller's Plans select on, and the K3s upgrade image's prepare step.
_SUC_CONTROL_PLANE = "node-role.kubernetes.io/control-plane"


def suc_plans(cluster: dict[str, Any], version: str, batch: Any, drain: bool, drain_timeout: int,
              grace_period: int, image: str, namespace: str) -> list[dict[str, Any]]:
    """The two ``upgrade.cattle.io/v1`` Plans that have K3s's system-upgrade-controller move a cluster to
    ``version``: the servers one at a time (cordoned, as their taints may keep workloads away), then the agents in
    batches of ``batch``, each waiting for the servers' Plan through the upgrade image's ``prepare`` step, drained
    with the upgrade's drain settings (or only cordoned). Both select the cluster's Nodes by role; the plan's
    servers and agents name them."""
    if cluster.get("distribution") != "k3s":
        raise UpgradeError("the system-upgrade-controller moves K3s nodes only (cluster %r is %s)"
                           % (cluster.get("name"), cluster.get("distribution")))
    if not parse(version):
        raise UpgradeError("%r is not a K3s version" % (version,))
    name = str(cluster.get("name"))
    server_plan = "kubeforge-%s-server" % name
    labels = {"app.kubernetes.io/managed-by": "kubeforge", "kubeforge.io/cluster-name": name}

    def plan(role: str, concurrency: int, selector: dict[str, Any]) -> dict[str, Any]:
        spec: dict[str, Any] = {"concurrency": concurrency, "version": version, "serviceAccountName": "system-upgrade",
                                "nodeSelector": {"matchExpressions": [selector]},
                                "upgrade": {"image": image}}
        if role == "server" or not drain:
            spec["cordon"] = True
        else:
            spec["drain"] = {"ignoreDaemonSets": True, "deleteEmptydirData": True, "timeout": "%ds" % drain_timeout}
            if grace_period >= 0:
                spec["drain"]["gracePeriod"] = grace_period
        if role == "server":
            spec["tolerations"] = [{"operator": "Exists"}]
        else:
            spec["prepare"] = {"image": image, "args": ["prepare", server_plan]}
        return {"apiVersion": "upgrade.cattle.io/v1", "kind": "Plan",
                "metadata": {"name": "kubeforge-%s-%s" % (name, role), "namespace": namespace, "labels": labels},
                "spec": spec}

    agents = len(cluster.get("agents") or []) + len(cluster.get("agents_left_out") or [])
    return [plan("server", 1, {"key": _SUC_CONTROL_PLANE, "operator": "In", "values": ["true"]}),
            plan("agent", batch_size(batch, agents), {"key": _SUC_CONTROL_PLANE, "operator": "DoesNotExist"})]


def node_needs(node_version: str, binary_version: str, hop: str) -> bool:
    """Whether a node still has to move to ``hop``: its kubelet or its binary is older than it (or unknown)."""
    for seen in (node_version, binary_version):
        if not parse(seen) or _key(seen) < _key(hop):
            return True
    return False


def describe(cluster: str, running: str, path: list[str], servers: list[str], agents: list[str], batch: Any,
             snapshot: bool) -> str:
    """One paragraph: what an upgrade of the cluster does, in order."""
    if not path:
        return "cluster '%s' runs %s already: nothing to upgrade." % (cluster, running)
    steps = " -> ".join([running] + path)
    order = "servers one at a time (%s)" % ", ".join(servers) if servers else "no server"
    if agents:
        order += ", then agents in batches of %s (%s)" % (batch, ", ".join(agents))
    text = "cluster '%s': %s, %s; each node cordoned, drained, upgraded, Ready at the new version, uncordoned" % (
        cluster, steps, order)
    if len(path) > 1:
        text += "; every node reaches one hop before any node starts the next"
    if snapshot:
        text += "; an etcd snapshot first"
    return text + "."


def api_nodes(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Nodes of ``kubectl get nodes -o json`` (its ``items``) as node_problems takes them."""
    found = []
    for item in items:
        labels = (item.get("metadata") or {}).get("labels") or {}
        conditions = (item.get("status") or {}).get("conditions") or []
        found.append({
            "name": (item.get("metadata") or {}).get("name", ""),
            "role": "server" if labels.get("node-role.kubernetes.io/control-plane") in ("true", "") else "agent",
            "ready": any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions),
            "version": ((item.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", ""),
            "upgrading": ((item.get("metadata") or {}).get("annotations") or {}).get(UPGRADING_ANNOTATION, ""),
        })
    return found


def _node_name(cluster: dict[str, Any], host: str) -> str:
    return str(cluster["nodes"][host].get("node_name") or host).lower()


def _host_versions(cluster: dict[str, Any], nodes: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """Each node host of the cluster: (what its Node reports, what its binary reports); empty when unknown."""
    by_name = {n["name"]: n.get("version", "") for n in nodes}
    running = cluster.get("running_versions") or {}
    return {host: (by_name.get(_node_name(cluster, host), ""), str(running.get(host, "")))
            for host in list(cluster.get("servers", [])) + list(cluster.get("agents", []))}


def _oldest(cluster: dict[str, Any], nodes: list[dict[str, Any]]) -> str:
    seen = [v for pair in _host_versions(cluster, nodes).values() for v in pair if parse(v)]
    return min(seen, key=_key) if seen else ""


def _target(cluster: dict[str, Any]) -> str:
    return str(cluster.get("k3s_version") or cluster.get("kubernetes_version") or "")


def minors_to_resolve(cluster: dict[str, Any], items: list[dict[str, Any]]) -> list[str]:
    """The minors an upgrade of the cluster would go through, whose newest release the release source names."""
    oldest, target = _oldest(cluster, api_nodes(items)), _target(cluster)
    if not parse(oldest) or not parse(target) or _key(target) <= _key(oldest):
        return []
    try:
        return intermediate_minors(oldest, target)
    except UpgradeError:
        return []


def plan_upgrade(cluster: dict[str, Any], items: list[dict[str, Any]], newest: dict[str, str],
                 allow_multi_hop: bool, batch: Any) -> dict[str, Any]:
    """The upgrade of one cluster (its ``cluster_plan``, planned for the inventory's version) from what runs.

    ``items``: the cluster's Nodes (``kubectl get nodes -o json``); ``newest``: the newest release of each minor of
    minors_to_resolve. Returns ``from`` (the oldest version a node runs), ``hops``, ``steps`` (for each hop, the
    ``servers`` and ``agents`` that still have to make it, in inventory order, with the nodes a stopped run left
    marked with ``annotation``), ``snapshot`` (an embedded etcd snapshot is due), ``description`` and ``problems``
    (nothing may change while there is one)."""
    name, target = str(cluster.get("name")), _target(cluster)
    nodes = api_nodes(items)
    versions = _host_versions(cluster, nodes)
    problems = []
    left_out = list(cluster.get("servers_left_out") or []) + list(cluster.get("agents_left_out") or [])
    if left_out:
        problems.append("cluster '%s': %s of the cluster %s left out of the run; a cluster is upgraded as a whole, so "
                        "the skew between its nodes stays within the policy. Widen --limit (or cluster_hosts)."
                        % (name, ", ".join(left_out), "is" if len(left_out) == 1 else "are"))
    unknown = [h for h, (node, binary) in versions.items() if not node]
    if unknown:
        verb = "has" if len(unknown) == 1 else "have"
        problems.append("cluster '%s': %s %s no Node in the cluster's API (by node name); run site.yml to finish "
                        "building the cluster before upgrading it." % (name, ", ".join(unknown), verb))
    found = batch_problem(batch)
    if found:
        problems.append(found)
    kubeadm = cluster.get("distribution") == "kubeadm"
    # kubeadm's control planes run a stacked etcd member each.
    problems += node_problems(name, nodes, "etcd" if kubeadm else str(cluster.get("datastore") or ""))
    # A node whose binary (a kubeadm control plane: its API server) is newer than what its Node reports stopped
    # half-way through its own upgrade.
    halfway = sorted(h for h, (node, binary) in versions.items()
                     if parse(node) and parse(binary) and _key(binary) > _key(node))
    if halfway and any(not n.get("ready") for n in nodes):
        one = len(halfway) == 1
        problems.append("cluster '%s': %s %s %s than %s Node reports: %s upgrade stopped half-way. Read %s journal "
                        "(%s), fix the cause and start %s there; the upgrade then goes on from %s."
                        % (name, ", ".join(halfway), "runs" if one else "run",
                           "a newer API server or kubelet" if kubeadm else "a newer k3s binary",
                           "its" if one else "their", "its" if one else "their", "its" if one else "their",
                           "journalctl -u kubelet" if kubeadm else "journalctl -u k3s or k3s-agent",
                           "the kubelet" if kubeadm else "K3s", "it" if one else "them"))
    oldest = _oldest(cluster, nodes)
    path: list[str] = []
    if not oldest:
        problems.append("cluster '%s' does not run: build it with site.yml; there is nothing to upgrade." % name)
    elif not parse(target):
        problems.append("cluster '%s': the inventory's version %r is not a release to upgrade to." % (name, target))
    else:
        moved = hops(name, oldest, target, newest, allow_multi_hop)
        problems += moved["problems"]
        path = moved["hops"]
        ahead = sorted(h for h, pair in versions.items() for v in pair if parse(v) and _key(v) > _key(target))
        if ahead and not moved["problems"]:
            problems.append("cluster '%s': %s already %s newer than %s; Kubernetes does not support downgrades."
                            % (name, ", ".join(sorted(set(ahead))), "runs" if len(set(ahead)) == 1 else "run",
                               target))
    # Nodes a stopped run left cordoned at a hop's version: that hop finishes them (the target's, when the cluster
    # has reached it).
    upgrading = {n["name"]: n["upgrading"] for n in nodes if n.get("upgrading")}
    left = {h: upgrading[_node_name(cluster, h)] for h in versions if _node_name(cluster, h) in upgrading}
    if left and not problems and not path and parse(target):
        path = [target]
    steps = [{kind: [h for h in cluster.get(kind, []) if node_needs(*versions[h], hop) or left.get(h) == hop
                     or (left.get(h) and i == len(path) - 1 and left[h] not in path)]
              for kind in ("servers", "agents")}
             for i, hop in enumerate([] if problems else path)]
    # K3s's embedded etcd (kubeadm upgrade apply keeps its own copy of the etcd data under /etc/kubernetes/tmp).
    snapshot = not kubeadm and cluster.get("datastore") == "etcd" and any(step["servers"] for step in steps)
    description = describe(name, oldest, [] if problems else path, list(cluster.get("servers", [])),
                           list(cluster.get("agents", [])), batch, snapshot)
    if left and steps:
        description += " A stopped run left %s cordoned: %s finished first in %s hop." % (
            ", ".join(sorted(left)), "it is" if len(left) == 1 else "they are", "its")
    return {"from": oldest, "hops": [] if problems else path, "steps": steps, "snapshot": snapshot,
            "problems": problems, "description": description, "annotation": UPGRADING_ANNOTATION}
