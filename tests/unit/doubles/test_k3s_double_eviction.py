"""PodDisruptionBudgets, the pods/eviction subresource and `kubectl drain` against the K3s double's API (api.py).

The API runs in-process (an APIServer on a SQLite Store, a CA and serving certificate made with pki.py, bearer-token
authentication) on a free loopback port; the end-to-end tests drive the real kubectl (.venv/bin/kubectl) through a
kubeconfig that points at it. Every test works in its own namespace (and with its own Node), so they stay independent.
Upstream references: pkg/registry/core/pod/storage/eviction.go, pkg/controller/disruption/disruption.go,
staging/src/k8s.io/kubectl/pkg/drain/{drain,filters}.go."""
import base64
import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import time

import pytest

from k3s_double_helpers import free_port

from k3s import api as kapi  # noqa: E402  (tests/doubles is on sys.path via k3s_double_helpers)
from k3s import pki
from k3s.state import Store

KUBECTL = os.path.join(os.path.dirname(sys.executable), "kubectl")
if not os.access(KUBECTL, os.X_OK):
    KUBECTL = shutil.which("kubectl") or KUBECTL
TOKEN = "eviction-test-token"
BUDGET_MSG = "Cannot evict pod as it would violate the pod's disruption budget."
SUCCESS = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


class InProcessAPI:
    """The double's APIServer in this process, with a kubeconfig for kubectl."""

    def __init__(self, tmp):
        self.tmp = tmp
        ca, ca_key, crt, key = (str(tmp / n) for n in ("ca.crt", "ca.key", "apiserver.crt", "apiserver.key"))
        pki.make_ca(ca, ca_key, "k3s-server-ca")
        pki.make_leaf(crt, key, ca, ca_key, "/CN=kube-apiserver", dns=["localhost"], ips=["127.0.0.1"], server=True)
        self.store = Store(str(tmp / "state.db"))
        kapi.ensure_namespace(self.store, "default")
        self.port = free_port()
        version = {"major": "1", "minor": "35", "gitVersion": "v1.35.1+k3s1", "platform": "linux/amd64"}
        self.server = kapi.APIServer(self.store, version, self.authenticate, host="127.0.0.1", port=self.port,
                                     certfile=crt, keyfile=key)
        self.ctx = ssl.create_default_context(cafile=ca)
        self.kubeconfig = tmp / "kubeconfig"
        with open(ca, "rb") as fh:
            cadata = base64.b64encode(fh.read()).decode()
        self.kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "double",
            "clusters": [{"name": "double", "cluster": {"server": "https://127.0.0.1:%d" % self.port,
                                                        "certificate-authority-data": cadata}}],
            "contexts": [{"name": "double", "context": {"cluster": "double", "user": "admin"}}],
            "users": [{"name": "admin", "user": {"token": TOKEN}}]}))

    @staticmethod
    def authenticate(handler) -> "str | None":
        return "admin" if handler.headers.get("Authorization") == "Bearer " + TOKEN else None

    def request(self, method: str, path: str, body: object = None, ctype: str = "application/json"):
        """(status, parsed JSON body, headers)."""
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=10)
        headers = {"Authorization": "Bearer " + TOKEN}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = ctype
        try:
            c.request(method, path, body=data, headers=headers)
            r = c.getresponse()
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None), dict(r.getheaders())
        finally:
            c.close()


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    a = InProcessAPI(tmp_path_factory.mktemp("eviction-api"))
    a.server.start()
    try:
        yield a
    finally:
        a.server.stop()
        a.store.close()


# -- objects -----------------------------------------------------------------------------------------------------

def create(api, path: str, obj: dict) -> dict:
    code, body, _ = api.request("POST", path, obj)
    assert code == 201, body
    return body


