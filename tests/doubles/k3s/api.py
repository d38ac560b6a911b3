"""A minimal Kubernetes API server (core/v1 plus a few API groups) over HTTPS, stdlib only
(PyYAML, where installed, only reads YAML apply bodies).

Generic enough to be reused by other doubles: the caller supplies a Store
(state.py), version info, an authenticator, its own authorizer and optional
extra routes.

Implemented: legacy discovery (/api, /api/v1, /apis, /apis/<group>,
/apis/<group>/<version>) and aggregated discovery (apidiscovery.k8s.io/v2
on /api and /apis, for a client whose Accept asks for it first, as
client-go does), a stub OpenAPI v3 (/openapi/v3, enough for kubectl's
and helm's validation and apply), an OpenAPI v2 document without
definitions (/openapi/v2, JSON or gnostic protobuf), /version, /healthz,
/livez, /readyz, GET/LIST (labelSelector, fieldSelector, limit/continue,
Table output for kubectl), minimal watch (ADDED events, the watch-list
bookmark, then held until timeoutSeconds), POST/PUT/PATCH/DELETE.  PATCH
takes merge patches, strategic merge patches (list merge keys simplified,
see strategic_merge_patch) and server-side apply; JSON patch is refused
with 415.  Request bodies are JSON, or protobuf (client-go's typed clients:
helm's release Secrets, kubectl's typed ``create`` commands) for the kinds
protobuf.py decodes (415 for others).  DELETE reads its DeleteOptions as
kube-apiserver does (the body, JSON or protobuf, else the query): dryRun,
ValidateDeleteOptions (422) and the uid/resourceVersion preconditions (409);
propagationPolicy is validated but there is no garbage collector.

Server-side apply and metadata.managedFields (the logic is in fieldmanager.py,
which lists what is not modelled):

- PATCH query options are validated as ValidatePatchOptions does (422
  ``PatchOptions.meta.k8s.io "" is invalid: ...``): an apply patch needs
  ``fieldManager``, ``force`` is forbidden on other patches, a field manager
  has at most 128 bytes (also for POST and PUT, as Create/UpdateOptions).
  ``force`` is false for "false" or "0" (any case), true for anything else.
- An apply body is JSON, or YAML when PyYAML is importable (it is not in the
  Molecule node image: JSON only there; kubectl and the Python client send
  JSON).  Its apiVersion and kind must be the resource's (400 ``invalid
  object type: <group>/<version>, Kind=<kind>``), metadata.managedFields must
  be absent (400), metadata.name the URL's (400) and a metadata.resourceVersion
  the object's (409).  An apply to a missing object creates it (201, as a
  POST would: namespace, admission, CRD establishment...), else 200; a
  conflict is kube-apiserver's 409 with FieldManagerConflict causes; an apply
  that changes neither the object nor its managedFields writes nothing and
  answers the stored object.  Not on /status (415).
- Every create, update and patch through HTTP records an Update entry for
  ``fieldManager`` or, without it, the User-Agent up to its first "/"
  (kube-apiserver's default; no User-Agent gives the empty manager, whose
  entry has no ``manager`` key).  managedFields in a write's body are
  ignored (kube-apiserver would take a valid non-empty list, and ``[]``
  resets them).  Writes to /status leave managedFields as they are; objects
  the doubles write into the store themselves have none.  status is owned by
  nobody for the kinds whose status kube-apiserver keeps on a subresource
  (those with /status here, the apps/v1 workloads, PodDisruptionBudgets and
  CRDs).

Resources: CORE_RESOURCES (core/v1) and GROUP_RESOURCES (apps/v1 daemonsets,
deployments, replicasets and statefulsets, policy/v1 poddisruptionbudgets,
rbac.authorization.k8s.io/v1, apiextensions.k8s.io/v1
customresourcedefinitions).  A group resource is stored, reported in Status
bodies and handed to the present hook under its qualified name
(``daemonsets.apps``), so it never collides with a core one.

Authentication and authorization (the details, and what is not modelled, are
in rbac.py and serviceaccount.py):

- The double's ``authenticate`` hook names the user and its groups (client
  certificates: CN and O; the doubles' own tokens; ServiceAccount tokens
  through APIServer.service_account_user); every authenticated user also
  gets the group ``system:authenticated``.  Anything else is a 401
  ``Unauthorized``: there is no anonymous user (K3s runs kube-apiserver with
  --anonymous-auth=false; the kubeadm double serves its anonymous paths as
  routes, before authentication).
- Every request is authorized before the double looks at what it asks for,
  reads, watches, discovery and health paths included, with kube-apiserver's
  request attributes (rbac.request_attributes: verb get, list, watch,
  create, update, patch, delete or deletecollection, API group, namespace,
  ``resource/subresource``, name; or a non-resource path and its lower-case
  method): members of ``system:masters`` first, then the double's
  ``authorize`` hook (its Node authorizer and the like: allow, deny with its
  message, or no opinion), then RBAC over the store's Roles, ClusterRoles,
  RoleBindings and ClusterRoleBindings, read on every request.  A denial is
  kube-apiserver's 403 (rbac.forbidden_status), e.g. ``configmaps is
  forbidden: User "u" cannot list resource "configmaps" in API group "" in
  the namespace "default"``; an unknown resource is a 403 too for a user who
  may not see it.  ensure_rbac_defaults creates kube-apiserver's bootstrap
  ClusterRoles and ClusterRoleBindings cluster-admin (system:masters),
  system:discovery (system:authenticated) and system:public-info-viewer
  (system:authenticated, system:unauthenticated) when they are missing.
  Without an ``authorize`` hook (the in-process API of unit tests), every
  authenticated request is allowed.
- ServiceAccount tokens (legacy, Secret-based): a Secret of type
  ``kubernetes.io/service-account-token`` must name its ServiceAccount in
  the annotation ``kubernetes.io/service-account.name`` (422, as
  ValidateSecret words it).  After every create or update of a Secret
  through the API, kube-controller-manager's tokens controller runs
  synchronously (APIServer.sync_token_secret), so every server of a
  replicated store sees the result: a token Secret whose ServiceAccount is
  missing, or is another one than its ``kubernetes.io/service-account.uid``
  says, is deleted; otherwise ``data.token`` (a JWT, HS256 in the double),
  ``data.ca.crt`` (the cluster CA) and ``data.namespace`` are filled and the
  uid annotation set, recorded in managedFields as an Update of
  kube-controller-manager (``k3s`` in K3s).  The create's or update's answer
  is the Secret as written, before the controller.  Deleting a
  ServiceAccount deletes its token Secrets; a new ServiceAccount gets none
  (as in Kubernetes 1.24+).  A token authenticates as
  ``system:serviceaccount:<ns>:<name>`` with the groups
  ``system:serviceaccounts`` and ``system:serviceaccounts:<ns>`` while its
  Secret holds it and its ServiceAccount has the uid of its claims; its
  Secret gets the ``kubernetes.io/legacy-token-last-used`` label (the UTC
  date, once a day) and one labelled ``kubernetes.io/legacy-token-invalid-since``
  is refused, as kube-apiserver's legacy token authenticator does.

PodDisruptionBudgets and evictions (what ``kubectl drain`` uses):

- /api/v1 lists ``pods/eviction`` (group policy, version v1, kind Eviction,
  verb create): kubectl drain's CheckEvictionSupport finds it there and sends
  policy/v1 Evictions.  A PDB is validated as ValidatePodDisruptionBudgetSpec
  does (minAvailable and maxUnavailable not both set, non-negative integers,
  percentages matching ``[0-9]+%`` and at most 100%, unhealthyPodEvictionPolicy
  AlwaysAllow or IfHealthyBudget; 422 Invalid with kube-apiserver's message;
  the %#v of the spec shows placeholder pointers; the selector is not
  validated).  It is stored with an empty status (as created); metadata.generation
  grows on spec changes.  No disruption controller runs, so every read computes
  the status it would keep (pdb_status): pods of the namespace matching
  spec.selector (null: none, {}: all), currentHealthy = those not terminating
  and Ready, desiredHealthy from an integer minAvailable (expectedPods = the
  matching pods) or from a percentage minAvailable / any maxUnavailable scaled,
  rounded up, on the replicas of the pods' controllers (ReplicaSet, or its
  Deployment, StatefulSet; expectedPods = their sum), disruptionsAllowed =
  currentHealthy - desiredHealthy (0 if negative or if expectedPods is 0),
  observedGeneration and the DisruptionAllowed condition
  (SufficientPods/InsufficientPods; lastTransitionTime = creationTimestamp).
  A controller it cannot find, or a kind without a scale subresource, makes it
  fail safe: disruptionsAllowed 0, condition SyncFailed with the controller's
  error text, observedGeneration unset.
- POST pods/<name>/eviction follows kube-apiserver's create handler and
  EvictionREST.Create (pkg/registry/core/pod/storage/eviction.go): policy/v1 or
  policy/v1beta1 bodies (another kind/version: 400 "... cannot be handled as a
  Eviction ..."), 400 for a namespace or name that differs from the URL's, 404
  for a missing namespace or pod, dryRun from the query or deleteOptions (500
  Unknown when they differ).  A Pending (or phase-less), Succeeded, Failed or
  terminating pod is deleted without looking at budgets.  Otherwise: more
  than one matching PDB is a 500 "This pod has more than one
  PodDisruptionBudget, ..."; with one, an unready pod is deleted if the PDB
  says AlwaysAllow or currentHealthy >= desiredHealthy > 0, else a PDB whose
  observedGeneration lags is a 429 "... is still being processed by the
  server." (Retry-After 10) and one with disruptionsAllowed 0 a 429
  TooManyRequests "Cannot evict pod as it would violate the pod's disruption
  budget." with the DisruptionBudget cause "The disruption budget <pdb> needs
  <desired> healthy pods and has <current> currently".  deleteOptions
  preconditions (uid, resourceVersion) give kube-apiserver's 409 Conflicts.
  The pod is then deleted at once (the on_delete hook applies): no kubelet
  runs, so there is no graceful termination, no DisruptionTarget condition and
  no status.disruptedPods entry (the computed status does not need one), and
  the answer is 201 with the Status ``{"status": "Success", "code": 201}``.

Custom resources: a CustomResourceDefinition (checked and defaulted as
kube-apiserver does for the fields the double knows, see crd_problems and
crd_admit) is Established at once, and from then on every served version
is in discovery and answers like a group resource, stored under
``<plural>.<group>`` in the same Store (so every replica of a replicated
store serves it).  Custom resources take merge patches and apply patches
(all their lists atomic), and 415 for a strategic merge patch, as for a real
CRD; their openAPIV3Schema is not enforced and they have no /status or /scale
subresource.  Deleting the CRD deletes its objects and stops serving it.
"""
import base64
import copy
import dataclasses
import hashlib
import json
import re
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

from common import timestamps, wire

from . import fieldmanager, klog, protobuf, rbac, serviceaccount
from .state import Conflict, Unavailable, now_rfc3339

try:  # an apply body may be YAML where PyYAML is installed; JSON (which is YAML) always works
    import yaml
except ImportError:  # pragma: no cover - the Molecule node image has no PyYAML
    yaml = None

# resource -> (kind, namespaced, singular, shortNames)
CORE_RESOURCES = {
    "nodes": ("Node", False, "node", ["no"]),
    "namespaces": ("Namespace", False, "namespace", ["ns"]),
    "pods": ("Pod", True, "pod", ["po"]),
    "services": ("Service", True, "service", ["svc"]),
    "configmaps": ("ConfigMap", True, "configmap", ["cm"]),
    "secrets": ("Secret", True, "secret", []),
    "serviceaccounts": ("ServiceAccount", True, "serviceaccount", ["sa"]),
    "events": ("Event", True, "event", ["ev"]),
    "endpoints": ("Endpoints", True, "endpoints", ["ep"]),
}
# "group/version" -> resource -> (kind, namespaced, singular, shortNames)
GROUP_RESOURCES = {
    "apps/v1": {
        "daemonsets": ("DaemonSet", True, "daemonset", ["ds"]),
        "deployments": ("Deployment", True, "deployment", ["deploy"]),
        "replicasets": ("ReplicaSet", True, "replicaset", ["rs"]),
        "statefulsets": ("StatefulSet", True, "statefulset", ["sts"]),
    },
    "policy/v1": {
        "poddisruptionbudgets": ("PodDisruptionBudget", True, "poddisruptionbudget", ["pdb"]),
    },
    "rbac.authorization.k8s.io/v1": {
        "clusterrolebindings": ("ClusterRoleBinding", False, "clusterrolebinding", []),
        "clusterroles": ("ClusterRole", False, "clusterrole", []),
        "rolebindings": ("RoleBinding", True, "rolebinding", []),
        "roles": ("Role", True, "role", []),
    },
    "apiextensions.k8s.io/v1": {
        "customresourcedefinitions": ("CustomResourceDefinition", False, "customresourcedefinition",
                                      ["crd", "crds"]),
    },
}
CRD_KEY = "customresourcedefinitions.apiextensions.k8s.io"
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
# core resources that also answer on .../<name>/status (same object, whole-object writes)
STATUS_SUBRESOURCES = ("nodes", "namespaces", "pods", "services")
# kinds whose metadata.generation the server keeps (1 on create, +1 on a spec change)
# and whose status it computes (no controller runs: see workload_status)
WORKLOADS = ("daemonsets.apps", "deployments.apps", "replicasets.apps", "statefulsets.apps")
PDB_KEY = "poddisruptionbudgets.policy"
# subresources listed in /api/v1 besides <resource>/status, as kube-apiserver lists them (the Eviction is
# served by policy/v1: kubectl drain's CheckEvictionSupport looks for name, kind, group and version here)
EXTRA_SUBRESOURCES = {
    "pods": [{"name": "pods/eviction", "singularName": "", "namespaced": True, "group": "policy", "version": "v1",
              "kind": "Eviction", "verbs": ["create"]}],
}

