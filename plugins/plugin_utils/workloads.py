# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Workloads of the estate: which clusters each one selects, and what a run adds to and removes from a cluster.

Pure logic, no I/O. ``plan`` checks the workload list against the inventory's clusters (their labels come from the
``cluster_topology`` filter) and says, per cluster, which workloads it gets; ``objects`` prepares the objects of one
workload for one cluster; ``changes`` compares that with what an earlier run recorded on the cluster, so that a
workload the cluster no longer selects, or an object a workload no longer has, is removed (when pruning is asked
for) and reported (when it is not). Label selectors follow Kubernetes' ``LabelSelector`` (matchLabels and
matchExpressions with In, NotIn, Exists and DoesNotExist).
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.cluster_topology import (
    label_key_problem,
    label_value_problem,
)

KEYS = ("name", "namespace", "state", "selector", "allow_empty", "manifests", "chart", "values", "wait_for",
        "create_namespace")
MANIFEST_KEYS = ("file", "template", "definition")
CHART_KEYS = ("name", "version", "repo", "oci", "path", "digest")
WAIT_KEYS = ("api_version", "kind", "name", "namespace", "condition")
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
# Labels the collection puts on every object it applies, so that a reader can tell whose it is.
MANAGED_BY = "app.kubernetes.io/managed-by"
WORKLOAD_LABEL = "kubeforge.io/workload"
# Kinds of the built-in API that no namespace holds; a custom kind's scope comes from its CRD in the same workload.
CLUSTER_SCOPED = frozenset((
    "APIService", "CertificateSigningRequest", "ClusterRole", "ClusterRoleBinding", "CSIDriver", "CSINode",
    "CustomResourceDefinition", "IngressClass", "MutatingWebhookConfiguration", "Namespace", "Node",
    "PersistentVolume", "PriorityClass", "RuntimeClass", "StorageClass", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration", "VolumeAttachment"))
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# A chart version that names one release (SemVer 2), not a range helm would resolve.
_SEMVER = re.compile(r"^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
                     r"(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# How the record names a workload installed from a chart: one helm release, uninstalled by helm (the release's
# storage type, not an API kind).
RELEASE_API_VERSION = "helm.sh/release.v1"
RELEASE_KIND = "HelmRelease"


def selector_problems(selector: Any) -> list[str]:
    """Why ``selector`` is not a label selector Kubernetes accepts; empty when it is one."""
    if not isinstance(selector, dict):
        return ["selector must be a mapping with matchLabels and/or matchExpressions ({} selects every cluster)"]
    problems = ["selector has %r; a label selector has only matchLabels and matchExpressions" % key
                for key in sorted(set(selector) - {"matchLabels", "matchExpressions"}, key=str)]
    labels = selector.get("matchLabels") or {}
    if not isinstance(labels, dict):
        problems.append("selector.matchLabels must be a mapping of label keys to values")
        labels = {}
    for key, value in labels.items():
        problem = label_key_problem(key) or label_value_problem(value)
        if problem:
            problems.append("selector.matchLabels: %s" % problem)
    expressions = selector.get("matchExpressions") or []
    if not isinstance(expressions, list):
        problems.append("selector.matchExpressions must be a list of {key, operator, values}")
        expressions = []
    for i, expr in enumerate(expressions):
        where = "selector.matchExpressions[%d]" % i
        if not isinstance(expr, dict):
            problems.append("%s must be a mapping with key, operator and values" % where)
            continue
        extra = sorted(set(expr) - {"key", "operator", "values"}, key=str)
        if extra:
            problems.append("%s has %s; an expression has only key, operator and values" % (where, ", ".join(extra)))
        problem = label_key_problem(expr.get("key"))
        if problem:
            problems.append("%s.key: %s" % (where, problem))
        op, values = expr.get("operator"), expr.get("values")
        if op not in OPERATORS:
            problems.append("%s.operator is %r; use one of %s" % (where, op, ", ".join(OPERATORS)))
        elif op in ("In", "NotIn"):
            if not isinstance(values, list) or not values:
                problems.append("%s.values must be a non-empty list when the operator is %s" % (where, op))
            else:
                problems.extend("%s.values: %s" % (where, p) for p in map(label_value_problem, values) if p)
        elif values not in (None, []):
            problems.append("%s.values must be left out when the operator is %s" % (where, op))
    return problems


def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a valid ``selector`` selects a cluster with ``labels`` (``{}`` selects every cluster)."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(str(key)) != str(value):
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op = str(expr["key"]), expr["operator"]
        values = [str(v) for v in expr.get("values") or []]
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def _chart_problems(chart: Any) -> list[str]:
    if not isinstance(chart, dict):
        return ["chart must be a mapping (name, version and one of repo, oci or path)"]
    problems = ["chart has %r; a chart takes %s" % (k, ", ".join(CHART_KEYS))
                for k in sorted(set(chart) - set(CHART_KEYS), key=str)]
    sources = [k for k in ("repo", "oci", "path") if chart.get(k)]
    if len(sources) != 1:
        problems.append("chart needs exactly one of repo (a chart repository URL), oci (oci://...) or path (an "
                        "archive on the controller), not %s" % (", ".join(sources) or "none"))
    if "repo" in sources and not chart.get("name"):
        problems.append("chart.name is required with a repository")
    oci_name = str(chart.get("oci") or "").rstrip("/").rpartition("/")[2]
    if "oci" in sources and chart.get("name") and chart["name"] != oci_name:
        problems.append("chart.name %r is not the chart chart.oci names (%r); drop chart.name or make them agree"
                        % (chart["name"], oci_name))
    version = chart.get("version")
    if "path" not in sources and not (isinstance(version, str) and _SEMVER.match(version)):
        problems.append("chart.version must pin one release, such as 1.4.2 (not %r: a range or a missing version "
                        "lets helm pick another chart on the next run)" % (version,))
    if chart.get("oci") and not str(chart["oci"]).startswith("oci://"):
        problems.append("chart.oci must start with oci://")
    if chart.get("digest") is not None and not _DIGEST.match(str(chart["digest"])):
        problems.append("chart.digest must be sha256: followed by 64 lowercase hexadecimal digits")
    return problems


def _manifest_problems(manifests: Any) -> list[str]:
    if not isinstance(manifests, list) or not manifests:
        return ["manifests must be a non-empty list of {file: path}, {template: path} or {definition: object}"]
    problems = []
    for i, m in enumerate(manifests):
        keys = sorted(set(m) & set(MANIFEST_KEYS)) if isinstance(m, dict) else []
        if not isinstance(m, dict) or len(keys) != 1 or len(m) != 1:
            problems.append("manifests[%d] must have exactly one of file, template or definition" % i)
        elif keys[0] == "definition":
            d = m["definition"]
            if not isinstance(d, dict) or not d.get("apiVersion") or not d.get("kind") \
                    or not isinstance(d.get("metadata"), dict) or not d["metadata"].get("name"):
                problems.append("manifests[%d].definition must be a Kubernetes object with apiVersion, kind and "
                                "metadata.name" % i)
        elif not isinstance(m[keys[0]], str) or not m[keys[0]]:
            problems.append("manifests[%d].%s must be a path on the controller" % (i, keys[0]))
    return problems


def _wait_problems(wait_for: Any) -> list[str]:
    if not isinstance(wait_for, list):
        return ["wait_for must be a list of {kind, name, namespace, api_version, condition}"]
    problems = []
    for i, w in enumerate(wait_for):
        if not isinstance(w, dict) or not w.get("kind") or not w.get("name"):
            problems.append("wait_for[%d] needs kind and name" % i)
            continue
        problems.extend("wait_for[%d] has %r; it takes %s" % (i, k, ", ".join(WAIT_KEYS))
                        for k in sorted(set(w) - set(WAIT_KEYS), key=str))
        cond = w.get("condition")
        if cond is not None and not (isinstance(cond, dict) and cond.get("type")):
            problems.append("wait_for[%d].condition must be {type: <condition>, status: 'True'}" % i)
    return problems


def workload_problems(w: Any) -> list[str]:
    """What is wrong with one workload of the list, each message without the workload's name."""
    if not isinstance(w, dict):
        return ["must be a mapping with name, namespace, selector and manifests or chart"]
    problems = ["unknown key %r; a workload takes %s" % (k, ", ".join(KEYS))
                for k in sorted(set(w) - set(KEYS), key=str)]
    if not isinstance(w.get("namespace"), str) or not _DNS_LABEL.match(w["namespace"]) or len(w["namespace"]) > 63:
        problems.append("namespace must be a namespace name (lowercase alphanumerics and '-', 63 at most), not %r"
                        % (w.get("namespace"),))
    if w.get("state", "present") not in ("present", "absent"):
        problems.append("state must be present or absent, not %r" % (w.get("state"),))
    if "selector" not in w:
        problems.append("selector is required: give {} to select every cluster, or matchLabels/matchExpressions")
    else:
        problems.extend(selector_problems(w["selector"]))
    for flag in ("allow_empty", "create_namespace"):
        if flag in w and not isinstance(w[flag], bool):
            problems.append("%s must be true or false" % flag)
    sources = [k for k in ("manifests", "chart") if k in w]
    if len(sources) != 1:
        problems.append("give exactly one source, manifests or chart (it has %s)" % (" and ".join(sources) or "none"))
    elif sources == ["manifests"]:
        problems.extend(_manifest_problems(w["manifests"]))
    else:
        problems.extend(_chart_problems(w["chart"]))
    if "values" in w and not isinstance(w["values"], dict):
        problems.append("values must be a mapping (of the chart's values, or of names the templates use)")
    if "wait_for" in w:
        problems.extend(_wait_problems(w["wait_for"]))
    return problems


def plan(workloads: Any, clusters: dict[str, dict[str, Any]], run_clusters: list[str] | None = None) -> dict[str, Any]:
    """Check ``workloads`` (the list a user declares) against ``clusters`` (the inventory's, by name, each with its
    ``labels``). Returns ``errors`` (one message each, naming the workload and the variable), ``workloads`` (each
    with its defaults, ``clusters``, the names it selects, and for a chart from a repository or a registry ``pull``,
    what ``chart_ref`` says helm pulls) and ``clusters``: for each cluster of the run
    (``run_clusters``, default all), ``present`` and ``absent``, the names of the workloads it gets and of those it
    must lose."""
    errors: list[str] = []
    if workloads is None:
        workloads = []
    if not isinstance(workloads, list):
        return {"errors": ["workloads_list must be a list of workloads, not %s" % type(workloads).__name__],
                "workloads": [], "clusters": {}}
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for i, w in enumerate(workloads):
        name = w.get("name") if isinstance(w, dict) else None
        if not isinstance(name, str) or not _DNS_LABEL.match(name) or len(name) > 63:
            errors.append("workloads_list[%d]: name must be a DNS label (lowercase alphanumerics and '-', 63 at "
                          "most), not %r" % (i, name))
            continue
        if name in seen:
            errors.append("workloads_list[%d]: the name %r is taken by an earlier workload; names are unique" % (i, name))
            continue
        seen.add(name)
        problems = workload_problems(w)
        errors.extend("workloads_list: workload '%s': %s" % (name, p) for p in problems)
        if problems:
            continue
        full = dict({"state": "present", "allow_empty": False, "create_namespace": True, "values": {},
                     "wait_for": []}, **w)
        if "chart" in w and not w["chart"].get("path"):
            full["pull"] = chart_ref(w["chart"])
        full["clusters"] = sorted(c for c, info in clusters.items()
                                  if selector_matches(w["selector"], info.get("labels") or {}))
        if not full["clusters"] and full["state"] == "present" and not full["allow_empty"]:
            errors.append("workloads_list: workload '%s': its selector %s matches no cluster of the inventory (%s); "
                          "fix the selector or the clusters' cluster_labels, or set allow_empty: true"
                          % (name, json.dumps(w["selector"], sort_keys=True), _labels_summary(clusters)))
        out.append(full)
    run = sorted(clusters) if run_clusters is None else sorted(set(run_clusters))
    per_cluster = {c: {"present": [w["name"] for w in out if c in w["clusters"] and w["state"] == "present"],
                       "absent": [w["name"] for w in out if c in w["clusters"] and w["state"] == "absent"]}
                   for c in run}
    return {"errors": errors, "workloads": out, "clusters": per_cluster}


def _labels_summary(clusters: dict[str, dict[str, Any]]) -> str:
    return "; ".join("%s: %s" % (c, ", ".join("%s=%s" % kv for kv in sorted((info.get("labels") or {}).items())))
                     for c, info in sorted(clusters.items()))


def object_ref(obj: dict[str, Any]) -> dict[str, str]:
    """The identity of an object as the record keeps it."""
    md = obj.get("metadata") or {}
    return {"apiVersion": str(obj.get("apiVersion")), "kind": str(obj.get("kind")),
            "namespace": str(md.get("namespace") or ""), "name": str(md.get("name"))}


def release_ref(workload: dict[str, Any]) -> dict[str, str]:
    """The record's entry for a workload installed from a chart: its helm release (named after the workload)."""
    return {"apiVersion": RELEASE_API_VERSION, "kind": RELEASE_KIND, "namespace": str(workload["namespace"]),
            "name": str(workload["name"])}


def chart_ref(chart: dict[str, Any]) -> dict[str, str]:
    """What helm pulls for a chart from a repository or an OCI registry: ``ref`` (the chart's name, or the OCI
    reference as given, ``oci://<registry>/<path>/<chart>``), ``repo`` (the repository URL, empty for OCI),
    ``archive``, the file name ``helm pull`` writes (``<chart>-<version>.tgz``), and ``dir``, the controller folder
    (under the charts cache) of that source, so two repositories' charts of one name never meet."""
    if chart.get("oci"):
        ref, repo = str(chart["oci"]).rstrip("/"), ""
        name = ref.rpartition("/")[2]
    else:
        ref, repo = str(chart["name"]), str(chart["repo"])
        name = ref
    source = repo.rstrip("/") or ref.rpartition("/")[0]
    return {"ref": ref, "repo": repo, "archive": "%s-%s.tgz" % (name, chart["version"]),
            "dir": hashlib.sha256(source.encode()).hexdigest()[:16]}


def objects(workload: dict[str, Any], documents: list[Any]) -> dict[str, Any]:
    """The objects of ``workload`` from its rendered ``documents`` (empty YAML documents dropped), each labelled as
    the collection's and put in the workload's namespace unless it names one or its kind has none. Returns
    ``crds`` (applied first, then waited for), ``objects`` (the rest, in the order given), ``refs`` (what the record
    keeps) and ``errors``. A workload from a chart has no objects of its own (helm renders them): its ``refs`` are
    its release, and ``values`` the values helm gets, as the workload gives them for this cluster."""
    if "chart" in workload:
        extra = [d for d in documents if d is not None]
        errors = ["workload '%s': a chart workload takes no manifests (got %d documents)"
                  % (workload["name"], len(extra))] if extra else []
        return {"crds": [], "objects": [], "refs": [release_ref(workload)], "errors": errors,
                "values": workload.get("values") or {}}
    errors: list[str] = []
    docs = []
    for d in documents:
        if isinstance(d, list):  # a List of the API, or a YAML list of objects
            docs.extend(d)
        elif isinstance(d, dict) and d.get("kind") == "List" and isinstance(d.get("items"), list):
            docs.extend(d["items"])
        elif d is not None:
            docs.append(d)
    cluster_kinds = set(CLUSTER_SCOPED)
    for d in docs:
        if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition":
            spec = d.get("spec") or {}
            if spec.get("scope") == "Cluster":
                cluster_kinds.add((spec.get("names") or {}).get("kind"))
    crds, rest, keys = [], [], set()
    for i, d in enumerate(docs):
        if not isinstance(d, dict) or not d.get("apiVersion") or not d.get("kind") \
                or not isinstance(d.get("metadata"), dict) or not d["metadata"].get("name"):
            errors.append("workload '%s': document %d of its manifests is not a Kubernetes object with apiVersion, "
                          "kind and metadata.name" % (workload["name"], i + 1))
            continue
        obj = json.loads(json.dumps(d))
        md = obj["metadata"]
        if obj["kind"] in cluster_kinds:
            if md.get("namespace"):
                errors.append("workload '%s': %s %s is not namespaced; drop its metadata.namespace"
                              % (workload["name"], obj["kind"], md["name"]))
            md.pop("namespace", None)
        elif not md.get("namespace"):
            md["namespace"] = workload["namespace"]
        labels = md.get("labels") if isinstance(md.get("labels"), dict) else {}
        md["labels"] = dict(labels, **{MANAGED_BY: "kubeforge", WORKLOAD_LABEL: workload["name"]})
        ref = object_ref(obj)
        # one object whatever the version it is given in: the group, kind, namespace and name
        group = ref["apiVersion"].rpartition("/")[0]
        key = (group, ref["kind"], ref["namespace"], ref["name"])
        if key in keys:
            errors.append("workload '%s': %s %s appears twice in its manifests"
                          % (workload["name"], ref["kind"], _where(ref)))
        keys.add(key)
        (crds if obj["kind"] == "CustomResourceDefinition" else rest).append(obj)
    return {"crds": crds, "objects": rest, "refs": [object_ref(o) for o in crds + rest], "errors": errors}


def _where(ref: dict[str, str]) -> str:
    return "%s/%s" % (ref["namespace"], ref["name"]) if ref["namespace"] else ref["name"]


def changes(record: Any, present: dict[str, list[dict[str, str]]], absent: dict[str, list[dict[str, str]]],
            prune: bool) -> dict[str, Any]:
    """What one cluster loses. ``record`` is what earlier runs left on it (workload name -> list of object refs),
    ``present`` the workloads it gets now with the refs of their objects, ``absent`` those declared ``state:
    absent`` for it with the refs of the objects their manifests name. Objects of an absent workload always go; a recorded workload the cluster no longer
    selects, and an object a workload no longer has, go only with ``prune``, and are reported otherwise.
    Returns ``delete`` (refs, CRDs last), ``objects`` (those of them that are API objects, as the minimal objects
    a delete takes, in that order), ``releases`` (those that are helm releases), ``kept`` (lines for the report) and
    ``record``, the next record."""
    if not isinstance(prune, bool):
        # "false" from the command line (-e workloads_prune=false) is a non-empty string: never read it as true
        raise TypeError("workloads_prune must be a boolean, not %r" % (prune,))
    record = record if isinstance(record, dict) else {}
    delete: list[dict[str, str]] = []
    kept: list[str] = []
    nxt: dict[str, list[dict[str, str]]] = {}
    for name in sorted(set(record) | set(present) | set(absent)):
        old = [r for r in record.get(name) or [] if isinstance(r, dict)]
        if name in present:
            now = present[name]
            stale = [r for r in old if r not in now]
            if stale and not prune:
                kept.extend("%s: %s %s is no longer in its manifests" % (name, r["kind"], _where(r)) for r in stale)
                now = now + stale
            else:
                delete.extend(stale)
            nxt[name] = now
        elif name in absent:
            delete.extend(old + [r for r in absent[name] if r not in old])
        elif prune:
            delete.extend(old)
        else:
            kept.append("%s: the cluster no longer selects it (%d objects stay)" % (name, len(old)))
            nxt[name] = old
    delete.sort(key=lambda r: r["kind"] == "CustomResourceDefinition")
    releases = [r for r in delete if r["apiVersion"] == RELEASE_API_VERSION]
    skeletons = [{"apiVersion": r["apiVersion"], "kind": r["kind"],
                  "metadata": dict({"name": r["name"]}, **({"namespace": r["namespace"]} if r["namespace"] else {}))}
                 for r in delete if r["apiVersion"] != RELEASE_API_VERSION]
    return {"delete": delete, "objects": skeletons, "releases": releases, "kept": kept, "record": nxt}