def namespace(api, name: str) -> str:
    create(api, "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def node(api, name: str) -> None:
    create(api, "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                                  "status": {"conditions": [{"type": "Ready", "status": "True"}]}})


def workload(api, ns: str, kind: str, name: str, replicas: int = None) -> dict:
    plural = {"ReplicaSet": "replicasets", "DaemonSet": "daemonsets", "Deployment": "deployments",
              "StatefulSet": "statefulsets"}[kind]
    spec = {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return create(api, "/apis/apps/v1/namespaces/%s/%s" % (ns, plural),
                  {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec})


def pod(api, ns: str, name: str, owner: dict = None, app: str = None, node_name: str = "", phase: str = "Running",
        ready: bool = True) -> dict:
    md = {"name": name, "labels": {"app": app or (owner or {}).get("metadata", {}).get("name", name)}}
    if owner is not None:
        md["ownerReferences"] = [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                  "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                                  "controller": True, "blockOwnerDeletion": True}]
    spec = {"containers": [{"name": "c", "image": "x"}]}
    if node_name:
        spec["nodeName"] = node_name
    return create(api, "/api/v1/namespaces/%s/pods" % ns, {
        "apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec,
        "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}})


def pdb(api, ns: str, name: str, app: str, **budget) -> dict:
    spec = {"selector": {"matchLabels": {"app": app}}}
    spec.update(budget)
    return create(api, "/apis/policy/v1/namespaces/%s/poddisruptionbudgets" % ns,
                  {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
                   "spec": spec})


def pdb_status(api, ns: str, name: str) -> dict:
    code, body, _ = api.request("GET", "/apis/policy/v1/namespaces/%s/poddisruptionbudgets/%s" % (ns, name))
    assert code == 200, body
    return body["status"]


def evict(api, ns: str, name: str, body: dict = None, query: str = ""):
    if body is None:
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": ns}}
    return api.request("POST", "/api/v1/namespaces/%s/pods/%s/eviction%s" % (ns, name, query), body)


def pod_exists(api, ns: str, name: str) -> bool:
    code, body, _ = api.request("GET", "/api/v1/namespaces/%s/pods/%s" % (ns, name))
    assert code in (200, 404), body
    return code == 200


def budget_429(pdb_name: str, desired: int, current: int) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": BUDGET_MSG,
            "reason": "TooManyRequests", "code": 429,
            "details": {"causes": [{"reason": "DisruptionBudget",
                                    "message": "The disruption budget %s needs %d healthy pods and has %d currently"
                                               % (pdb_name, desired, current)}]}}


# -- discovery and the apps/v1 additions -------------------------------------------------------------------------

def test_discovery_lists_pods_eviction_and_policy_v1(api):
    code, body, _ = api.request("GET", "/api/v1")
    assert code == 200
    names = [r["name"] for r in body["resources"]]
    assert names.index("pods") < names.index("pods/eviction") < names.index("pods/status")
    evr = next(r for r in body["resources"] if r["name"] == "pods/eviction")
    # what kubectl drain's CheckEvictionSupport looks for: name, kind, and a group and version (-> policy/v1)
    assert evr == {"name": "pods/eviction", "singularName": "", "namespaced": True, "group": "policy",
                   "version": "v1", "kind": "Eviction", "verbs": ["create"]}
    code, body, _ = api.request("GET", "/apis")
    policy = next(g for g in body["groups"] if g["name"] == "policy")
    assert policy["versions"] == [{"groupVersion": "policy/v1", "version": "v1"}]
    assert policy["preferredVersion"] == {"groupVersion": "policy/v1", "version": "v1"}
    code, body, _ = api.request("GET", "/apis/policy/v1")
    assert code == 200 and body["groupVersion"] == "policy/v1"
    res = {r["name"]: r for r in body["resources"]}
    assert res["poddisruptionbudgets"]["kind"] == "PodDisruptionBudget"
    assert res["poddisruptionbudgets"]["shortNames"] == ["pdb"] and res["poddisruptionbudgets"]["namespaced"]
    code, body, _ = api.request("GET", "/apis/apps/v1")
    res = {r["name"]: r for r in body["resources"]}
    assert (res["replicasets"]["kind"], res["replicasets"]["shortNames"]) == ("ReplicaSet", ["rs"])
    assert (res["statefulsets"]["kind"], res["statefulsets"]["shortNames"]) == ("StatefulSet", ["sts"])


def test_replicasets_and_statefulsets_are_served(api):
    ns = namespace(api, "apps-extra")
    rs = workload(api, ns, "ReplicaSet", "web")
    assert rs["apiVersion"] == "apps/v1" and rs["kind"] == "ReplicaSet"
    assert rs["spec"]["replicas"] == 1 and rs["metadata"]["generation"] == 1
    assert rs["status"] == {"replicas": 0, "observedGeneration": 1}
    code, got, _ = api.request("GET", "/apis/apps/v1/namespaces/%s/replicasets/web" % ns)
    assert code == 200 and got["metadata"]["uid"] == rs["metadata"]["uid"]
    code, got, _ = api.request("GET", "/apis/apps/v1/namespaces/%s/replicasets/nope" % ns)
    assert code == 404 and got["message"] == 'replicasets.apps "nope" not found'
    assert got["details"] == {"name": "nope", "group": "apps", "kind": "replicasets"}
    sts = workload(api, ns, "StatefulSet", "db", replicas=3)
    assert sts["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert sts["spec"]["podManagementPolicy"] == "OrderedReady"
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert sts["status"] == {"observedGeneration": 1, "replicas": 0, "availableReplicas": 0}
    code, got, _ = api.request("PATCH", "/apis/apps/v1/namespaces/%s/statefulsets/db" % ns,
                               {"spec": {"replicas": 2}}, ctype="application/merge-patch+json")
    assert code == 200 and got["metadata"]["generation"] == 2 and got["status"]["observedGeneration"] == 2


# -- evictions ----------------------------------------------------------------------------------------------------

def test_evict_a_pod_without_budget_deletes_it(api):
    ns = namespace(api, "ev-plain")
    rs = workload(api, ns, "ReplicaSet", "web")
    pod(api, ns, "web-1", rs)
    code, body, _ = evict(api, ns, "web-1")
    assert (code, body) == (201, SUCCESS)
    assert not pod_exists(api, ns, "web-1")
    # policy/v1beta1 is still accepted (EvictionREST.AcceptsGroupVersion), and a body without apiVersion/kind too
    pod(api, ns, "web-2", rs)
    code, body, _ = evict(api, ns, "web-2", {"apiVersion": "policy/v1beta1", "kind": "Eviction",
                                             "metadata": {"name": "web-2"}})
    assert (code, body) == (201, SUCCESS)
    pod(api, ns, "web-3", rs)
    assert evict(api, ns, "web-3", {"metadata": {"name": "web-3"}})[:2] == (201, SUCCESS)
    assert not pod_exists(api, ns, "web-2") and not pod_exists(api, ns, "web-3")


def test_evict_a_missing_pod_is_404(api):
    ns = namespace(api, "ev-missing")
    code, body, _ = evict(api, ns, "ghost")
    assert code == 404
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": 'pods "ghost" not found', "reason": "NotFound",
                    "details": {"name": "ghost", "kind": "pods"}, "code": 404}
    code, body, _ = evict(api, "no-such-ns", "ghost")
    assert (code, body["message"]) == (404, 'namespaces "no-such-ns" not found')


def test_eviction_body_and_method_checks(api):
    ns = namespace(api, "ev-checks")
    pod(api, ns, "p")
    code, body, _ = evict(api, ns, "p", {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "q"}})
    assert (code, body["reason"], body["message"]) == (400, "BadRequest",
                                                       "name in URL does not match name in Eviction object")
    code, body, _ = evict(api, ns, "p", {"apiVersion": "policy/v1", "kind": "Eviction",
                                         "metadata": {"name": "p", "namespace": "other"}})
    assert (code, body["message"]) == (400, "the namespace of the provided object does not match the namespace "
                                            "sent on the request")
    code, body, _ = evict(api, ns, "p", {"apiVersion": "apps/v1", "kind": "Eviction", "metadata": {"name": "p"}})
    assert (code, body["message"]) == (400, 'Eviction in version "v1" cannot be handled as a Eviction: no kind '
                                            '"Eviction" is registered for version "apps/v1" in scheme '
                                            '"pkg/api/legacyscheme/scheme.go:30"')
    code, body, _ = api.request("GET", "/api/v1/namespaces/%s/pods/p/eviction" % ns)
    assert (code, body["reason"]) == (405, "MethodNotAllowed")
    code, body, _ = api.request("POST", "/api/v1/namespaces/%s/configmaps/x/eviction" % ns, {})
    assert code == 404
    assert pod_exists(api, ns, "p")


def test_dry_run_and_preconditions(api):
    ns = namespace(api, "ev-dry")
    p = pod(api, ns, "p")
    assert evict(api, ns, "p", query="?dryRun=All")[:2] == (201, SUCCESS)
    assert evict(api, ns, "p", {"metadata": {"name": "p"}, "deleteOptions": {"dryRun": ["All"]}})[:2] == (201, SUCCESS)
    assert pod_exists(api, ns, "p")
    code, body, _ = evict(api, ns, "p", {"metadata": {"name": "p"}, "deleteOptions": {"preconditions": {"uid": "x"}}})
    assert code == 409 and body["reason"] == "Conflict"
    assert body["message"] == ('Operation cannot be fulfilled on Pod "p": the UID in the precondition (x) does not '
                               "match the UID in record (%s). The object might have been deleted and then recreated"
                               % p["metadata"]["uid"])
    assert body["details"] == {"name": "p", "kind": "Pod"}
    code, body, _ = evict(api, ns, "p", {"metadata": {"name": "p"}, "deleteOptions": {
        "preconditions": {"uid": p["metadata"]["uid"], "resourceVersion": p["metadata"]["resourceVersion"]}}})
    assert (code, body) == (201, SUCCESS)
    assert not pod_exists(api, ns, "p")


def test_min_available_budget_blocks(api):
    ns = namespace(api, "ev-min")
    rs = workload(api, ns, "ReplicaSet", "web", replicas=2)
    pod(api, ns, "web-1", rs)
    pod(api, ns, "web-2", rs)
    made = pdb(api, ns, "web-pdb", "web", minAvailable=1)
    # the create answers before any controller ran: an empty status
    assert made["status"] == {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}
    st = pdb_status(api, ns, "web-pdb")
    created = made["metadata"]["creationTimestamp"]
    assert st == {"observedGeneration": 1, "disruptionsAllowed": 1, "currentHealthy": 2, "desiredHealthy": 1,
                  "expectedPods": 2,
                  "conditions": [{"type": "DisruptionAllowed", "status": "True", "observedGeneration": 1,
                                  "lastTransitionTime": created, "reason": "SufficientPods", "message": ""}]}
    assert evict(api, ns, "web-1")[:2] == (201, SUCCESS)
    st = pdb_status(api, ns, "web-pdb")
    assert (st["currentHealthy"], st["desiredHealthy"], st["disruptionsAllowed"], st["expectedPods"]) == (1, 1, 0, 1)
    assert st["conditions"][0]["status"] == "False" and st["conditions"][0]["reason"] == "InsufficientPods"
    code, body, headers = evict(api, ns, "web-2")
    assert code == 429
    assert body == budget_429("web-pdb", 1, 1)
    assert "Retry-After" not in headers
    assert pod_exists(api, ns, "web-2")
    # the dry run is refused the same way
    assert evict(api, ns, "web-2", query="?dryRun=All")[0] == 429
    # a Pending or terminal pod is deleted without looking at budgets (canIgnorePDB)
    pod(api, ns, "web-3", rs, phase="Pending", ready=False)
    pod(api, ns, "web-4", rs, phase="Succeeded", ready=False)
    assert evict(api, ns, "web-3")[:2] == (201, SUCCESS)
    assert evict(api, ns, "web-4")[:2] == (201, SUCCESS)


@pytest.mark.parametrize("tag,budget,want", [
    ("maxu-50", {"maxUnavailable": "50%"}, (2, 1, 3)),   # maxUnavailable ceil(1.5) = 2 -> desiredHealthy 3 - 2
    ("maxu-10", {"maxUnavailable": "10%"}, (1, 2, 3)),   # ceil(0.3) = 1
    ("maxu-1", {"maxUnavailable": 1}, (1, 2, 3)),
    ("mina-50", {"minAvailable": "50%"}, (1, 2, 3)),     # ceil(1.5) = 2
    ("mina-100", {"minAvailable": "100%"}, (0, 3, 3)),
])
def test_budget_arithmetic(api, tag, budget, want):
    """(disruptionsAllowed, desiredHealthy, expectedPods) for 3 Ready pods of a ReplicaSet of 3."""
    ns = namespace(api, "ev-" + tag)
    rs = workload(api, ns, "ReplicaSet", "web", replicas=3)
    for i in range(3):
        pod(api, ns, "web-%d" % i, rs)
    pdb(api, ns, "budget", "web", **budget)
    st = pdb_status(api, ns, "budget")
    assert (st["disruptionsAllowed"], st["desiredHealthy"], st["expectedPods"]) == want
    assert st["currentHealthy"] == 3


def test_max_unavailable_percentage_evicts_then_blocks(api):
    ns = namespace(api, "ev-maxu")
    dep = workload(api, ns, "Deployment", "web", replicas=4)
    # a ReplicaSet owned by the Deployment: the budget scales on the Deployment's replicas
    rs = create(api, "/apis/apps/v1/namespaces/%s/replicasets" % ns, {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web-abc", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": dep["metadata"]["uid"],
             "controller": True}]},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}}}})
    for i in range(4):
        pod(api, ns, "web-%d" % i, rs, app="web")
    pdb(api, ns, "web", "web", maxUnavailable="25%")
    st = pdb_status(api, ns, "web")
    assert (st["expectedPods"], st["desiredHealthy"], st["currentHealthy"], st["disruptionsAllowed"]) == (4, 3, 4, 1)
    assert evict(api, ns, "web-0")[:2] == (201, SUCCESS)
    code, body, _ = evict(api, ns, "web-1")
    assert (code, body) == (429, budget_429("web", 3, 3))