# what client-go's OpenAPISchema asks /openapi/v2 for (gnostic's protobuf of the Swagger 2.0 document; kube-openapi
# also takes, and always answers with, "...spec.v2.v1.0+protobuf")
OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
# the Content-Type of aggregated discovery (/api and /apis for a client that asks for it)
AGGREGATED_DISCOVERY = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
PATCH_JSON = "application/json-patch+json"
PATCH_MERGE = "application/merge-patch+json"
PATCH_STRATEGIC = "application/strategic-merge-patch+json"
PATCH_APPLY = "application/apply-patch+yaml"
# what kube-apiserver lists in its 415 for built-in kinds (in this order)
PATCH_TYPES = [PATCH_JSON, PATCH_MERGE, PATCH_STRATEGIC, PATCH_APPLY]
# ... and for custom resources, which have no Go types to merge strategically
CUSTOM_PATCH_TYPES = [PATCH_JSON, PATCH_MERGE, PATCH_APPLY]


class Res:
    """One served resource.  ``key`` names it in the store, in Status messages
    and for the authorize/present hooks: ``pods`` for core, ``daemonsets.apps``
    for a group resource (kube-apiserver's qualified resource name)."""

    def __init__(self, group, version, name, kind, namespaced, singular, short, custom=False):
        self.group, self.version, self.name = group, version, name
        self.kind, self.namespaced, self.singular, self.short = kind, namespaced, singular, short
        self.api_version = "%s/%s" % (group, version) if group else version
        self.key = "%s.%s" % (name, group) if group else name
        self.status_subresource = not group and name in STATUS_SUBRESOURCES
        # served from a CustomResourceDefinition rather than built in
        self.custom = custom
        self.patch_types = CUSTOM_PATCH_TYPES if custom else PATCH_TYPES

    def details(self, name):
        d = {"name": name}
        if self.group:
            d["group"] = self.group
        d["kind"] = self.name
        return d

    def discovery(self):
        r = {"name": self.name, "singularName": self.singular, "namespaced": self.namespaced,
             "kind": self.kind, "verbs": VERBS, "storageVersionHash": ""}
        if self.short:
            r["shortNames"] = self.short
        return r


# (group, version) -> resource -> Res
RESOURCES = {("", "v1"): {n: Res("", "v1", n, *v) for n, v in CORE_RESOURCES.items()}}
for _gv, _table in GROUP_RESOURCES.items():
    _g, _v = _gv.split("/")
    RESOURCES[(_g, _v)] = {n: Res(_g, _v, n, *v) for n, v in _table.items()}


SECRETS = RESOURCES[("", "v1")]["secrets"]
RBAC_KEYS = {n: r.key for n, r in RESOURCES[(rbac.RBAC_GROUP, "v1")].items()}


