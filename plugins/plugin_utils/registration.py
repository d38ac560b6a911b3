# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registration of spokes with their hub: which spokes a run registers or deregisters, and with what.

Pure logic, no I/O. ``plan`` takes one record a host of the run (its cluster, the cluster's place in the topology
from the ``cluster_topology`` filter, and the host's ``registration_*`` settings) and returns, per spoke, what the
``registration`` role writes: on the spoke a ServiceAccount bound to a ClusterRole (cluster-admin's rules unless the
user gives narrower ones) and its token Secret; on the hub, in Argo CD's namespace, a cluster Secret. ``argocd_secret``
builds that Secret (the token and the CA data are secrets: the caller keeps them out of the log).
"""
from __future__ import annotations

import base64
import json
import re
from typing import Any

BACKENDS = ("none", "argocd")
STATES = ("present", "absent")
RULE_KEYS = ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs")
# What ``argocd cluster add`` grants its argocd-manager by default: everything, as cluster-admin does.
ADMIN_RULES = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
               {"nonResourceURLs": ["*"], "verbs": ["*"]}]
SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SETTINGS = ("backend", "state", "rules", "argocd_namespace", "service_account", "service_account_namespace")


def _strings(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v for v in value)


def rules_problems(rules: Any) -> list[str]:
    """Problems of ``registration_rules``, a list of RBAC PolicyRules (empty: cluster-admin's rules)."""
    if rules is None:
        return []
    if not isinstance(rules, list):
        return ["registration_rules must be a list of RBAC rules (apiGroups, resources, verbs, ...), not %s"
                % type(rules).__name__]
    problems = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            problems.append("registration_rules[%d] must be a mapping" % i)
            continue
        unknown = sorted(set(rule) - set(RULE_KEYS), key=str)
        if unknown:
            problems.append("registration_rules[%d] has %s; a rule takes %s"
                            % (i, ", ".join(map(repr, unknown)), ", ".join(RULE_KEYS)))
        if not _strings(rule.get("verbs")):
            problems.append("registration_rules[%d].verbs must be a non-empty list of verbs (get, list, watch, ...)" % i)
        if rule.get("nonResourceURLs") is not None:
            if not _strings(rule["nonResourceURLs"]):
                problems.append("registration_rules[%d].nonResourceURLs must be a non-empty list of paths" % i)
            if rule.get("resources") or rule.get("apiGroups"):
                problems.append("registration_rules[%d] mixes nonResourceURLs with apiGroups/resources; Kubernetes "
                                "takes one or the other in a rule" % i)
        else:
            for key in ("apiGroups", "resources"):
                value = rule.get(key)
                if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
                    problems.append("registration_rules[%d].%s must be a non-empty list (\"\" is the core group)"
                                    % (i, key))
        if rule.get("resourceNames") is not None and not _strings(rule["resourceNames"]):
            problems.append("registration_rules[%d].resourceNames must be a list of names" % i)
    return problems


def plan(records: list[dict[str, Any]]) -> dict[str, Any]:
    """``records``: one a host of the run - ``host``, ``cluster``, ``topology`` (the cluster's entry of the
    ``cluster_topology`` filter), ``api_url``, ``backend``, ``state``, ``rules``, ``argocd_namespace``,
    ``service_account`` and ``service_account_namespace`` (the host's ``registration_*`` settings). Returns
    ``errors`` (naming the cluster and the variable) and ``spokes``: for each spoke of the run whose backend is not
    ``none``, its hub, state, server (API URL), labels (the cluster's, the collection's included), rules and names."""
    errors: list[str] = []
    first: dict[str, dict[str, Any]] = {}
    for rec in records:
        name = str(rec.get("cluster"))
        mine = first.setdefault(name, rec)
        for key in _SETTINGS:
            if rec.get(key) != mine.get(key):
                msg = ("cluster '%s': registration_%s differs between hosts (%s: %r, %s: %r); set it once for the "
                       "cluster (for example in its group_vars)"
                       % (name, key, mine.get("host"), mine.get(key), rec.get("host"), rec.get(key)))
                if msg not in errors:
                    errors.append(msg)
    spokes: dict[str, dict[str, Any]] = {}
    for name, rec in sorted(first.items()):
        where = "cluster '%s': " % name
        problems = []
        if rec.get("backend") not in BACKENDS:
            problems.append("registration_backend must be one of %s, not %r (pull-mode backends are not built yet)"
                            % (", ".join(BACKENDS), rec.get("backend")))
        if rec.get("state") not in STATES:
            problems.append("registration_state must be present or absent, not %r" % (rec.get("state"),))
        problems.extend(rules_problems(rec.get("rules")))
        for key in ("argocd_namespace", "service_account", "service_account_namespace"):
            value = rec.get(key)
            if not (isinstance(value, str) and _DNS_LABEL.match(value) and len(value) <= 63):
                problems.append("registration_%s must be a DNS label (lowercase alphanumerics and '-'), not %r"
                                % (key, value))
        topo = rec.get("topology") or {}
        if rec.get("backend") == "argocd" and topo.get("role") == "spoke" and not rec.get("api_url"):
            problems.append("the cluster has no API URL for its hub to reach it; set cluster_api_endpoint")
        errors.extend(where + p for p in problems)
        if problems or rec.get("backend") != "argocd" or topo.get("role") != "spoke":
            continue
        spokes[name] = {"hub": topo["hub"], "state": rec["state"], "server": rec["api_url"],
                        "labels": dict(topo.get("labels") or {}), "rules": rec.get("rules") or ADMIN_RULES,
                        "argocd_namespace": rec["argocd_namespace"], "service_account": rec["service_account"],
                        "service_account_namespace": rec["service_account_namespace"]}
    return {"errors": errors, "spokes": spokes}


def spoke_objects(spoke: dict[str, Any]) -> list[dict[str, Any]]:
    """What a spoke holds for its hub: the ServiceAccount, its ClusterRole and ClusterRoleBinding, and the
    ``kubernetes.io/service-account-token`` Secret the token controller fills (Kubernetes 1.24+ makes none itself)."""
    sa, ns = spoke["service_account"], spoke["service_account_namespace"]
    labels = {"app.kubernetes.io/managed-by": "kubeforge", "app.kubernetes.io/part-of": "kubeforge-registration"}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa, "namespace": ns, "labels": labels}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": sa + "-role", "labels": labels}, "rules": spoke["rules"]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": sa + "-role-binding", "labels": labels},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": sa + "-role"},
         "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}]},
        {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
         "metadata": {"name": sa + "-token", "namespace": ns, "labels": labels,
                      "annotations": {"kubernetes.io/service-account.name": sa}}},
    ]


def argocd_secret(cluster: str, spoke: dict[str, Any], token_secret: dict[str, Any]) -> dict[str, Any]:
    """The hub's Argo CD cluster Secret for ``cluster`` (a spoke of ``plan``), from the spoke's filled token Secret
    (its ``data.token`` and ``data["ca.crt"]``, base64 as the API returns them). Deterministic: the same inputs give
    the same object, so applying it again changes nothing. Raises ValueError when the token is not there yet."""
    data = (token_secret or {}).get("data") or {}
    if not data.get("token") or not data.get("ca.crt"):
        raise ValueError("the token Secret of cluster '%s' has no token or ca.crt yet" % cluster)
    token = base64.b64decode(data["token"]).decode()
    config = {"bearerToken": token, "tlsClientConfig": {"insecure": False, "caData": data["ca.crt"]}}

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    labels = dict(spoke["labels"], **{SECRET_TYPE_LABEL: "cluster", "app.kubernetes.io/managed-by": "kubeforge"})
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "cluster-" + cluster, "namespace": spoke["argocd_namespace"], "labels": labels},
            "data": {"name": b64(cluster), "server": b64(spoke["server"]),
                     "config": b64(json.dumps(config, sort_keys=True, separators=(",", ":")))}}