def test_unready_pods_and_unhealthy_pod_eviction_policy(api):
    ns = namespace(api, "ev-unready")
    rs = workload(api, ns, "ReplicaSet", "web", replicas=3)
    pod(api, ns, "ok-1", rs)
    pod(api, ns, "ok-2", rs)
    pod(api, ns, "sick", rs, ready=False)
    pdb(api, ns, "web", "web", minAvailable=2)
    # currentHealthy 2 >= desiredHealthy 2 > 0: the unready pod goes, the budget is not used
    assert evict(api, ns, "sick")[:2] == (201, SUCCESS)
    pod(api, ns, "sick-2", rs, ready=False)
    code, body, _ = evict(api, ns, "ok-1")
    assert (code, body) == (429, budget_429("web", 2, 2))
    ns2 = namespace(api, "ev-unready-2")
    rs2 = workload(api, ns2, "ReplicaSet", "web", replicas=2)
    pod(api, ns2, "sick", rs2, ready=False)
    pdb(api, ns2, "web", "web", minAvailable=1)
    # currentHealthy 0 < desiredHealthy 1: IfHealthyBudget (the default) refuses ...
    assert evict(api, ns2, "sick")[:2] == (429, budget_429("web", 1, 0))
    # ... AlwaysAllow lets the unready pod go
    code, body, _ = api.request("PATCH", "/apis/policy/v1/namespaces/%s/poddisruptionbudgets/web" % ns2,
                                {"spec": {"unhealthyPodEvictionPolicy": "AlwaysAllow"}},
                                ctype="application/merge-patch+json")
    assert code == 200 and body["metadata"]["generation"] == 2
    assert pdb_status(api, ns2, "web")["observedGeneration"] == 2
    assert evict(api, ns2, "sick")[:2] == (201, SUCCESS)