def _read_file(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def groups(served=None):
    """group -> [versions] of ``served`` (default: the built-in RESOURCES), built-in
    groups first in GROUP_RESOURCES order, then custom ones in CRD order; the
    first version is the preferred one."""
    out = {}
    for g, v in (served or RESOURCES):
        if g:
            out.setdefault(g, []).append(v)
    return out


# --------------------------------------------------------------------------
# CustomResourceDefinitions

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_KUBE_VERSION = re.compile(r"^v([1-9][0-9]*)(?:(alpha|beta)([1-9][0-9]*))?$")


def version_priority(v):
    """Sort key of kube-aware version ordering: GA before beta before alpha,
    higher numbers first, then other names alphabetically."""
    m = _KUBE_VERSION.match(v)
    if not m:
        return (3, 0, 0, v)
    rank = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    return (rank, -int(m.group(1)), -int(m.group(3) or 0), v)


def crd_problems(crd):
    """kube-apiserver's validation of a CustomResourceDefinition, for the
    fields the double uses: a list of "field: Invalid value" causes."""
    md = crd.get("metadata") or {}
    spec = crd.get("spec") if isinstance(crd.get("spec"), dict) else {}
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    group, plural, kind = spec.get("group") or "", names.get("plural") or "", names.get("kind") or ""
    out = []
    if not group:
        out.append("spec.group: Required value")
    elif "." not in group or not _DNS_SUBDOMAIN.match(group):
        out.append('spec.group: Invalid value: "%s": should be a domain with at least one dot' % group)
    if not plural:
        out.append("spec.names.plural: Required value")
    elif not _DNS_LABEL.match(plural):
        out.append('spec.names.plural: Invalid value: "%s": a lowercase RFC 1123 label must consist of lower '
                   "case alphanumeric characters or '-'" % plural)
    if not kind:
        out.append("spec.names.kind: Required value")
    if names.get("singular") and not _DNS_LABEL.match(str(names["singular"])):
        out.append('spec.names.singular: Invalid value: "%s": a lowercase RFC 1123 label must consist of '
                   "lower case alphanumeric characters or '-'" % names["singular"])
    if group and plural and md.get("name") != "%s.%s" % (plural, group):
        out.append('metadata.name: Invalid value: "%s": must be spec.names.plural+"."+spec.group'
                   % md.get("name"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        out.append('spec.scope: Unsupported value: "%s": supported values: "Cluster", "Namespaced"'
                   % (spec.get("scope") or ""))
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        out.append("spec.versions: Invalid value: null: must have exactly one version marked as storage version")
        return out
    seen = set()
    for i, v in enumerate(versions):
        name = v.get("name") if isinstance(v, dict) else None
        if not name or not _DNS_LABEL.match(str(name)):
            out.append('spec.versions[%d].name: Invalid value: "%s": a DNS-1035 label' % (i, name or ""))
        elif name in seen:
            out.append('spec.versions[%d].name: Duplicate value: "%s"' % (i, name))
        seen.add(name)
    if sum(1 for v in versions if isinstance(v, dict) and v.get("storage") is True) != 1:
        out.append("spec.versions: Invalid value: %s: must have exactly one version marked as storage version"
                   % json.dumps(versions)[:80])
    if not any(isinstance(v, dict) and v.get("served") is True for v in versions):
        out.append("spec.versions: Invalid value: %s: must serve at least one version" % json.dumps(versions)[:80])
    return out


def crd_admit(new, old):
    """Defaults and status kube-apiserver and its CRD controllers give a
    CustomResourceDefinition on a write: names defaulted (singular, listKind),
    conversion None; status.acceptedNames, storedVersions and the conditions
    NamesAccepted and Established, True at once (no other CRD claims the
    names in the double), transition times kept from ``old``."""
    spec = new["spec"]
    names = spec["names"]
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", names["kind"] + "List")
    spec.setdefault("conversion", {"strategy": "None"})
    storage = [v["name"] for v in spec["versions"] if v.get("storage") is True][0]
    prev = (old or {}).get("status") or {}
    stored = list(prev.get("storedVersions") or [])
    if storage not in stored:
        stored.append(storage)
    since = {c.get("type"): c.get("lastTransitionTime") for c in prev.get("conditions") or []
             if c.get("status") == "True"}
    now = now_rfc3339()
    new["status"] = {
        "acceptedNames": dict(names),
        "storedVersions": stored,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found",
             "lastTransitionTime": since.get("NamesAccepted") or now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted",
             "lastTransitionTime": since.get("Established") or now},
        ],
    }


def crd_established(crd):
    return any(c.get("type") == "Established" and c.get("status") == "True"
               for c in (crd.get("status") or {}).get("conditions") or [])


def crd_resources(crd):
    """[((group, version), Res)] that an Established CRD serves."""
    if not crd_established(crd):
        return []
    spec = crd.get("spec") or {}
    names = (crd.get("status") or {}).get("acceptedNames") or spec.get("names") or {}
    served = sorted((v["name"] for v in spec.get("versions") or [] if v.get("served") is True),
                    key=version_priority)
    return [((spec["group"], v), Res(spec["group"], v, names["plural"], names["kind"],
                                     spec.get("scope") == "Namespaced", names.get("singular") or "",
                                     list(names.get("shortNames") or []), custom=True))
            for v in served]


def workload_defaults(key, obj):
    """The spec defaults kube-apiserver sets on every write of an apps/v1
    DaemonSet, Deployment, ReplicaSet or StatefulSet (SetDefaults_DaemonSet,
    _Deployment, _ReplicaSet, _StatefulSet; the pod template's own defaults
    are not applied)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    if key == "replicasets.apps":
        spec.setdefault("replicas", 1)
        return
    if key == "daemonsets.apps":
        field, rolling = "updateStrategy", {"maxUnavailable": 1, "maxSurge": 0}
    elif key == "statefulsets.apps":
        spec.setdefault("podManagementPolicy", "OrderedReady")
        st = spec.get("updateStrategy")
        if not isinstance(st, dict):
            st = spec["updateStrategy"] = {}
        if not st.get("type"):
            st["type"] = "RollingUpdate"
            if not isinstance(st.get("rollingUpdate"), dict):
                st["rollingUpdate"] = {}
        if st["type"] == "RollingUpdate" and isinstance(st.get("rollingUpdate"), dict):
            st["rollingUpdate"].setdefault("partition", 0)
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        pvc = spec.get("persistentVolumeClaimRetentionPolicy")
        if not isinstance(pvc, dict):
            pvc = spec["persistentVolumeClaimRetentionPolicy"] = {}
        pvc.setdefault("whenDeleted", "Retain")
        pvc.setdefault("whenScaled", "Retain")
        return
    else:
        spec.setdefault("replicas", 1)
        field, rolling = "strategy", {"maxUnavailable": "25%", "maxSurge": "25%"}
        spec.setdefault("progressDeadlineSeconds", 600)
    st = spec.get(field)
    if not isinstance(st, dict):
        st = spec[field] = {}
    st.setdefault("type", "RollingUpdate")
    if st["type"] == "RollingUpdate":
        ru = st.get("rollingUpdate")
        if not isinstance(ru, dict):
            ru = st["rollingUpdate"] = {}
        for k, v in rolling.items():
            ru.setdefault(k, v)
    spec.setdefault("revisionHistoryLimit", 10)


def workload_status(key, obj):
    """The status kube-controller-manager would write, as far as the double
    knows it: the spec is observed, but nothing schedules or runs Pods, so
    every Pod count is 0 (zero counts that are omitempty in the Go types are
    left out, like a real server does)."""
    gen = obj.get("metadata", {}).get("generation", 1)
    if key == "daemonsets.apps":
        return {"currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0,
                "numberReady": 0, "observedGeneration": gen}
    if key == "replicasets.apps":
        return {"replicas": 0, "observedGeneration": gen}
    if key == "statefulsets.apps":
        return {"observedGeneration": gen, "replicas": 0, "availableReplicas": 0}
    return {"observedGeneration": gen}


def status(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return body


def parse_ts(s):
    ts = timestamps.parse_rfc3339(s)
    return time.time() if ts is None else ts


def human_age(ts):
    """kubectl's duration.HumanDuration (approximate)."""
    d = max(0, int(time.time() - parse_ts(ts)))
    if d < 120:
        return "%ds" % d
    m = d // 60
    if m < 10:
        s = d % 60
        return "%dm%ds" % (m, s) if s else "%dm" % m
    if m < 180:
        return "%dm" % m
    h = d // 3600
    if h < 8:
        mm = m % 60
        return "%dh%dm" % (h, mm) if mm else "%dh" % h
    if h < 48:
        return "%dh" % h
    days = h // 24
    if days < 8:
        hh = h % 24
        return "%dd%dh" % (days, hh) if hh else "%dd" % days
    if days < 365 * 2:
        return "%dd" % days
    return "%dy" % (days // 365)


# --------------------------------------------------------------------------
# selectors

class SelectorError(Exception):
    pass


def _split_top(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def label_matcher(sel):
    reqs = []
    for part in _split_top(sel or ""):
        m = re.match(r"^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$", part)
        if m:
            vals = {v.strip() for v in m.group(3).split(",") if v.strip()}
            reqs.append((m.group(1), m.group(2), vals))
            continue
        m = re.match(r"^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$", part)
        if m:
            reqs.append((m.group(1), "ne" if m.group(2) == "!=" else "eq", m.group(3)))
            continue
        m = re.match(r"^(!?)([\w./-]+)$", part)
        if m:
            reqs.append((m.group(2), "absent" if m.group(1) else "exists", None))
            continue
        raise SelectorError("unable to parse requirement: %s" % part)

    def match(labels):
        labels = labels or {}
        for key, op, val in reqs:
            has = key in labels
            if op == "eq" and (not has or labels[key] != val):
                return False
            if op == "ne" and has and labels[key] == val:
                return False
            if op == "in" and (not has or labels[key] not in val):
                return False
            if op == "notin" and has and labels[key] in val:
                return False
            if op == "exists" and not has:
                return False
            if op == "absent" and has:
                return False
        return True
    return match


def _spec_field(key, boolean=False):
    def get(o):
        v = o.get("spec", {}).get(key)
        return ("true" if v else "false") if boolean else str(v or "")
    return get


FIELD_GETTERS = {
    "metadata.name": lambda o: o.get("metadata", {}).get("name", ""),
    "metadata.namespace": lambda o: o.get("metadata", {}).get("namespace", ""),
    "spec.unschedulable": _spec_field("unschedulable", boolean=True),
    "spec.nodeName": _spec_field("nodeName"),
    "spec.restartPolicy": _spec_field("restartPolicy"),
    "spec.schedulerName": _spec_field("schedulerName"),
    "spec.serviceAccountName": _spec_field("serviceAccountName"),
    "spec.hostNetwork": _spec_field("hostNetwork", boolean=True),
    "status.phase": lambda o: o.get("status", {}).get("phase", ""),
    "status.podIP": lambda o: o.get("status", {}).get("podIP", ""),
    "status.nominatedNodeName": lambda o: o.get("status", {}).get("nominatedNodeName", ""),
}
# The field labels kube-apiserver accepts per resource besides metadata.name and metadata.namespace (the pod and
# node strategies' field sets; kubectl drain lists a node's pods with spec.nodeName). Resources not listed here take
# the double's older common set.
RESOURCE_FIELDS = {
    "pods": ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
             "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"),
    "nodes": ("spec.unschedulable",),
}
OTHER_FIELDS = ("spec.unschedulable", "status.phase")


def field_matcher(sel, resource=None):
    allowed = ("metadata.name", "metadata.namespace") + RESOURCE_FIELDS.get(resource, OTHER_FIELDS)
    reqs = []
    for part in _split_top(sel or ""):
        m = re.match(r"^([\w.]+)\s*(==|=|!=)\s*(.*)$", part)
        if not m:
            raise SelectorError("invalid selector: '%s'; can't understand '%s'" % (sel, part))
        if m.group(1) not in allowed:
            raise SelectorError('field label not supported: %s' % m.group(1))
        reqs.append((FIELD_GETTERS[m.group(1)], m.group(2) != "!=", m.group(3)))
    return lambda o: all((g(o) == v) == eq for g, eq, v in reqs)


# --------------------------------------------------------------------------
# PodDisruptionBudgets (policy/v1) and the pods/eviction subresource

class PDBSyncError(Exception):
    """Why the disruption controller could not compute a PDB's status (it then fails safe)."""


def selector_matcher(sel: object) -> Callable[[dict], bool]:
    """metav1.LabelSelectorAsSelector as a predicate on a labels dict: a missing (null)
    selector matches nothing, an empty one everything (policy/v1 semantics).  Raises
    SelectorError for a selector kube-apiserver could not convert."""
    if sel is None:
        return lambda labels: False
    if not isinstance(sel, dict):
        raise SelectorError("invalid label selector: %s" % json.dumps(sel))
    reqs = []
    for k, v in sorted((sel.get("matchLabels") or {}).items()):
        reqs.append((k, "In", [str(v)]))
    for e in sel.get("matchExpressions") or []:
        e = e if isinstance(e, dict) else {}
        op, vals = e.get("operator"), list(e.get("values") or [])
        if op in ("In", "NotIn") and not vals:
            raise SelectorError("values: Invalid value: []string{}: for 'in', 'notin' operators, "
                                "values set can't be empty")
        if op in ("Exists", "DoesNotExist") and vals:
            raise SelectorError("values: Invalid value: %s: values set must be empty for exists and does not exist"
                                % json.dumps(vals))
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise SelectorError('"%s" is not a valid label selector operator' % (op or ""))
        reqs.append((e.get("key") or "", op, vals))

    def match(labels: dict) -> bool:
        labels = labels or {}
        for key, op, vals in reqs:
            has = key in labels
            if op == "In" and not (has and labels[key] in vals):
                return False
            if op == "NotIn" and has and labels[key] in vals:
                return False
            if op == "Exists" and not has:
                return False
            if op == "DoesNotExist" and has:
                return False
        return True
    return match


def controller_ref(obj: dict) -> Optional[dict]:
    """metav1.GetControllerOf: the ownerReference with controller: true, or None."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller") is True:
            return ref
    return None


def pod_ready(pod: dict) -> bool:
    """podutil.IsPodReady: the Ready condition is True."""
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [] if isinstance(c, dict))


def scaled_value(value: object, total: int) -> int:
    """intstr.GetScaledValueFromIntOrPercent(value, total, roundUp=true)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    s = str(value)
    if not s.endswith("%"):
        raise PDBSyncError("invalid value for IntOrString: invalid type: string is not a percentage")
    try:
        pct = int(s[:-1])
    except ValueError:
        raise PDBSyncError('invalid value for IntOrString: invalid value "%s": strconv.Atoi: parsing "%s": '
                           "invalid syntax" % (s, s[:-1]))
    return -(-pct * total // 100)


def _go_int_or_string(v: object) -> str:
    """An intstr.IntOrString as Go's %#v prints it (in a field.Invalid message)."""
    if isinstance(v, int) and not isinstance(v, bool):
        return "intstr.IntOrString{Type:0, IntVal:%d, StrVal:\"\"}" % v
    return "intstr.IntOrString{Type:1, IntVal:0, StrVal:%s}" % json.dumps(str(v))


_PERCENT = re.compile(r"^[0-9]+%$")
UNHEALTHY_POLICIES = ("AlwaysAllow", "IfHealthyBudget")


def pdb_problems(pdb: dict) -> list:
    """ValidatePodDisruptionBudgetSpec (pkg/apis/policy/validation) for policy/v1, as
    [(field, cause reason, message body)]; the label selector is not validated."""
    spec = pdb.get("spec") if isinstance(pdb.get("spec"), dict) else {}
    out = []
    mina, maxu = spec.get("minAvailable"), spec.get("maxUnavailable")
    if mina is not None and maxu is not None:
        # Go prints the internal spec with %#v: pointers as addresses (placeholders here)
        def ptr(v, typ):
            return "(*%s)(%s)" % (typ, "nil" if v is None else "0xc000000000")
        body = ("policy.PodDisruptionBudgetSpec{MinAvailable:%s, Selector:%s, MaxUnavailable:%s, "
                "UnhealthyPodEvictionPolicy:%s}" % (ptr(mina, "intstr.IntOrString"),
                                                    ptr(spec.get("selector"), "v1.LabelSelector"),
                                                    ptr(maxu, "intstr.IntOrString"),
                                                    ptr(spec.get("unhealthyPodEvictionPolicy"),
                                                        "policy.UnhealthyPodEvictionPolicyType")))
        out.append(("spec", "FieldValueInvalid",
                    "Invalid value: %s: minAvailable and maxUnavailable cannot be both set" % body))
    for name, v in (("minAvailable", mina), ("maxUnavailable", maxu)):
        if v is None:
            continue
        fld = "spec." + name
        if isinstance(v, int) and not isinstance(v, bool):
            if v < 0:
                out.append((fld, "FieldValueInvalid", "Invalid value: %d: must be greater than or equal to 0" % v))
            continue
        if not _PERCENT.match(str(v)):
            out.append((fld, "FieldValueInvalid", "Invalid value: %s: must be a valid percent string (e.g. '1%%', "
                                                  "or '93%%', regex used for validation is '[0-9]+%%')"
                        % _go_int_or_string(v)))
        elif int(str(v)[:-1]) > 100:
            out.append((fld, "FieldValueInvalid", "Invalid value: %s: must not be greater than 100%%"
                        % _go_int_or_string(v)))
    pol = spec.get("unhealthyPodEvictionPolicy")
    if pol is not None and pol not in UNHEALTHY_POLICIES:
        out.append(("spec.unhealthyPodEvictionPolicy", "FieldValueNotSupported",
                    'Unsupported value: "%s": supported values: "AlwaysAllow", "IfHealthyBudget"' % pol))
    return out


def _group_version(api_version: str) -> tuple:
    """schema.ParseGroupVersion."""
    parts = (api_version or "").split("/")
    if len(parts) == 1:
        return "", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise PDBSyncError("unexpected GroupVersion string: %s" % api_version)


# the group resources a scale subresource is served for in kube-apiserver (the double serves none)
SCALABLE = ("deployments.apps", "replicasets.apps", "statefulsets.apps")


def _controller_scale(store, served: dict, ref: dict, ns: str) -> Optional[tuple]:
    """The disruption controller's finders (pkg/controller/disruption/disruption.go) for one
    controllerRef: (controller uid, replicas), None when no controller with that uid exists,
    or PDBSyncError.  A ReplicaSet under a Deployment counts the Deployment's replicas."""
    group, version = _group_version(ref.get("apiVersion") or "")
    kind, name, uid = ref.get("kind"), ref.get("name") or "", ref.get("uid")
    if kind == "ReplicaSet" and group in ("apps", "extensions"):
        rs = store.get("replicasets.apps", name, ns)
        if rs is not None and rs["metadata"].get("uid") == uid:
            owner = controller_ref(rs)
            if owner is not None and owner.get("kind") == "Deployment":
                if _group_version(owner.get("apiVersion") or "")[0] in ("apps", "extensions"):
                    dep = store.get("deployments.apps", owner.get("name") or "", ns)
                    if dep is not None and dep["metadata"].get("uid") == owner.get("uid"):
                        return dep["metadata"]["uid"], int((dep.get("spec") or {}).get("replicas", 1))
            else:
                return uid, int((rs.get("spec") or {}).get("replicas", 1))
    if kind == "StatefulSet" and group == "apps":
        ss = store.get("statefulsets.apps", name, ns)
        if ss is not None and ss["metadata"].get("uid") == uid:
            return uid, int((ss.get("spec") or {}).get("replicas", 1))
    # getScaleController: the REST mapping, then GET <resource>/<name>/scale
    res = next((r for r in (served.get((group, version)) or {}).values() if r.kind == kind), None)
    if res is None:
        raise PDBSyncError('no matches for kind "%s" in version "%s"'
                           % (kind, "%s/%s" % (group, version) if group else version))
    if res.key not in SCALABLE:
        raise PDBSyncError("%s does not implement the scale subresource" % res.key)
    obj = store.get(res.key, name, ns if res.namespaced else "")
    if obj is None or obj["metadata"].get("uid") != uid:
        return None
    return uid, int((obj.get("spec") or {}).get("replicas", 1))


def _expected_scale(store, served: dict, pods: list) -> int:
    """getExpectedScale: the sum of the replicas of the pods' controllers (pods without a
    controller are left out, a controller that cannot be found is an error)."""
    scales = {}
    for pod in pods:
        ref = controller_ref(pod)
        if ref is None or ref.get("uid") in scales:
            continue
        found = _controller_scale(store, served, ref, pod["metadata"].get("namespace", ""))
        if found is None:
            raise PDBSyncError('found no controllers for pod "%s"' % pod["metadata"].get("name", ""))
        scales[found[0]] = found[1]
    return sum(scales.values())


def _pdb_condition(ok: bool, gen: int, when: str, reason: str = "", message: str = "") -> dict:
    cond = {"type": "DisruptionAllowed", "status": "True" if ok else "False"}
    if gen:
        cond["observedGeneration"] = gen
    cond.update({"lastTransitionTime": when,
                 "reason": reason or ("SufficientPods" if ok else "InsufficientPods"), "message": message})
    return cond


def pdb_status(store, served: dict, pdb: dict) -> dict:
    """The status the disruption controller (pkg/controller/disruption/disruption.go) would
    keep on ``pdb`` now.  Pods are those of the PDB's namespace that match spec.selector;
    healthy means not being deleted and Ready.  desiredHealthy: an integer minAvailable
    as is (expectedPods = the matching pods); a percentage minAvailable or any
    maxUnavailable is scaled (rounded up) on the sum of the replicas of the pods'
    controllers (expectedPods), maxUnavailable giving expectedPods - it.
    disruptionsAllowed = currentHealthy - desiredHealthy, 0 when negative or when
    expectedPods is 0.  When the controller cannot compute it (a controller that
    cannot be found, a kind without scale), it fails safe: disruptionsAllowed 0 and
    DisruptionAllowed False/SyncFailed, the rest as last written (never synced here).
    lastTransitionTime is the PDB's creationTimestamp (the double keeps no history)."""
    md = pdb.get("metadata") or {}
    spec = pdb.get("spec") if isinstance(pdb.get("spec"), dict) else {}
    gen = md.get("generation", 1)
    when = md.get("creationTimestamp") or now_rfc3339()
    try:
        match = selector_matcher(spec.get("selector"))
        pods = [p for p in store.list("pods", md.get("namespace", "")) if match(p["metadata"].get("labels"))]
        mina, maxu = spec.get("minAvailable"), spec.get("maxUnavailable")
        expected = desired = 0
        if maxu is not None:
            expected = _expected_scale(store, served, pods)
            desired = max(0, expected - scaled_value(maxu, expected))
        elif mina is not None:
            if isinstance(mina, int) and not isinstance(mina, bool):
                desired, expected = mina, len(pods)
            else:
                expected = _expected_scale(store, served, pods)
                desired = scaled_value(mina, expected)
    except (PDBSyncError, SelectorError, ValueError, TypeError) as e:
        st = {k: v for k, v in (pdb.get("status") or {}).items() if k != "conditions"}
        for k in ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"):
            st.setdefault(k, 0)
        st["disruptionsAllowed"] = 0
        st["conditions"] = [_pdb_condition(False, st.get("observedGeneration", 0), when, "SyncFailed", str(e))]
        return st
    healthy = sum(1 for p in pods if not p["metadata"].get("deletionTimestamp") and pod_ready(p))
    allowed = healthy - desired if expected > 0 and healthy > desired else 0
    return {"observedGeneration": gen, "disruptionsAllowed": allowed, "currentHealthy": healthy,
            "desiredHealthy": desired, "expectedPods": expected,
            "conditions": [_pdb_condition(allowed > 0, gen, when)]}


def pdbs_for_pod(store, pod: dict) -> list:
    """The eviction subresource's getPodDisruptionBudgets: the PDBs of the pod's namespace
    whose selector matches its labels (an invalid selector matches nothing)."""
    out = []
    for pdb in store.list(PDB_KEY, pod["metadata"].get("namespace", "")):
        try:
            match = selector_matcher((pdb.get("spec") or {}).get("selector"))
        except SelectorError:
            continue
        if match(pod["metadata"].get("labels")):
            out.append(pdb)
    return out


EVICTION_VERSIONS = ("policy/v1", "policy/v1beta1")
DISRUPTION_BUDGET_MSG = "Cannot evict pod as it would violate the pod's disruption budget."
MULTIPLE_PDBS_MSG = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if k.startswith("$"):
            continue  # strategic-merge directives are ignored
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# Strategic merge patch, simplified.  Lists whose Go field has patchStrategy
# "merge" are merged by their patchMergeKey; the field is recognised by its
# name and the name of the field that contains it (a Container's fields sit
# under "containers"), not by the full Go type.  Every other list is replaced.
# (parent field, field) -> merge key; a tuple: the first key the items carry.
SMP_MERGE_KEYS = {
    ("spec", "containers"): "name", ("spec", "initContainers"): "name",
    ("spec", "ephemeralContainers"): "name", ("spec", "volumes"): "name",
    ("spec", "imagePullSecrets"): "name", ("spec", "hostAliases"): "ip",
    ("spec", "topologySpreadConstraints"): "topologyKey", ("spec", "resourceClaims"): "name",
    ("spec", "schedulingGates"): "name", ("spec", "ports"): "port",
    ("metadata", "ownerReferences"): "uid",
    ("status", "conditions"): "type", ("status", "addresses"): "type",
    ("", "secrets"): "name",
}
for _c in ("containers", "initContainers", "ephemeralContainers"):
    SMP_MERGE_KEYS.update({(_c, "ports"): "containerPort", (_c, "env"): "name",
                           (_c, "volumeMounts"): "mountPath", (_c, "volumeDevices"): "devicePath"})
# lists of scalars with patchStrategy "merge": a patch adds to them
SMP_MERGE_SCALARS = {("metadata", "finalizers"), ("spec", "podCIDRs")}
# the group resources whose status kube-apiserver keeps on a /status subresource (not served here)
STATUS_KEPT_APART = WORKLOADS + (PDB_KEY, CRD_KEY)


def field_schema(res: Res) -> fieldmanager.Schema:
    """What the field manager knows of ``res``: the keyed lists of SMP_MERGE_KEYS (none for a
    custom resource, whose lists are atomic), and whether status is left out of managedFields."""
    return fieldmanager.Schema({} if res.custom else SMP_MERGE_KEYS,
                               res.status_subresource or res.key in STATUS_KEPT_APART)


def _gvk_string(api_version: object, kind: object) -> str:
    """schema.GroupVersionKind.String() of an unstructured body (an unparsable apiVersion is empty)."""
    parts = api_version.split("/") if isinstance(api_version, str) else []
    if len(parts) == 1:
        group, version = "", parts[0]
    elif len(parts) == 2:
        group, version = parts
    else:
        group = version = ""
    return "%s/%s, Kind=%s" % (group, version, kind if isinstance(kind, str) else "")


def strategic_merge_patch(target, patch):
    """application/strategic-merge-patch+json on a JSON object (see above).
    Directives: ``$patch`` (replace/delete/merge, on maps and list items),
    ``$setElementOrder/<list>``, ``$deleteFromPrimitiveList/<list>`` and
    ``$retainKeys``; null deletes a key like in a merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = _smp_map(target if isinstance(target, dict) else {}, patch, "")
    return {} if out is None else out


def _smp_map(target, patch, parent):
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        target = {}
    out = dict(target)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    for k, v in patch.items():
        if k.startswith("$deleteFromPrimitiveList/") and isinstance(v, list):
            f = k.split("/", 1)[1]
            if isinstance(out.get(f), list):
                out[f] = [x for x in out[f] if x not in v]
    for k, v in patch.items():
        if k.startswith("$"):
            continue
        cur = out.get(k)
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict):
            merged = _smp_map(cur if isinstance(cur, dict) else {}, v, k)
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
        elif isinstance(v, list):
            out[k] = _smp_list(parent, k, cur if isinstance(cur, list) else [], v)
        else:
            out[k] = v
    for k, order in patch.items():
        if k.startswith("$setElementOrder/") and isinstance(order, list):
            f = k.split("/", 1)[1]
            if isinstance(out.get(f), list):
                out[f] = _smp_order(SMP_MERGE_KEYS.get((parent, f)), out[f], order)
    return out


def _smp_clean(items, field):
    """A list as given in a patch, directives removed."""
    out = []
    for x in items:
        if isinstance(x, dict):
            if x.get("$patch") == "delete" or x == {"$patch": "replace"}:
                continue
            x = _smp_map({}, x, field)
        out.append(x)
    return out


def _smp_list(parent, field, cur, patch):
    if (parent, field) in SMP_MERGE_SCALARS and not any(isinstance(x, (dict, list)) for x in patch):
        return list(cur) + [x for x in patch if x not in cur]
    key = SMP_MERGE_KEYS.get((parent, field))
    if key is None or not all(isinstance(x, dict) for x in patch) \
            or any(x.get("$patch") == "replace" for x in patch):
        return _smp_clean(patch, field)
    out = copy.deepcopy(cur)
    for p in patch:
        if key not in p:
            out.append(_smp_map({}, p, field))
            continue
        idx = next((i for i, e in enumerate(out) if isinstance(e, dict) and e.get(key) == p[key]), None)
        if p.get("$patch") == "delete":
            out = [e for e in out if not (isinstance(e, dict) and e.get(key) == p[key])]
        elif idx is None:
            item = _smp_map({}, p, field)
            if item is not None:
                out.append(item)
        else:
            out[idx] = _smp_map(out[idx], p, field)
    return out


def _smp_order(key, items, order):
    """$setElementOrder: the listed items first, in that order; the others
    (only on the server) keep their relative order after them."""
    def ident(x):
        return x.get(key) if key and isinstance(x, dict) else x
    wanted = [ident(o) for o in order]
    first = []
    for w in wanted:
        first.extend(x for x in items if ident(x) == w and not any(x is y for y in first))
    return first + [x for x in items if not any(x is y for y in first)]


# --------------------------------------------------------------------------
# tables

def _node_row(o):
    conds = {c.get("type"): c.get("status") for c in o.get("status", {}).get("conditions", [])}
    st = {"True": "Ready", "False": "NotReady"}.get(conds.get("Ready"), "Unknown")
    if o.get("spec", {}).get("unschedulable"):
        st += ",SchedulingDisabled"
    roles = sorted(k.split("/", 1)[1] for k in o["metadata"].get("labels", {})
                   if k.startswith("node-role.kubernetes.io/") and k.split("/", 1)[1])
    info = o.get("status", {}).get("nodeInfo", {})
    addrs = o.get("status", {}).get("addresses", [])
    iip = ",".join(a["address"] for a in addrs if a.get("type") == "InternalIP") or "<none>"
    eip = ",".join(a["address"] for a in addrs if a.get("type") == "ExternalIP") or "<none>"
    return [o["metadata"]["name"], st, ",".join(roles) or "<none>", human_age(o["metadata"].get("creationTimestamp")),
            info.get("kubeletVersion", ""), iip, eip, info.get("osImage", "<unknown>"),
            info.get("kernelVersion", "<unknown>"), info.get("containerRuntimeVersion", "<unknown>")]


def _col(name, typ="string", fmt="", prio=0, desc=""):
    return {"name": name, "type": typ, "format": fmt, "description": desc or name, "priority": prio}


TABLES = {
    "nodes": ([_col("Name", fmt="name"), _col("Status"), _col("Roles"), _col("Age"), _col("Version"),
               _col("Internal-IP", prio=1), _col("External-IP", prio=1), _col("OS-Image", prio=1),
               _col("Kernel-Version", prio=1), _col("Container-Runtime", prio=1)], _node_row),
    "namespaces": ([_col("Name", fmt="name"), _col("Status"), _col("Age")],
                   lambda o: [o["metadata"]["name"], o.get("status", {}).get("phase", "Active"),
                              human_age(o["metadata"].get("creationTimestamp"))]),
}
_DEFAULT_TABLE = ([_col("Name", fmt="name"), _col("Age")],
                  lambda o: [o["metadata"]["name"], human_age(o["metadata"].get("creationTimestamp"))])


def _fmt_labels(labels):
    """labels.FormatLabels: k=v,... sorted, or <none>."""
    return ",".join("%s=%s" % kv for kv in sorted((labels or {}).items())) or "<none>"


def _fmt_selector(sel):
    """metav1.FormatLabelSelector (approximately)."""
    if not isinstance(sel, dict):
        return "<none>"
    reqs = [(k, "%s=%s" % (k, v)) for k, v in (sel.get("matchLabels") or {}).items()]
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e.get("key", ""), e.get("operator"), ",".join(sorted(e.get("values") or []))
        reqs.append((k, {"In": "%s in (%s)" % (k, vals), "NotIn": "%s notin (%s)" % (k, vals),
                         "Exists": k, "DoesNotExist": "!" + k}.get(op, k)))
    return ",".join(r for _, r in sorted(reqs)) or "<none>"


def _pod_template_cells(o):
    cs = o.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []
    return [",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs),
            _fmt_selector(o.get("spec", {}).get("selector"))]


def _age(o):
    return human_age(o["metadata"].get("creationTimestamp"))


def _ds_row(o):
    st = o.get("status", {})
    return ([o["metadata"]["name"]] + [st.get(f, 0) for f in ("desiredNumberScheduled", "currentNumberScheduled",
                                                               "numberReady", "updatedNumberScheduled",
                                                               "numberAvailable")]
            + [_fmt_labels(o.get("spec", {}).get("template", {}).get("spec", {}).get("nodeSelector")), _age(o)]
            + _pod_template_cells(o))


def _deploy_row(o):
    st = o.get("status", {})
    want = o.get("spec", {}).get("replicas", 1)
    return [o["metadata"]["name"], "%d/%d" % (st.get("readyReplicas", 0), want), st.get("updatedReplicas", 0),
            st.get("availableReplicas", 0), _age(o)] + _pod_template_cells(o)


def _binding_row(o):
    subj = o.get("subjects") or []
    ref = o.get("roleRef") or {}

    def names(kind):
        return ", ".join(s.get("name", "") for s in subj if s.get("kind") == kind)
    sas = ", ".join("%s/%s" % (s.get("namespace", ""), s.get("name", "")) for s in subj
                    if s.get("kind") == "ServiceAccount")
    return [o["metadata"]["name"], "%s/%s" % (ref.get("kind", ""), ref.get("name", "")), _age(o),
            names("User"), names("Group"), sas]


def _rs_row(o: dict) -> list:
    st = o.get("status", {})
    return [o["metadata"]["name"], o.get("spec", {}).get("replicas", 1), st.get("replicas", 0),
            st.get("readyReplicas", 0), _age(o)] + _pod_template_cells(o)


def _sts_row(o: dict) -> list:
    want = o.get("spec", {}).get("replicas", 1)
    return [o["metadata"]["name"], "%d/%d" % (o.get("status", {}).get("readyReplicas", 0), want),
            _age(o)] + _pod_template_cells(o)[:2]


def _pdb_row(o: dict) -> list:
    spec = o.get("spec", {})
    return [o["metadata"]["name"], "N/A" if spec.get("minAvailable") is None else str(spec["minAvailable"]),
            "N/A" if spec.get("maxUnavailable") is None else str(spec["maxUnavailable"]),
            o.get("status", {}).get("disruptionsAllowed", 0), _age(o)]


_POD_TEMPLATE_COLS = [_col("Containers", prio=1), _col("Images", prio=1), _col("Selector", prio=1)]
_BINDING_TABLE = ([_col("Name", fmt="name"), _col("Role"), _col("Age"), _col("Users", prio=1),
                   _col("Groups", prio=1), _col("ServiceAccounts", prio=1)], _binding_row)
_ROLE_TABLE = ([_col("Name", fmt="name"), _col("Created At", typ="date")],
               lambda o: [o["metadata"]["name"], o["metadata"].get("creationTimestamp", "")])
TABLES.update({
    "daemonsets.apps": ([_col("Name", fmt="name"), _col("Desired", "integer"), _col("Current", "integer"),
                         _col("Ready", "integer"), _col("Up-to-date", "integer"), _col("Available", "integer"),
                         _col("Node Selector"), _col("Age")] + _POD_TEMPLATE_COLS, _ds_row),
    "deployments.apps": ([_col("Name", fmt="name"), _col("Ready"), _col("Up-to-date", "integer"),
                          _col("Available", "integer"), _col("Age")] + _POD_TEMPLATE_COLS, _deploy_row),
    "replicasets.apps": ([_col("Name", fmt="name"), _col("Desired", "integer"), _col("Current", "integer"),
                          _col("Ready", "integer"), _col("Age")] + _POD_TEMPLATE_COLS, _rs_row),
    "statefulsets.apps": ([_col("Name", fmt="name"), _col("Ready"), _col("Age")] + _POD_TEMPLATE_COLS[:2], _sts_row),
    PDB_KEY: ([_col("Name", fmt="name"), _col("Min Available"), _col("Max Unavailable"),
               _col("Allowed Disruptions", "integer"), _col("Age")], _pdb_row),
    "clusterroles.rbac.authorization.k8s.io": _ROLE_TABLE,
    "roles.rbac.authorization.k8s.io": _ROLE_TABLE,
    "clusterrolebindings.rbac.authorization.k8s.io": _BINDING_TABLE,
    "rolebindings.rbac.authorization.k8s.io": _BINDING_TABLE,
    CRD_KEY: _ROLE_TABLE,
})


class APIServer:
    """HTTPS Kubernetes API.  ``authenticate(handler)`` returns the user (a
    str, or an rbac.User with its groups) or None (-> 401); ``routes`` maps
    exact paths to ``fn(handler) -> (code, ctype, body)`` served before
    authentication (supervisor endpoints).

    ``authorize(attrs)`` (an rbac.Attributes) is the double's own authorizer,
    asked after the system:masters bypass and before RBAC: True allows, a
    string denies with that message (-> 403), None leaves the request to RBAC
    over the store's roles and bindings.  Without it, every authenticated
    request is allowed (AlwaysAllow).

    ``service_account_key`` (a file every server of the cluster holds) keys
    the ServiceAccount tokens (see serviceaccount.py); ``root_ca`` is the CA
    file the tokens controller puts into their Secrets; without the key, no
    token is written or accepted.  ``managers`` names the field managers of
    kube-apiserver's and kube-controller-manager's own writes (K3s runs both in
    its one ``k3s`` binary).

    Optional hooks: ``present(resource, obj)`` returns
    the object as served on reads (computed fields such as node conditions);
    ``on_delete(resource, obj, delete)`` runs instead of the plain store
    delete of a DELETE (not for dryRun) and must call ``delete()`` itself: it
    stands in for a controller that holds the object behind a finalizer until
    its clean-up is done (the K3s double removes a server's etcd member when
    its Node goes).  If it raises Unavailable before calling ``delete()``, the
    DELETE answers 500 with the exception text and the object stays."""

    def __init__(self, store, version_info, authenticate, routes=None, host="0.0.0.0", port=6443,
                 certfile=None, keyfile=None, client_ca=None, server_address=None, authorize=None,
                 present=None, on_delete=None, service_account_key: Optional[str] = None,
                 root_ca: Optional[str] = None, managers: Tuple[str, str] = ("kube-apiserver",
                                                                              "kube-controller-manager")):
        self.store = store
        self.authorize = authorize
        self.present = present
        self.on_delete = on_delete
        self.version_info = version_info
        self.authenticate = authenticate
        self.sa_key = serviceaccount.signing_key(_read_file(service_account_key)) if service_account_key else None
        self.root_ca = _read_file(root_ca) if root_ca else b""
        self.apiserver_manager, self.controller_manager = managers
        self.routes = routes or {}
        self.host, self.port = host, port
        self.server_address = server_address or "%s:%d" % (host, port)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(certfile, keyfile)
        if client_ca:
            ctx.load_verify_locations(client_ca)
            ctx.verify_mode = ssl.CERT_OPTIONAL
        self.ssl_context = ctx
        self.httpd = None
        self._thread = None

    # -- lifecycle ----------------------------------------------------------
    def start(self):
        api = self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET

        class Server(ThreadingHTTPServer):
            address_family = family
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

            def server_bind(self):
                if family == socket.AF_INET6:
                    try:
                        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                    except OSError:
                        pass
                super().server_bind()

            def get_request(self):
                sock, addr = self.socket.accept()
                sock.settimeout(30)
                # as Go's net package does: without it, the headers and the body of an answer (two TLS
                # records) meet Nagle's algorithm and the client's delayed ACK, 40 ms per request
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return api.ssl_context.wrap_socket(sock, server_side=True,
                                                   do_handshake_on_connect=False), addr

            def handle_error(self, request, client_address):
                klog.debug("http: TLS/connection error from %s", client_address)

        class Handler(_Handler):
            server_api = api

        self.httpd = Server((self.host, self.port), Handler)
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        daemon=True)
        self._thread.start()

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()

    # -- ServiceAccount tokens -------------------------------------------------
    def service_account_user(self, token: str) -> Optional[rbac.User]:
        """kube-apiserver's legacy ServiceAccount token authenticator: the user of a token whose
        signature and claims hold (serviceaccount.verify), whose Secret is still there with that
        token and without the ``kubernetes.io/legacy-token-invalid-since`` label, and whose
        ServiceAccount is still there with the claimed uid; else None.  A Secret whose token is
        used gets the ``kubernetes.io/legacy-token-last-used`` label (once a day)."""
        claims = serviceaccount.verify(self.sa_key, token) if self.sa_key else None
        if claims is None:
            return None
        namespace, secret_name, sa_name, uid = claims
        secret = self.store.get("secrets", secret_name, namespace)
        if secret is None or not serviceaccount.token_matches(secret, token):
            return None
        sa = self.store.get("serviceaccounts", sa_name, namespace)
        if sa is None or sa["metadata"].get("uid") != uid:
            return None
        self._mark_used(secret)
        if (secret["metadata"].get("labels") or {}).get(serviceaccount.INVALID_SINCE_LABEL):
            return None
        return rbac.User(serviceaccount.username(namespace, sa_name), serviceaccount.groups(namespace))

    def _mark_used(self, secret: dict) -> None:
        """The authenticator's merge patch of the last-used label; a failed write is only logged."""
        now = time.time()
        new = serviceaccount.last_used(secret, time.strftime("%Y-%m-%d", time.gmtime(now)),
                                       time.strftime("%Y-%m-%d", time.gmtime(now + 86400)))
        if new is None:
            return
        md = secret["metadata"]
        fieldmanager.record_update(secret, new, self.apiserver_manager, "v1", field_schema(SECRETS), now_rfc3339())
        try:
            self.store.update("secrets", new, md["namespace"])
        except Exception as e:  # whatever the datastore raises: the request goes on, as in kube-apiserver
            klog.error("Failed to label legacy service account token %s/%s with last-used date, err: %s",
                       md["name"], md["namespace"], e)

    def sync_token_secret(self, namespace: str, name: str) -> None:
        """kube-controller-manager's tokens controller on one Secret, run synchronously after each
        write of a Secret through the API, so every server of a replicated store sees its result: a
        token Secret whose ServiceAccount is missing (or has another uid than its uid annotation) is
        deleted, else it gets what serviceaccount.populate gives it."""
        secret = self.store.get("secrets", name, namespace) if self.sa_key else None
        if secret is None or secret.get("type") != serviceaccount.SECRET_TYPE:
            return
        ann = secret["metadata"].get("annotations") or {}
        sa = self.store.get("serviceaccounts", ann.get(serviceaccount.NAME_KEY) or "", namespace)
        uid = sa["metadata"].get("uid") if sa else None
        if sa is None or (ann.get(serviceaccount.UID_KEY) or uid) != uid:
            self.store.delete("secrets", name, namespace)
            return
        new = serviceaccount.populate(secret, sa, self.sa_key, self.root_ca)
        if new is not None:
            fieldmanager.record_update(secret, new, self.controller_manager, "v1", field_schema(SECRETS),
                                       now_rfc3339())
            self.store.update("secrets", new, namespace)

    def delete_token_secrets(self, sa: dict) -> None:
        """The tokens controller on a deleted ServiceAccount: its token Secrets go with it."""
        namespace = sa["metadata"]["namespace"]
        for secret in self.store.list("secrets", namespace):
            if serviceaccount.is_token_for(secret, sa):
                self.store.delete("secrets", secret["metadata"]["name"], namespace)

    # -- helpers ------------------------------------------------------------
    def served(self):
        """(group, version) -> resource -> Res: the built-in RESOURCES, then the
        versions the Established CRDs of the store serve (read on every
        request, so every API server on a replicated store agrees)."""
        out = {gv: dict(table) for gv, table in RESOURCES.items()}
        for crd in self.store.list(CRD_KEY):
            for gv, res in crd_resources(crd):
                if gv in RESOURCES:
                    continue  # a CRD cannot take over a built-in group/version
                out.setdefault(gv, {})[res.name] = res
        return out

    def resource_list(self, group="", version="v1", served=None):
        """APIResourceList of /api/v1 or /apis/<group>/<version>."""
        res = []
        for r in (served or RESOURCES)[(group, version)].values():
            res.append(r.discovery())
            if not group:
                res.extend(copy.deepcopy(EXTRA_SUBRESOURCES.get(r.name, [])))
            if r.status_subresource:
                res.append({"name": r.name + "/status", "singularName": "", "namespaced": r.namespaced,
                            "kind": r.kind, "verbs": ["get", "patch", "update"]})
        if not group:
            return {"kind": "APIResourceList", "groupVersion": "v1", "resources": res}
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "%s/%s" % (group, version),
                "resources": res}

    @staticmethod
    def api_group(group, served=None):
        vs = [{"groupVersion": "%s/%s" % (group, v), "version": v} for v in groups(served)[group]]
        return {"name": group, "versions": vs, "preferredVersion": vs[0]}

    def discovery_list(self, legacy_groups: bool, served=None) -> dict:
        """Aggregated discovery (apidiscovery.k8s.io/v2 APIGroupDiscoveryList) of /api (``legacy_groups``
        True: the core group, named "") or /apis (every served group, versions in preference order),
        made from the same APIResourceLists as the legacy form: each resource with its responseKind,
        scope, singularResource, verbs and shortNames, and its subresources (``<resource>/status``,
        ``pods/eviction`` with the Eviction of policy/v1) under it; freshness Current."""
        served = served or RESOURCES
        items = []
        for group, versions in ([("", ["v1"])] if legacy_groups else list(groups(served).items())):
            out_versions = []
            for version in versions:
                entries = self.resource_list(group, version, served)["resources"]
                resources = []
                by_name = {}
                for e in entries:
                    parent, _, sub = e["name"].partition("/")
                    kind = {"group": e.get("group", group), "version": e.get("version", version), "kind": e["kind"]}
                    if not sub:
                        r = {"resource": e["name"], "responseKind": kind,
                             "scope": "Namespaced" if e["namespaced"] else "Cluster",
                             "singularResource": e.get("singularName", ""), "verbs": list(e["verbs"])}
                        if e.get("shortNames"):
                            r["shortNames"] = list(e["shortNames"])
                        by_name[e["name"]] = r
                        resources.append(r)
                    else:
                        by_name[parent].setdefault("subresources", []).append(
                            {"subresource": sub, "responseKind": kind, "verbs": list(e["verbs"])})
                out_versions.append({"version": version, "resources": resources, "freshness": "Current"})
            md = {"name": group, "creationTimestamp": None} if group else {"creationTimestamp": None}
            items.append({"metadata": md, "versions": out_versions})
        return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
                "items": items}

    def group_list(self, served=None):
        """APIGroupList of /apis (the legacy form, like /api serves APIVersions)."""
        return {"kind": "APIGroupList", "apiVersion": "v1",
                "groups": [self.api_group(g, served) for g in groups(served)]}

    def openapi_v3(self, group, version, served=None):
        """A stub OpenAPI v3 document of one group/version: for each kind, only
        its PATCH operation (x-kubernetes-group-version-kind, the query
        parameters fieldManager and fieldValidation, the accepted patch
        types: apply, merge and, but for a custom resource, strategic merge)
        and no schemas.  That is what kubectl reads to decide that validation
        is left to the server and whether strategic merge patches are accepted
        (it then builds them from its compiled-in types; only the strategic
        merge type counts)."""
        base = "/apis/%s/%s" % (group, version) if group else "/api/v1"
        paths = {}
        for r in (served or RESOURCES)[(group, version)].values():
            path = "%s%s/%s/{name}" % (base, "/namespaces/{namespace}" if r.namespaced else "", r.name)
            ctypes = [PATCH_APPLY, PATCH_MERGE] + ([] if r.custom else [PATCH_STRATEGIC])
            paths[path] = {"patch": {
                "operationId": "patch%s%s%s" % ("".join(w.capitalize() for w in re.split(r"[.\-]", group or "core")),
                                                version.capitalize(), ("Namespaced" if r.namespaced else "") + r.kind),
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {"group": group, "kind": r.kind, "version": version},
                "parameters": [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                               for n in ("fieldManager", "fieldValidation")],
                "requestBody": {"required": True,
                                "content": {ct: {"schema": {"type": "object"}} for ct in ctypes}},
                "responses": {"200": {"description": "OK"}}}}
        return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": self.version_info.get("gitVersion", "")},
                "paths": paths, "components": {"schemas": {}}}

    def openapi_v2(self, accept: str) -> Tuple[str, object]:
        """/openapi/v2 as (Content-Type, body): a Swagger 2.0 document with the info block and no paths nor
        definitions, in gnostic's protobuf (openapi_v2.Document: 1 swagger, 2 info {1 title, 2 version},
        8 paths, 9 definitions) when Accept names OPENAPI_V2_PROTOBUF, which client-go's OpenAPISchema
        (kubectl's and helm's client-side validation) asks for, else in JSON.  Without definitions a client
        finds no schema for any kind and skips its client-side validation, as it does for a kind a real
        server has no schema for (a List's items; a custom resource whose CRD is missing, which then fails
        on its REST mapping: helm's ``ensure CRDs are installed first``)."""
        title, version = "Kubernetes", self.version_info.get("gitVersion", "")
        if OPENAPI_V2_PROTOBUF in accept or OPENAPI_V2_PROTOBUF.replace("@", ".") in accept:
            info = protobuf._ld(1, title.encode()) + protobuf._ld(2, version.encode())
            doc = protobuf._ld(1, b"2.0") + protobuf._ld(2, info) + protobuf._ld(8, b"") + protobuf._ld(9, b"")
            # kube-openapi answers with the dotted form, which Go's mime package parses
            return OPENAPI_V2_PROTOBUF.replace("@", "."), doc
        return "application/json", {"swagger": "2.0", "info": {"title": title, "version": version}, "paths": {},
                                     "definitions": {}}

    def openapi_v3_index(self, served=None):
        """/openapi/v3: one entry per served group/version; the hash in the URL
        changes with the document, so clients never use a stale cached copy."""
        out = {}
        for group, version in (served or RESOURCES):
            gvpath = "apis/%s/%s" % (group, version) if group else "api/v1"
            doc = self.openapi_v3(group, version, served)
            digest = hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()
            out[gvpath] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (gvpath, digest.upper())}
        return {"paths": out}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_api = None
    server_version = "k3s-double"
    sys_version = ""

    def log_message(self, fmt, *args):
        klog.debug("http: " + fmt, *args)

    def setup(self):
        super().setup()
        try:
            self.connection.do_handshake()
        except (ssl.SSLError, OSError) as e:
            klog.debug("http: TLS handshake error from %s: %s", self.client_address, e)
            self.close_connection = True
            raise

    def handle(self):
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError, socket.timeout, OSError):
            pass

    def client_cert_subject(self):
        try:
            cert = self.connection.getpeercert()
        except (ValueError, AttributeError):
            return None
        if not cert:
            return None
        subj = {}
        for rdn in cert.get("subject", ()):
            for k, v in rdn:
                subj.setdefault(k, []).append(v)
        return subj

    # -- response helpers ---------------------------------------------------
    def send_body(self, code, body, ctype="application/json", headers=None):
        extra = {"Cache-Control": "no-cache, private"}
        extra.update(headers or {})
        wire.reply(self, code, body, ctype, extra)

    def send_status(self, st):
        self.send_body(st["code"], st)

    def _raw_body(self) -> bytes:
        """The request body, read once (authorization may look into a create's body before its handler)."""
        if self._raw is None:
            n = int(self.headers.get("Content-Length") or 0)
            self._raw = self.rfile.read(n) if n else b""
            self._consumed = True
        return self._raw

    def read_json(self):
        raw = self._raw_body()
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == PATCH_APPLY:
            return self._read_apply(raw)
        if ctype == protobuf.CONTENT_TYPE and raw:
            return self._read_protobuf(raw)
        if raw and ctype and ctype != "application/json" and not ctype.endswith("+json"):
            # e.g. application/vnd.kubernetes.protobuf from kubectl's typed commands
            self.send_status(status(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                                                                 "accepted media types include: application/json"))
            return Ellipsis
        try:
            return json.loads(raw.decode() or "null")
        except ValueError as e:
            self.send_status(status(400, "BadRequest", "error decoding body: %s" % e))
            return Ellipsis

    def _read_protobuf(self, raw: bytes) -> object:
        """A protobuf body (client-go's typed clients) as the JSON object it stands for, apiVersion and kind
        from its envelope (protobuf.py); Ellipsis after a 415 for a kind the double does not decode or a 400
        for a malformed body."""
        try:
            api_version, kind, obj = protobuf.decode(raw)
        except protobuf.Unsupported as e:
            self.send_status(status(415, "UnsupportedMediaType",
                                    "the kubeforge test double decodes protobuf bodies of %s only, not of %s "
                                    "(send application/json)" % (", ".join(sorted(
                                        [k for _, k in protobuf.KINDS] + ["DeleteOptions"])),
                                        " ".join(x for x in (e.api_version, e.kind) if x) or "this body")))
            return Ellipsis
        except protobuf.ProtoError as e:
            self.send_status(status(400, "BadRequest", "error decoding body: %s" % e))
            return Ellipsis
        self._proto = True
        return dict({"apiVersion": api_version, "kind": kind}, **obj)

    def _read_apply(self, raw: bytes) -> object:
        """An apply patch body: JSON, or YAML with PyYAML (Ellipsis after a 400)."""
        try:
            return json.loads(raw.decode() or "{}")
        except ValueError as e:
            err = e
        if yaml is not None:
            try:
                return yaml.safe_load(raw.decode()) or {}
            except (ValueError, yaml.YAMLError) as e:
                err = e
        self.send_status(status(400, "BadRequest", "error decoding YAML: %s" % err))
        return Ellipsis

    # -- dispatch -----------------------------------------------------------
    def do_GET(self):
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_PATCH(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def _dispatch(self):
        api = self.server_api
        self._raw = None
        self._consumed = False
        self._proto = False  # the body was protobuf (read_json)
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        self.query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        route = api.routes.get(path)
        if route is not None:
            code, ctype, body = route(self)
            self.send_body(code, body, ctype)
            return
        try:
            user = api.authenticate(self)
            if not user:
                self.send_status(status(401, "Unauthorized", "Unauthorized"))
                return
            self.user = rbac.authenticated(user)
            self._api(path)
        except BrokenPipeError:
            pass
        except Unavailable as e:
            # like kube-apiserver on an etcd timeout: code 500, no reason
            st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": str(e), "code": 500}
            try:
                self.send_status(st)
            except OSError:
                pass
        except Exception as e:  # pragma: no cover - defensive
            klog.error("apiserver: internal error handling %s %s: %r", self.command, self.path, e)
            try:
                self.send_status(status(500, "InternalError", "Internal error occurred: %s" % e))
            except OSError:
                pass
        finally:
            self._drain()

    def _drain(self):
        """Read a request body that no handler read (a refused PATCH, a
        DELETE's DeleteOptions), or it would be parsed as the next request."""
        if self._consumed:
            return
        self._consumed = True
        try:
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
        except (ValueError, OSError):
            self.close_connection = True

    def _authorized(self) -> bool:
        """kube-apiserver's authorization filter, in its union order: the privileged group system:masters,
        the double's ``authorize`` hook (its Node authorizer and the like), then RBAC over the store's
        roles and bindings (rbac.py).  Answers the 403 and returns False on a denial.  Every request is
        authorized, before the double looks at what it asks for (an unknown resource is a 403 for a user
        who may not see it, as in kube-apiserver)."""
        api = self.server_api
        if api.authorize is None:
            return True
        attrs = rbac.request_attributes(self.user, self.command, urlsplit(self.path).path, self.query)
        if rbac.MASTERS in attrs.groups:
            return True
        if attrs.verb == "create" and attrs.resource_request and not attrs.name:
            attrs = dataclasses.replace(attrs, object_name=self._body_name())
        verdict = api.authorize(attrs)
        if verdict is True:
            return True
        if isinstance(verdict, str):
            details = {k: v for k, v in (("name", attrs.name or attrs.object_name), ("group", attrs.api_group),
                                         ("kind", attrs.resource)) if v}
            self.send_status(status(403, "Forbidden", verdict, details))
            return False
        allowed, reason = rbac.authorize(attrs, _StorePolicy(api.store))
        if not allowed:
            self.send_status(rbac.forbidden_status(attrs, reason))
        return allowed

    def _body_name(self) -> str:
        """metadata.name of a create's JSON body ("" when there is none)."""
        try:
            body = json.loads(self._raw_body().decode() or "null")
        except ValueError:
            return ""
        md = body.get("metadata") if isinstance(body, dict) else None
        name = md.get("name") if isinstance(md, dict) else None
        return name if isinstance(name, str) else ""

    def _api(self, path):
        api = self.server_api
        if not self._authorized():
            return
        if path in ("/healthz", "/livez", "/readyz") or re.match(r"^/(healthz|livez|readyz)/[\w-]+$", path):
            if self.command not in ("GET", "HEAD"):
                return self.send_status(status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"))
            if "verbose" in self.query:
                return self.send_body(200, "[+]ping ok\n[+]etcd ok\n%s check passed\n" % path.strip("/"), "text/plain; charset=utf-8")
            return self.send_body(200, "ok", "text/plain; charset=utf-8")
        if path == "/version":
            return self.send_body(200, api.version_info)
        aggregated = path in ("/api", "/apis") and self._wants_aggregated_discovery()
        if path == "/api":
            if aggregated:
                return self.send_body(200, api.discovery_list(True), AGGREGATED_DISCOVERY, {"Vary": "Accept"})
            return self.send_body(200, {"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                                        "serverAddress": api.server_address}]},
                                  headers={"Vary": "Accept"})
        served = api.served()
        if path == "/apis":
            if aggregated:
                return self.send_body(200, api.discovery_list(False, served), AGGREGATED_DISCOVERY,
                                      {"Vary": "Accept"})
            return self.send_body(200, api.group_list(served), headers={"Vary": "Accept"})
        if path == "/api/v1":
            return self.send_body(200, api.resource_list())
        if path == "/openapi/v2":
            ctype, body = api.openapi_v2(self.headers.get("Accept") or "")
            return self.send_body(200, body, ctype, {"Vary": "Accept"})
        if path == "/openapi/v3":
            return self.send_body(200, api.openapi_v3_index(served))
        if path.startswith("/openapi/v3/"):
            gv = path[len("/openapi/v3/"):].split("/")
            if gv == ["api", "v1"]:
                return self.send_body(200, api.openapi_v3("", "v1"))
            if len(gv) == 3 and gv[0] == "apis" and (gv[1], gv[2]) in served:
                return self.send_body(200, api.openapi_v3(gv[1], gv[2], served))
        page_notfound = status(404, "NotFound", "the server could not find the requested resource")
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif parts[0] == "apis" and len(parts) >= 2 and parts[1] in groups(served):
            if len(parts) == 2:
                return self.send_body(200, dict({"kind": "APIGroup", "apiVersion": "v1"},
                                                **api.api_group(parts[1], served)))
            group, version, rest = parts[1], parts[2], parts[3:]
            if (group, version) not in served:
                return self.send_status(page_notfound)
            if not rest:
                return self.send_body(200, api.resource_list(group, version, served))
        else:
            return self.send_status(page_notfound)
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        if not rest or rest[0] not in served[(group, version)] or len(rest) > 3:
            return self.send_status(page_notfound)
        res = served[(group, version)][rest[0]]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        evict = sub == "eviction" and res.key == "pods"
        if sub is not None and not (sub == "status" and res.status_subresource) and not evict:
            return self.send_status(page_notfound)
        if ns is not None and not res.namespaced:
            return self.send_status(page_notfound)
        if res.namespaced and name is not None and ns is None:
            return self.send_status(page_notfound)
        key_ns = ns or ""
        if ns is not None and res.key != "namespaces" and api.store.get("namespaces", ns) is None \
                and self.command in ("POST",) and not evict:
            return self.send_status(status(404, "NotFound", 'namespaces "%s" not found' % ns,
                                           {"name": ns, "kind": "namespaces"}))
        m = self.command
        if evict:
            if m != "POST":
                return self.send_status(status(405, "MethodNotAllowed",
                                               "the server does not allow this method on the requested resource"))
            return self._evict(ns, name)
        if name is None:
            if m in ("GET", "HEAD"):
                return self._list(res, ns)
            if m == "POST":
                return self._create(res, key_ns)
            return self.send_status(status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"))
        if m == "PATCH":
            # like kube-apiserver: the patch type is checked before the object is looked up
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if ctype not in res.patch_types:
                # a custom resource has no Go type to merge strategically: kube-apiserver refuses it so
                return self.send_status(status(415, "UnsupportedMediaType",
                                               "the body of the request was in an unknown format - accepted media "
                                               "types include: " + ", ".join(res.patch_types)))
            if ctype == PATCH_JSON:
                return self.send_status(status(415, "UnsupportedMediaType",
                                               "json-patch is not supported by the kubeforge test double"))
            if ctype == PATCH_APPLY and sub is not None:
                return self.send_status(status(415, "UnsupportedMediaType",
                                               "server-side apply (application/apply-patch+yaml) of a subresource "
                                               "is not supported by the kubeforge test double"))
        if m in ("PATCH", "PUT"):
            bad = self._options_problem("PatchOptions", ctype) if m == "PATCH" else \
                self._options_problem("UpdateOptions")
            if bad:
                return self.send_status(bad)
        if m == "DELETE":
            options = self._delete_options()
            if options is Ellipsis:
                return
            dry = isinstance(options.get("dryRun"), list) and "All" in options["dryRun"]
        else:
            dry = self._dry_run()
            if dry is Ellipsis:
                return
        obj = api.store.get(res.key, name, key_ns)
        notfound = status(404, "NotFound", '%s "%s" not found' % (res.key, name), res.details(name))
        if m in ("GET", "HEAD"):
            if obj is None:
                return self.send_status(notfound)
            obj = self._with_type(self._present(res.key, obj), res)
            if self._wants_table():
                return self.send_body(200, self._table(res.key, [obj]))
            return self.send_body(200, obj)
        if m == "DELETE":
            if obj is None:
                return self.send_status(notfound)
            bad = self._delete_problem(res, name, obj, options)
            if bad:
                return self.send_status(bad)
            if not dry:
                def delete():
                    api.store.delete(res.key, name, key_ns)
                if api.on_delete is not None:
                    # synchronous stand-in for a finalizer's controller (e.g. K3s's managed-etcd-controller)
                    api.on_delete(res.key, copy.deepcopy(obj), delete)
                else:
                    delete()
                if res.key == CRD_KEY:
                    self._delete_custom_objects(obj)
                elif res.key == "serviceaccounts":
                    api.delete_token_secrets(obj)
            if res.group:
                # a real server answers with the object only for kinds that keep it
                # (finalizers, graceful deletion); these are gone at once
                return self.send_body(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                            "status": "Success",
                                            "details": dict(res.details(name), uid=obj["metadata"].get("uid", ""))})
            return self.send_body(200, self._with_type(obj, res))
        if m in ("PATCH", "PUT"):
            if m == "PATCH" and ctype == PATCH_APPLY:
                return self._apply(res, name, ns, key_ns, obj, dry)
            if obj is None:
                return self.send_status(notfound)
            body = self.read_json()
            if body is Ellipsis:
                return
            if m == "PATCH":
                if not isinstance(body, dict):
                    return self.send_status(status(400, "BadRequest", "the body of the request is not a JSON object"))
                merge = strategic_merge_patch if ctype == PATCH_STRATEGIC else merge_patch
                new = merge(copy.deepcopy(obj), body)
            else:
                new = body if isinstance(body, dict) else {}
                bad = self._bad_type(res, new)
                if bad:
                    return self.send_status(bad)
            if not isinstance(new.get("metadata"), dict):
                new["metadata"] = {}
            if sub is not None:  # a write to /status leaves managedFields as they are
                fieldmanager.keep(obj, new)
            return self._update(res, name, ns, key_ns, obj, new, dry, None if sub else self._manager())
        return self.send_status(status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"))

    def _update(self, res: Res, name: str, ns: Optional[str], key_ns: str, obj: dict, new: dict, dry: bool,
                manager: Optional[str]) -> None:
        """The end of a PUT, PATCH or apply of the stored ``obj``: name and resourceVersion checks,
        admission, managedFields (the Update of ``manager``; None: ``new`` carries them already),
        then the write, unless nothing changes."""
        if new["metadata"].get("name", name) != name:
            return self.send_status(status(400, "BadRequest", "the name of the object (%s) does not match the name "
                                                              "on the URL (%s)" % (new["metadata"].get("name"), name)))
        want_rv = new["metadata"].get("resourceVersion")
        if want_rv and str(want_rv) != obj["metadata"].get("resourceVersion"):
            return self.send_status(status(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the object '
                                                            'has been modified; please apply your changes to the '
                                                            'latest version and try again' % (res.key, name),
                                           res.details(name)))
        for keep in ("uid", "creationTimestamp", "name"):
            if keep in obj["metadata"]:
                new["metadata"][keep] = obj["metadata"][keep]
        if ns:
            new["metadata"]["namespace"] = ns
        new.pop("kind", None)
        new.pop("apiVersion", None)
        bad = self._admit(res, new, obj)
        if bad:
            return self.send_status(bad)
        if manager is not None:
            fieldmanager.record_update(obj, new, manager, res.api_version, field_schema(res), now_rfc3339())
        if self._unchanged(obj, new) and (manager is not None or obj["metadata"].get("managedFields")
                                          == new["metadata"].get("managedFields")):
            # like kube-apiserver: a no-op update is not written, resourceVersion and managedFields stay
            return self.send_body(200, self._with_type(obj, res))
        if dry:
            # dryRun=All: the answer a real update would give, nothing written
            new["metadata"]["resourceVersion"] = obj["metadata"].get("resourceVersion")
            return self.send_body(200, self._with_type(new, res))
        self.server_api.store.update(res.key, new, key_ns)
        if res.key == "secrets":
            self.server_api.sync_token_secret(key_ns, name)
        return self.send_body(200, self._with_type(new, res))

    def _apply(self, res: Res, name: str, ns: Optional[str], key_ns: str, obj: Optional[dict], dry: bool) -> None:
        """PATCH application/apply-patch+yaml: server-side apply (fieldmanager.apply) by the
        ``fieldManager`` of the query to the stored ``obj``, or to nothing, which creates it."""
        config = self.read_json()
        if config is Ellipsis:
            return
        if not isinstance(config, dict) or not isinstance(config.get("metadata", {}), dict):
            return self.send_status(status(400, "BadRequest", "error decoding YAML: the apply configuration is not "
                                                              "an object with a metadata object"))
        if (config.get("apiVersion"), config.get("kind")) != (res.api_version, res.kind):
            # the field manager's version check, before anything else
            return self.send_status(status(400, "BadRequest", "invalid object type: " +
                                           _gvk_string(config.get("apiVersion"), config.get("kind"))))
        md = config.get("metadata", {})
        if md.get("managedFields") is not None:
            return self.send_status(status(400, "BadRequest", "metadata.managedFields must be nil"))
        if md.get("name", name) != name:
            return self.send_status(status(400, "BadRequest", "the name of the object (%s) does not match the name "
                                                              "on the URL (%s)" % (md.get("name"), name)))
        if obj is None and res.namespaced and res.key != "namespaces" \
                and self.server_api.store.get("namespaces", ns) is None:
            return self.send_status(status(404, "NotFound", 'namespaces "%s" not found' % ns,
                                           {"name": ns, "kind": "namespaces"}))
        force = self.query.get("force", "false").lower() not in ("false", "0")
        try:
            new = fieldmanager.apply(obj, config, self.query["fieldManager"], res.api_version, force,
                                     field_schema(res), now_rfc3339())
        except fieldmanager.Conflicts as e:
            return self.send_status(status(409, "Conflict", e.message(), {"causes": e.causes()}))
        new["metadata"]["name"] = name
        if obj is None:
            return self._insert(res, key_ns, new, dry)
        if md.get("resourceVersion"):
            new["metadata"]["resourceVersion"] = md["resourceVersion"]  # a precondition, as in an update
        return self._update(res, name, ns, key_ns, obj, new, dry, None)

    def _manager(self) -> str:
        """The field manager of a write: ``fieldManager``, else kube-apiserver's prefixFromUserAgent
        (the User-Agent up to its first "/", printable characters, at most 128 bytes)."""
        if self.query.get("fieldManager"):
            return self.query["fieldManager"]
        out = ""
        for ch in (self.headers.get("User-Agent") or "").split("/")[0]:
            if not ch.isprintable():
                continue
            if len((out + ch).encode()) > 128:
                break
            out += ch
        return out

    def _options_problem(self, kind: str, patch_type: Optional[str] = None) -> Optional[dict]:
        """ValidateCreateOptions, ValidateUpdateOptions or ValidatePatchOptions (``kind``) for the
        fieldManager and force of the query: the 422 to answer, or None."""
        errs = []
        manager = self.query.get("fieldManager", "")
        if patch_type is not None and patch_type != PATCH_APPLY and "force" in self.query:
            errs.append(("force", "FieldValueForbidden", "Forbidden: may not be specified for non-apply patch"))
        if patch_type == PATCH_APPLY and not manager:
            errs.append(("fieldManager", "FieldValueRequired", "Required value: is required for apply patch"))
        if len(manager.encode()) > 128:
            errs.append(("fieldManager", "FieldValueTooLong", "Too long: may not be more than 128 bytes"))
        if not errs:
            return None
        msgs = ["%s: %s" % (f, m) for f, _, m in errs]
        return status(422, "Invalid", '%s.meta.k8s.io "" is invalid: %s'
                      % (kind, msgs[0] if len(msgs) == 1 else "[%s]" % ", ".join(msgs)),
                      {"group": "meta.k8s.io", "kind": kind,
                       "causes": [{"reason": r, "message": m, "field": f} for f, r, m in errs]})

    def _evict(self, ns: str, name: str) -> None:
        """POST pods/<name>/eviction, as kube-apiserver's create handler and EvictionREST.Create
        (pkg/registry/core/pod/storage/eviction.go) answer it; see the module docstring."""
        api = self.server_api
        store = api.store
        body = self.read_json()
        if body is Ellipsis:
            return
        if not isinstance(body, dict):
            return self.send_status(status(400, "BadRequest", "the object provided is unrecognized (must be of type "
                                                              "Eviction): couldn't get version/kind; json parse "
                                                              "error: the body is not a JSON object"))
        # the decoder: policy/v1 by default, policy/v1beta1 accepted (EvictionREST.AcceptsGroupVersion)
        av, kind = body.get("apiVersion") or "policy/v1", body.get("kind") or "Eviction"
        if av not in EVICTION_VERSIONS or kind != "Eviction":
            return self.send_status(status(400, "BadRequest", '%s in version "%s" cannot be handled as a Eviction: '
                                                              'no kind "%s" is registered for version "%s" in scheme '
                                                              '"pkg/api/legacyscheme/scheme.go:30"'
                                           % (kind, av.split("/")[-1], kind, av)))
        md = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        if md.get("namespace") and md["namespace"] != ns:
            return self.send_status(status(400, "BadRequest", "the namespace of the provided object does not match "
                                                              "the namespace sent on the request"))
        if store.get("namespaces", ns) is None:  # the NamespaceLifecycle admission plugin
            return self.send_status(status(404, "NotFound", 'namespaces "%s" not found' % ns,
                                           {"name": ns, "kind": "namespaces"}))
        if md.get("name") != name:
            return self.send_status(status(400, "BadRequest", "name in URL does not match name in Eviction object"))
        opts = body.get("deleteOptions") if isinstance(body.get("deleteOptions"), dict) else {}
        query_dry = self._dry_run()
        if query_dry is Ellipsis:
            return
        body_dry = [str(v) for v in opts.get("dryRun") or []]
        if query_dry and body_dry and body_dry != ["All"]:
            # propagateDryRun: a plain error, which kube-apiserver answers as a 500 of reason Unknown
            return self.send_status(status(500, "Unknown", "Non-matching dry-run options in request and content: "
                                                           "[All] and [%s]" % " ".join(body_dry)))
        dry = bool(query_dry or body_dry)
        pod = store.get("pods", name, ns)
        if pod is None:
            return self.send_status(status(404, "NotFound", 'pods "%s" not found' % name,
                                           {"name": name, "kind": "pods"}))
        pmd = pod["metadata"]
        phase = (pod.get("status") or {}).get("phase") or "Pending"  # kube-apiserver sets Pending at creation
        # canIgnorePDB: a terminal, pending or terminating pod is deleted without looking at budgets
        if phase not in ("Succeeded", "Failed", "Pending") and not pmd.get("deletionTimestamp"):
            pdbs = pdbs_for_pod(store, pod)
            if len(pdbs) > 1:
                return self.send_body(500, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                            "status": "Failure", "message": MULTIPLE_PDBS_MSG, "code": 500})
            if pdbs:
                pdb = pdbs[0]
                pdb_name = pdb["metadata"]["name"]
                st = pdb_status(store, api.served(), pdb)
                policy = (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy")
                unready_ok = not pod_ready(pod) and (policy == "AlwaysAllow" or (
                    st["currentHealthy"] >= st["desiredHealthy"] > 0))
                if not unready_ok:
                    if st.get("observedGeneration", 0) < pdb["metadata"].get("generation", 1):
                        return self.send_body(
                            429, status(429, "TooManyRequests", DISRUPTION_BUDGET_MSG,
                                        {"causes": [{"reason": "DisruptionBudget",
                                                     "message": "The disruption budget %s is still being processed "
                                                                "by the server." % pdb_name}],
                                         "retryAfterSeconds": 10}), headers={"Retry-After": "10"})
                    if st["disruptionsAllowed"] == 0:
                        return self.send_status(status(
                            429, "TooManyRequests", DISRUPTION_BUDGET_MSG,
                            {"causes": [{"reason": "DisruptionBudget",
                                         "message": "The disruption budget %s needs %d healthy pods and has %d "
                                                    "currently" % (pdb_name, st["desiredHealthy"],
                                                                   st["currentHealthy"])}]}))
                    # the decrement (status.disruptedPods) would be written here; the pod goes at once, so the
                    # computed status needs no record of it
        pre = opts.get("preconditions") if isinstance(opts.get("preconditions"), dict) else {}
        for field, label, have in (("uid", "UID", pmd.get("uid")), ("resourceVersion", "ResourceVersion",
                                                                     pmd.get("resourceVersion"))):
            want = pre.get(field)
            if want and str(want) != have:
                if dry:  # the store's precondition check (no DisruptionTarget update on a dry run)
                    msg = ('Operation cannot be fulfilled on pods "%s": StorageError: invalid object, Code: 4, '
                           "Key: /registry/pods/%s/%s, ResourceVersion: 0, AdditionalErrorMsg: Precondition "
                           "failed: %s in precondition: %s, %s in object meta: %s"
                           % (name, ns, name, label, want, label, have))
                    return self.send_status(status(409, "Conflict", msg, {"name": name, "kind": "pods"}))
                msg = ('Operation cannot be fulfilled on Pod "%s": the %s in the precondition (%s) does not match '
                       "the %s in record (%s). The object might have been %s"
                       % (name, label, want, label, have,
                          "deleted and then recreated" if field == "uid" else "modified"))
                return self.send_status(status(409, "Conflict", msg, {"name": name, "kind": "Pod"}))
        if not dry:
            # the DisruptionTarget condition and graceful termination are skipped: no kubelet runs, the pod goes now
            def delete():
                store.delete("pods", name, ns)
            if api.on_delete is not None:
                api.on_delete("pods", copy.deepcopy(pod), delete)
            else:
                delete()
        return self.send_body(201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                    "code": 201})

    def _delete_options(self):
        """metav1.DeleteOptions of a DELETE as kube-apiserver's DeleteResource reads them: from the body when
        there is one (JSON, or protobuf from client-go's typed clients; the DeleteOptions of any group
        version), the query parameters being ignored then; else from the query (propagationPolicy,
        gracePeriodSeconds, orphanDependents, dryRun).  Ellipsis after answering 400 for an unreadable
        body or a bad query dryRun value."""
        raw = self._raw_body()
        if not raw:
            dry = self._dry_run()
            if dry is Ellipsis:
                return Ellipsis
            opts = {"dryRun": ["All"]} if dry else {}
            if "propagationPolicy" in self.query:
                opts["propagationPolicy"] = self.query["propagationPolicy"]
            if "orphanDependents" in self.query:
                opts["orphanDependents"] = self.query["orphanDependents"].lower() == "true"
            if "gracePeriodSeconds" in self.query:
                try:
                    opts["gracePeriodSeconds"] = int(self.query["gracePeriodSeconds"])
                except ValueError:
                    self.send_status(status(400, "BadRequest", 'strconv.ParseInt: parsing "%s": invalid syntax'
                                            % self.query["gracePeriodSeconds"]))
                    return Ellipsis
            return opts
        body = self.read_json()
        if body is Ellipsis:
            return Ellipsis
        if not isinstance(body, dict):
            self.send_status(status(400, "BadRequest", "error decoding body: the DeleteOptions are not a JSON "
                                                       "object"))
            return Ellipsis
        if body.get("kind") not in (None, "", "DeleteOptions"):
            self.send_status(status(400, "BadRequest", "error decoding body: a %s is not DeleteOptions"
                                    % body.get("kind")))
            return Ellipsis
        return {k: v for k, v in body.items() if k not in ("kind", "apiVersion")}

    @staticmethod
    def _delete_problem(res: Res, name: str, obj: dict, opts: dict) -> Optional[dict]:
        """rest.BeforeDelete on the stored ``obj``: ValidateDeleteOptions (422 ``DeleteOptions.meta.k8s.io ""
        is invalid: ...``), then the preconditions (409 Conflict)."""
        errs = []
        policy = opts.get("propagationPolicy")
        if opts.get("orphanDependents") is not None and policy is not None:
            errs.append(("propagationPolicy", "FieldValueInvalid", "Invalid value: %s: orphanDependents and "
                         "deletionPropagation cannot be both set" % json.dumps(policy)))
        if policy is not None and policy not in ("Foreground", "Background", "Orphan"):
            errs.append(("propagationPolicy", "FieldValueNotSupported", 'Unsupported value: %s: supported values: '
                         '"Foreground", "Background", "Orphan", "nil"' % json.dumps(policy)))
        dry = opts.get("dryRun") or []
        if not isinstance(dry, list) or any(v != "All" for v in dry):
            errs.append(("dryRun", "FieldValueNotSupported", 'Unsupported value: []string{%s}: supported values: '
                         '"All"' % ", ".join(json.dumps(str(v)) for v in (dry if isinstance(dry, list) else [dry]))))
        if errs:
            msgs = ["%s: %s" % (f, m) for f, _, m in errs]
            return status(422, "Invalid", 'DeleteOptions.meta.k8s.io "" is invalid: %s'
                          % (msgs[0] if len(msgs) == 1 else "[%s]" % ", ".join(msgs)),
                          {"group": "meta.k8s.io", "kind": "DeleteOptions",
                           "causes": [{"reason": r, "message": m, "field": f} for f, r, m in errs]})
        pre = opts.get("preconditions") if isinstance(opts.get("preconditions"), dict) else {}
        md = obj["metadata"]
        for field, label, have, why in (("uid", "UID", md.get("uid", ""), "deleted and then recreated"),
                                        ("resourceVersion", "ResourceVersion", md.get("resourceVersion", ""),
                                         "modified")):
            want = pre.get(field)
            if want is not None and str(want) != have:
                qualified = "%s.%s" % (res.kind, res.group) if res.group else res.kind
                details = {"name": name, "kind": res.kind}
                if res.group:
                    details = {"name": name, "group": res.group, "kind": res.kind}
                return status(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the %s in the precondition '
                                               "(%s) does not match the %s in record (%s). The object might have been "
                                               "%s" % (qualified, name, label, want, label, have, why), details)
        return None

    def _dry_run(self):
        """True for dryRun=All, False without it; Ellipsis after answering 400 to another value."""
        value = self.query.get("dryRun")
        if value is None:
            return False
        if value == "All":
            return True
        self.send_status(status(400, "BadRequest", 'Invalid dry run value: "%s"' % value))
        return Ellipsis

    @staticmethod
    def _unchanged(old, new):
        def norm(o):
            o = {k: v for k, v in o.items() if k not in ("kind", "apiVersion")}
            o["metadata"] = {k: v for k, v in (o.get("metadata") or {}).items()
                             if k not in ("resourceVersion", "managedFields")}
            return o
        return norm(old) == norm(new)

    def _bad_type(self, res, body):
        """400 for a body of another group/version or kind, like kube-apiserver (group resources, and core
        ones for a protobuf body, whose envelope always names its type)."""
        checked = res.group or self._proto
        have = body.get("apiVersion")
        if checked and have and have != res.api_version:
            return status(400, "BadRequest", "the API version in the data (%s) does not match the expected API "
                                             "version (%s)" % (have, res.api_version))
        kind = body.get("kind")
        if checked and kind and kind != res.kind:
            return status(400, "BadRequest", "the kind in the data (%s) does not match the expected kind (%s)"
                                             % (kind, res.kind))
        return None

    @staticmethod
    def _admit(res, new, old):
        """What kube-apiserver does to an object on create (``old`` None) or
        update before it is stored: validation and defaults of a CRD,
        metadata.generation (1 on create, +1 on a spec change; for a custom
        resource, on any change outside metadata and status) and the
        computed status of a workload.  Returns None or a Status to answer."""
        md = new["metadata"]
        if res.key == "namespaces" and md.get("name"):
            # the namespace strategy (PrepareForCreate/PrepareForUpdate): the immutable name label, always
            md["labels"] = dict(md.get("labels") or {}, **{"kubernetes.io/metadata.name": md["name"]})
        if res.key == "secrets" and new.get("type") == serviceaccount.SECRET_TYPE \
                and not (md.get("annotations") or {}).get(serviceaccount.NAME_KEY):
            # ValidateSecret: the controller fills in the rest, the ServiceAccount's name must be there
            name, fld = md.get("name") or "", "metadata.annotations[%s]" % serviceaccount.NAME_KEY
            return status(422, "Invalid", 'Secret "%s" is invalid: %s: Required value' % (name, fld),
                          {"name": name, "kind": "Secret",
                           "causes": [{"reason": "FieldValueRequired", "message": "Required value", "field": fld}]})
        if res.key == CRD_KEY:
            causes = crd_problems(new)
            if causes:
                name = md.get("name") or ""
                return status(422, "Invalid", 'CustomResourceDefinition.apiextensions.k8s.io "%s" is invalid: %s'
                                              % (name, causes[0] if len(causes) == 1
                                                 else "[%s]" % ", ".join(causes)),
                              dict(res.details(name), causes=[{"message": c} for c in causes]))
            crd_admit(new, old)
        if res.key == PDB_KEY:
            causes = pdb_problems(new)
            if causes:
                name = md.get("name") or ""
                msgs = ["%s: %s" % (f, m) for f, _, m in causes]
                return status(422, "Invalid", 'PodDisruptionBudget.policy "%s" is invalid: %s'
                                              % (name, msgs[0] if len(msgs) == 1 else "[%s]" % ", ".join(msgs)),
                              {"name": name, "group": "policy", "kind": "PodDisruptionBudget",
                               "causes": [{"reason": r, "message": m, "field": f} for f, r, m in causes]})
            # the registry strategy: an empty status on create, the stored one kept on update (the
            # disruption controller's status is computed when the PDB is read, see pdb_status)
            new["status"] = copy.deepcopy(old.get("status")) if old is not None and "status" in old else {
                "disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}
        if res.key in WORKLOADS:
            workload_defaults(res.key, new)
        if res.key in WORKLOADS or res.key in (CRD_KEY, PDB_KEY) or res.custom:
            if old is None:
                gen = 1
            else:
                gen = old["metadata"].get("generation", 1)
                if res.custom:
                    def body(o):
                        return {k: v for k, v in o.items() if k not in ("metadata", "status", "kind", "apiVersion")}
                    moved = body(new) != body(old)
                else:
                    moved = new.get("spec") != old.get("spec") or (
                        res.key == "deployments.apps"
                        and md.get("annotations") != old["metadata"].get("annotations"))
                gen += 1 if moved else 0
            md["generation"] = gen
        if res.key in WORKLOADS:
            new["status"] = workload_status(res.key, new)
        return None

    def _delete_custom_objects(self, crd):
        """A deleted CRD takes its custom resources with it (kube-apiserver's
        CRD finalizer, done at once here)."""
        spec = crd.get("spec") or {}
        key = "%s.%s" % ((spec.get("names") or {}).get("plural", ""), spec.get("group", ""))
        store = self.server_api.store
        for o in store.list(key):
            store.delete(key, o["metadata"]["name"], o["metadata"].get("namespace", ""))

    def _present(self, resource, obj):
        if resource == PDB_KEY:
            # no disruption controller runs: its status is computed on every read
            api = self.server_api
            obj = dict(obj, status=pdb_status(api.store, api.served(), obj))
        fn = self.server_api.present
        return fn(resource, obj) if fn else obj

    @staticmethod
    def _with_type(obj, res):
        """obj with kind and apiVersion first; ``res`` is a Res or a core kind name."""
        if isinstance(res, Res):
            out = {"kind": res.kind, "apiVersion": res.api_version}
        else:
            out = {"kind": res, "apiVersion": "v1"}
        out.update({k: v for k, v in obj.items() if k not in ("kind", "apiVersion")})
        return out

    def _wants_aggregated_discovery(self) -> bool:
        """kube-apiserver's content negotiation on /api and /apis: the first media type of Accept the server
        can serve decides; aggregated discovery (application/json;g=apidiscovery.k8s.io;v=v2;
        as=APIGroupDiscoveryList, parameters in any order) or the legacy form (application/json, */*, ...).
        client-go (kubectl, helm) asks for v2 first; the Python client asks for plain JSON."""
        for part in (self.headers.get("Accept") or "").split(","):
            fields = [f.strip() for f in part.split(";")]
            media, params = fields[0].lower(), {}
            for f in fields[1:]:
                k, _, v = f.partition("=")
                params[k.strip().lower()] = v.strip()
            if media == "application/json" and params.get("g") == "apidiscovery.k8s.io":
                if params.get("v") == "v2" and params.get("as") == "APIGroupDiscoveryList":
                    return True
                continue  # v2beta1 (gone in Kubernetes 1.33) and anything else: not served, try the next one
            if media in ("application/json", "application/*", "*/*") and "as" not in params:
                return False
        return False

    def _wants_table(self):
        return "as=Table" in (self.headers.get("Accept") or "")

    def _table(self, resource, objs, list_meta=None):
        cols, rowfn = TABLES.get(resource, _DEFAULT_TABLE)
        include = self.query.get("includeObject", "Metadata")
        rows = []
        for o in objs:
            row = {"cells": rowfn(o)}
            if include == "Object":
                row["object"] = o
            elif include != "None":
                row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                 "metadata": o.get("metadata", {})}
            rows.append(row)
        return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                "metadata": list_meta or {"resourceVersion": str(self.server_api.store.current_rv())},
                "columnDefinitions": cols, "rows": rows}

    def _list(self, res, ns):
        store = self.server_api.store
        try:
            lm = label_matcher(self.query.get("labelSelector"))
            fm = field_matcher(self.query.get("fieldSelector"), None if res.group else res.name)
        except SelectorError as e:
            return self.send_status(status(400, "BadRequest", str(e)))
        items = [o for o in (self._present(res.key, x) for x in store.list(res.key, ns if res.namespaced else None))
                 if lm(o.get("metadata", {}).get("labels")) and fm(o)]
        rv = str(store.current_rv())
        if self.query.get("watch") in ("true", "1"):
            return self._watch(items, res)
        start = 0
        cont = self.query.get("continue")
        if cont:
            try:
                start = int(base64.urlsafe_b64decode(cont.encode()).decode())
            except ValueError:
                return self.send_status(status(400, "BadRequest", "continue key is not valid"))
        meta = {"resourceVersion": rv}
        limit = self.query.get("limit")
        sel = items[start:]
        if limit and limit.isdigit() and int(limit) > 0 and len(sel) > int(limit):
            sel = sel[:int(limit)]
            meta["continue"] = base64.urlsafe_b64encode(str(start + len(sel)).encode()).decode()
            meta["remainingItemCount"] = len(items) - start - len(sel)
        if self._wants_table():
            return self.send_body(200, self._table(res.key, [self._with_type(o, res) for o in sel], meta))
        for o in sel:
            o.pop("kind", None)
            o.pop("apiVersion", None)
        return self.send_body(200, {"kind": res.kind + "List", "apiVersion": res.api_version, "metadata": meta,
                                    "items": sel})

    def _watch(self, items, res):
        try:
            timeout = min(int(self.query.get("timeoutSeconds") or 30), 300)
        except ValueError:
            timeout = 30
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(data):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        try:
            if self.query.get("sendInitialEvents") != "false" and not self.query.get("resourceVersion"):
                for o in items:
                    chunk(json.dumps({"type": "ADDED", "object": self._with_type(o, res)}).encode() + b"\n")
            elif self.query.get("resourceVersion") in ("0",):
                for o in items:
                    chunk(json.dumps({"type": "ADDED", "object": self._with_type(o, res)}).encode() + b"\n")
            if self.query.get("sendInitialEvents") == "true" and self.query.get("allowWatchBookmarks") == "true":
                # watch-list (client-go's reflector, kubectl wait/rollout status): the initial
                # events end with a bookmark so annotated
                mark = {"kind": res.kind, "apiVersion": res.api_version,
                        "metadata": {"resourceVersion": str(self.server_api.store.current_rv()),
                                     "annotations": {"k8s.io/initial-events-end": "true"}}}
                chunk(json.dumps({"type": "BOOKMARK", "object": mark}).encode() + b"\n")
            time.sleep(timeout)
            chunk(b"")
        except OSError:
            pass
        self.close_connection = True

    def _create(self, res, key_ns):
        bad = self._options_problem("CreateOptions")
        if bad:
            return self.send_status(bad)
        body = self.read_json()
        if body is Ellipsis:
            return
        if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict) \
                or not body["metadata"].get("name"):
            return self.send_status(status(422, "Invalid", "%s \"\" is invalid: metadata.name: Required value: name or generateName is required" % res.kind))
        bad = self._bad_type(res, body)
        if bad:
            return self.send_status(bad)
        dry = self._dry_run()
        if dry is Ellipsis:
            return
        body.pop("kind", None)
        body.pop("apiVersion", None)
        return self._insert(res, key_ns, body, dry, self._manager())

    def _insert(self, res: Res, key_ns: str, body: dict, dry: bool, manager: Optional[str] = None) -> None:
        """The end of a create, by POST or by an apply to a missing object: namespace, defaults,
        admission, managedFields (the Update of ``manager``; None: ``body`` carries them already),
        then the store (409 AlreadyExists if the name is taken)."""
        if res.namespaced:
            body["metadata"]["namespace"] = key_ns
        elif res.group:
            body["metadata"].pop("namespace", None)
        if res.key == "namespaces":
            body.setdefault("status", {"phase": "Active"})
            body.setdefault("spec", {"finalizers": ["kubernetes"]})
        bad = self._admit(res, body, None)
        if bad:
            return self.send_status(bad)
        if manager is not None:
            fieldmanager.record_update(None, body, manager, res.api_version, field_schema(res), now_rfc3339())
        if dry:
            if self.server_api.store.get(res.key, body["metadata"]["name"], key_ns) is not None:
                name = body["metadata"]["name"]
                return self.send_status(status(409, "AlreadyExists", '%s "%s" already exists' % (res.key, name),
                                               res.details(name)))
            return self.send_body(201, self._with_type(body, res))
        try:
            self.server_api.store.create(res.key, body, key_ns)
        except Conflict:
            name = body["metadata"]["name"]
            return self.send_status(status(409, "AlreadyExists", '%s "%s" already exists' % (res.key, name),
                                           res.details(name)))
        if res.key == "secrets":
            self.server_api.sync_token_secret(key_ns, body["metadata"]["name"])
        return self.send_body(201, self._with_type(body, res))


class _StorePolicy:
    """rbac.PolicySource over the store, read on every request (kube-apiserver reads its informers'
    caches), so every API server of a replicated store decides alike."""

    def __init__(self, store) -> None:
        self.store = store

    def role(self, namespace: str, name: str) -> Optional[dict]:
        return self.store.get(RBAC_KEYS["roles"], name, namespace)

    def cluster_role(self, name: str) -> Optional[dict]:
        return self.store.get(RBAC_KEYS["clusterroles"], name)

    def role_bindings(self, namespace: str) -> list:
        return self.store.list(RBAC_KEYS["rolebindings"], namespace)

    def cluster_role_bindings(self) -> list:
        return self.store.list(RBAC_KEYS["clusterrolebindings"])


def ensure_rbac_defaults(store) -> None:
    """kube-apiserver's RBAC bootstrap at start: the roles and bindings of rbac.bootstrap_policy() that are
    missing are created; existing ones are left as they are (no reconciliation)."""
    for key, obj in rbac.bootstrap_policy():
        if store.get(key, obj["metadata"]["name"]) is None:
            try:
                store.create(key, obj)
            except Conflict:
                pass


def ensure_namespace(store, name):
    if store.get("namespaces", name) is None:
        try:
            store.create("namespaces", {"metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
                                        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
        except Conflict:
            pass


__all__ = ["APIServer", "ensure_namespace", "ensure_rbac_defaults", "status", "merge_patch", "strategic_merge_patch",
           "now_rfc3339"]