def test_two_budgets_are_a_500(api):
    ns = namespace(api, "ev-two")
    rs = workload(api, ns, "ReplicaSet", "web")
    pod(api, ns, "web-1", rs)
    pdb(api, ns, "a", "web", maxUnavailable=1)
    pdb(api, ns, "b", "web", maxUnavailable=1)
    code, body, _ = evict(api, ns, "web-1")
    assert code == 500
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "This pod has more than one PodDisruptionBudget, which the eviction subresource "
                               "does not support.", "code": 500}
    assert pod_exists(api, ns, "web-1")


def test_selectors_null_matches_nothing_empty_matches_all(api):
    ns = namespace(api, "ev-sel")
    pod(api, ns, "solo")
    create(api, "/apis/policy/v1/namespaces/%s/poddisruptionbudgets" % ns,
           {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "none"},
            "spec": {"minAvailable": 1}})
    assert pdb_status(api, ns, "none")["expectedPods"] == 0
    create(api, "/apis/policy/v1/namespaces/%s/poddisruptionbudgets" % ns,
           {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "all"},
            "spec": {"minAvailable": 1, "selector": {}}})
    st = pdb_status(api, ns, "all")
    assert (st["expectedPods"], st["currentHealthy"], st["disruptionsAllowed"]) == (1, 1, 0)
    assert evict(api, ns, "solo")[:2] == (429, budget_429("all", 1, 1))


def test_budget_that_cannot_be_computed_fails_safe(api):
    ns = namespace(api, "ev-failsafe")
    gone = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "gone", "uid": "0000-gone"}}
    pod(api, ns, "orphan", gone, app="web")
    made = pdb(api, ns, "web", "web", maxUnavailable=1)
    st = pdb_status(api, ns, "web")
    assert st == {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0,
                  "conditions": [{"type": "DisruptionAllowed", "status": "False",
                                  "lastTransitionTime": made["metadata"]["creationTimestamp"],
                                  "reason": "SyncFailed", "message": 'found no controllers for pod "orphan"'}]}
    # status.observedGeneration (never synced) < generation: "still being processed", with a Retry-After
    code, body, headers = evict(api, ns, "orphan")
    assert code == 429 and body["message"] == BUDGET_MSG
    assert body["details"] == {"causes": [{"reason": "DisruptionBudget", "message": "The disruption budget web is "
                                           "still being processed by the server."}], "retryAfterSeconds": 10}
    assert headers.get("Retry-After") == "10"
    ds = workload(api, ns, "DaemonSet", "agent")
    pod(api, ns, "agent-1", ds)
    pdb(api, ns, "agent", "agent", maxUnavailable="50%")
    assert pdb_status(api, ns, "agent")["conditions"][0]["message"] == \
        "daemonsets.apps does not implement the scale subresource"


def test_budget_validation(api):
    ns = namespace(api, "ev-valid")
    path = "/apis/policy/v1/namespaces/%s/poddisruptionbudgets" % ns
    code, body, _ = api.request("POST", path, {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                                               "metadata": {"name": "both"},
                                               "spec": {"minAvailable": 1, "maxUnavailable": 1}})
    assert code == 422 and body["reason"] == "Invalid"
    assert body["message"].startswith('PodDisruptionBudget.policy "both" is invalid: spec: Invalid value: '
                                      "policy.PodDisruptionBudgetSpec{MinAvailable:(*intstr.IntOrString)(")
    assert body["message"].endswith("}: minAvailable and maxUnavailable cannot be both set")
    assert body["details"]["kind"] == "PodDisruptionBudget" and body["details"]["group"] == "policy"
    code, body, _ = api.request("POST", path, {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                                               "metadata": {"name": "big"}, "spec": {"maxUnavailable": "150%"}})
    assert code == 422
    assert body["message"] == ('PodDisruptionBudget.policy "big" is invalid: spec.maxUnavailable: Invalid value: '
                               'intstr.IntOrString{Type:1, IntVal:0, StrVal:"150%"}: must not be greater than 100%')
    assert body["details"]["causes"] == [{"reason": "FieldValueInvalid", "field": "spec.maxUnavailable",
                                          "message": 'Invalid value: intstr.IntOrString{Type:1, IntVal:0, '
                                                     'StrVal:"150%"}: must not be greater than 100%'}]
    code, body, _ = api.request("POST", path, {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                                               "metadata": {"name": "neg"}, "spec": {"minAvailable": -1}})
    assert (code, body["message"]) == (422, 'PodDisruptionBudget.policy "neg" is invalid: spec.minAvailable: '
                                            "Invalid value: -1: must be greater than or equal to 0")


# -- kubectl drain, end to end ------------------------------------------------------------------------------------

def kubectl(api, *args, timeout: int = 60):
    if not os.access(KUBECTL, os.X_OK):
        pytest.skip("no kubectl next to %s or on PATH" % sys.executable)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(api.tmp), "KUBECONFIG": str(api.kubeconfig)}
    return subprocess.run([KUBECTL] + list(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout)


DRAIN = ("--ignore-daemonsets", "--delete-emptydir-data", "--timeout=3s", "--grace-period=-1")


def unschedulable(api, name: str) -> bool:
    code, body, _ = api.request("GET", "/api/v1/nodes/" + name)
    assert code == 200
    return bool(body.get("spec", {}).get("unschedulable"))


def test_kubectl_drain_evicts_replicaset_pods_and_leaves_daemonset_pods(api):
    ns = namespace(api, "drain-ok")
    node(api, "drain-ok-node")
    rs = workload(api, ns, "ReplicaSet", "web", replicas=2)
    ds = workload(api, ns, "DaemonSet", "agent")
    pod(api, ns, "web-1", rs, node_name="drain-ok-node")
    pod(api, ns, "agent-1", ds, node_name="drain-ok-node")
    pod(api, ns, "elsewhere", rs, node_name="other-node")  # not on the node: left alone
    pdb(api, ns, "web", "web", maxUnavailable=1)
    t0 = time.time()
    r = kubectl(api, "drain", "drain-ok-node", *DRAIN)
    took = time.time() - t0
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.splitlines() == ["node/drain-ok-node cordoned", "evicting pod drain-ok/web-1",
                                     "pod/web-1 evicted", "node/drain-ok-node drained"]
    assert r.stderr == "Warning: ignoring DaemonSet-managed Pods: drain-ok/agent-1\n"
    assert took < 10
    assert not pod_exists(api, ns, "web-1")
    assert pod_exists(api, ns, "agent-1") and pod_exists(api, ns, "elsewhere")
    assert unschedulable(api, "drain-ok-node")
    # without --ignore-daemonsets kubectl refuses (it GETs the DaemonSet first)
    r = kubectl(api, "drain", "drain-ok-node", "--timeout=3s")
    assert r.returncode == 1
    assert "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): drain-ok/agent-1" in r.stderr


def test_kubectl_drain_blocked_by_a_budget_times_out_and_leaves_the_node_cordoned(api):
    ns = namespace(api, "drain-pdb")
    node(api, "drain-pdb-node")
    rs = workload(api, ns, "ReplicaSet", "db")
    pod(api, ns, "db-1", rs, node_name="drain-pdb-node")
    pdb(api, ns, "db", "db", minAvailable=1)
    r = kubectl(api, "drain", "drain-pdb-node", *DRAIN)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stdout.splitlines()[:2] == ["node/drain-pdb-node cordoned", "evicting pod drain-pdb/db-1"]
    assert ('error when evicting pods/"db-1" -n "drain-pdb" (will retry after 5s): Cannot evict pod as it would '
            "violate the pod's disruption budget.") in r.stderr
    assert ('error: unable to drain node "drain-pdb-node" due to error: error when evicting pods/"db-1" -n '
            '"drain-pdb": global timeout reached: 3s, continuing command...') in r.stderr
    assert "There are pending nodes to be drained:\n drain-pdb-node\n" in r.stderr
    assert pod_exists(api, ns, "db-1")
    assert unschedulable(api, "drain-pdb-node")
