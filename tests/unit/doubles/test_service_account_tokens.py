"""ServiceAccount token Secrets, bearer-token authentication and RBAC on the doubles' API over HTTPS:
what registering a spoke cluster with an Argo CD hub does (ServiceAccount ``argocd-manager``, a
ClusterRole or Role and its binding, an explicit ``kubernetes.io/service-account-token`` Secret whose
``data.token`` and ``data.ca.crt`` a client then uses), against one built K3s double for the module
(each test with its own ServiceAccount and namespaces), with raw requests, the Python kubernetes
client and kubectl; then across two HA servers and once against the kubeadm double.  The pure RBAC
decisions are in test_rbac.py."""
import base64
import http.client
import json
import os
import ssl
import subprocess
import time

import pytest

from test_api_groups import KUBECTL, api, kubectl, request  # noqa: F401  (api is a fixture)
from test_ha import cluster, join_url  # noqa: F401  (cluster is a fixture)
from kubeadm_double_helpers import Node, kadm_bin, kubelet_bin  # noqa: F401  (fixtures)

from k3s import serviceaccount
from kubeadm import kclient, kubeconfig

TOKEN_TYPE = "kubernetes.io/service-account-token"
NAME_KEY = "kubernetes.io/service-account.name"
UID_KEY = "kubernetes.io/service-account.uid"
RBAC_V1 = "/apis/rbac.authorization.k8s.io/v1"


def ca_file(api) -> str:
    return str(api.data / "server" / "tls" / "server-ca.crt")


def bearer(port: int, cafile: str, token: str, method: str, path: str, body: object = None):
    """One request with ``Authorization: Bearer <token>`` and no client certificate: (status, body)."""
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ssl.create_default_context(cafile=cafile), timeout=10)
    headers = {"Authorization": "Bearer " + token}
    payload = None
    if body is not None:
        payload, headers["Content-Type"] = json.dumps(body), "application/json"
    try:
        c.request(method, path, body=payload, headers=headers)
        r = c.getresponse()
        raw = r.read().decode()
    finally:
        c.close()
    try:
        return r.status, json.loads(raw)
    except ValueError:
        return r.status, raw


def as_token(api, token: str, method: str, path: str, body: object = None):
    return bearer(api.port, ca_file(api), token, method, path, body)


def created(api, path: str, obj: dict) -> dict:
    st, body = request(api, "POST", path, obj)
    assert st == 201, body
    return body


def namespace(api, name: str) -> str:
    created(api, "/api/v1/namespaces", {"metadata": {"name": name}})
    return name


def service_account(api, ns: str, name: str) -> dict:
    return created(api, "/api/v1/namespaces/%s/serviceaccounts" % ns, {"metadata": {"name": name}})


def token_secret_body(name: str, sa: str, **annotations) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": TOKEN_TYPE,
            "metadata": {"name": name, "annotations": dict(annotations, **{NAME_KEY: sa})}}


def secret(api, ns: str, name: str):
    return request(api, "GET", "/api/v1/namespaces/%s/secrets/%s" % (ns, name))


def data(obj: dict, key: str) -> str:
    return base64.b64decode(obj["data"][key]).decode()


def spoke_token(api, ns: str, sa_name: str) -> str:
    """What the collection does on a spoke: the ServiceAccount, its token Secret, then the token."""
    service_account(api, ns, sa_name)
    created(api, "/api/v1/namespaces/%s/secrets" % ns, token_secret_body(sa_name + "-token", sa_name))
    st, obj = secret(api, ns, sa_name + "-token")
    assert st == 200, obj
    return data(obj, "token")


def bind(api, kind: str, name: str, role_kind: str, role: str, sa_ns: str, sa_name: str, ns: str = None) -> None:
    path = "%s/namespaces/%s/%s" % (RBAC_V1, ns, kind.lower() + "s") if ns else "%s/%s" % (RBAC_V1, kind.lower() + "s")
    created(api, path, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": {"name": name},
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
                        "subjects": [{"kind": "ServiceAccount", "name": sa_name, "namespace": sa_ns}]})


def forbidden(user: str, verb: str, resource: str, ns: str = "", name: str = "", group: str = "") -> str:
    scope = 'in the namespace "%s"' % ns if ns else "at the cluster scope"
    qualified = "%s.%s" % (resource, group) if group else resource
    return '%s%s is forbidden: User "%s" cannot %s resource "%s" in API group "%s" %s' % (
        qualified, ' "%s"' % name if name else "", user, verb, resource, group, scope)


# --------------------------------------------------------------------------
# the tokens controller

def test_token_controller_fills_the_secret(api):
    sa = service_account(api, "kube-system", "argocd-manager")
    st, body = request(api, "POST", "/api/v1/namespaces/kube-system/secrets",
                       token_secret_body("argocd-manager-token", "argocd-manager"))
    # the create answers the Secret as written; the controller fills it right after
    assert st == 201 and "data" not in body and UID_KEY not in body["metadata"]["annotations"]
    st, obj = secret(api, "kube-system", "argocd-manager-token")
    assert st == 200 and obj["type"] == TOKEN_TYPE
    assert sorted(obj["data"]) == ["ca.crt", "namespace", "token"]
    assert data(obj, "ca.crt") == open(ca_file(api)).read()
    assert data(obj, "namespace") == "kube-system"
    assert obj["metadata"]["annotations"] == {NAME_KEY: "argocd-manager", UID_KEY: sa["metadata"]["uid"]}
    assert int(obj["metadata"]["resourceVersion"]) > int(body["metadata"]["resourceVersion"])
    # the controller's write is kube-controller-manager's, which is the k3s binary in K3s
    managers = {(e.get("manager"), e["operation"]): e["fieldsV1"] for e in obj["metadata"]["managedFields"]}
    assert managers[("k3s", "Update")] == {
        "f:data": {"f:ca.crt": {}, "f:namespace": {}, "f:token": {}},
        "f:metadata": {"f:annotations": {"f:kubernetes.io/service-account.uid": {}}}}
    # a JWT with the legacy claims (HS256 in the double, RS256 in Kubernetes)
    token = data(obj, "token")
    header, claims, sig = token.split(".")

    def b64json(part):
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    assert b64json(header)["alg"] == "HS256" and sig
    assert b64json(claims) == {
        "iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:kube-system:argocd-manager",
        "kubernetes.io/serviceaccount/namespace": "kube-system",
        "kubernetes.io/serviceaccount/secret.name": "argocd-manager-token",
        "kubernetes.io/serviceaccount/service-account.name": "argocd-manager",
        "kubernetes.io/serviceaccount/service-account.uid": sa["metadata"]["uid"]}
    # no Secret of its own for a new ServiceAccount (Kubernetes 1.24+)
    st, lst = request(api, "GET", "/api/v1/namespaces/kube-system/secrets")
    assert [s["metadata"]["name"] for s in lst["items"] if s.get("type") == TOKEN_TYPE] == ["argocd-manager-token"]
    # a PUT that drops the token gets the same one back (legacy tokens do not expire)
    obj["data"] = {}
    st, _ = request(api, "PUT", "/api/v1/namespaces/kube-system/secrets/argocd-manager-token", obj)
    assert st == 200 and data(secret(api, "kube-system", "argocd-manager-token")[1], "token") == token


def test_token_secret_needs_the_service_account_annotation(api):
    st, body = request(api, "POST", "/api/v1/namespaces/default/secrets",
                       {"metadata": {"name": "no-sa"}, "type": TOKEN_TYPE})
    field = "metadata.annotations[kubernetes.io/service-account.name]"
    assert st == 422 and body["reason"] == "Invalid"
    assert body["message"] == 'Secret "no-sa" is invalid: %s: Required value' % field
    assert body["details"] == {"name": "no-sa", "kind": "Secret", "causes": [
        {"reason": "FieldValueRequired", "message": "Required value", "field": field}]}


def test_secret_of_a_missing_or_other_service_account_is_deleted(api):
    ns = namespace(api, "tok-missing")
    st, _ = request(api, "POST", "/api/v1/namespaces/%s/secrets" % ns, token_secret_body("orphan", "nobody"))
    assert st == 201 and secret(api, ns, "orphan")[0] == 404
    service_account(api, ns, "someone")
    st, _ = request(api, "POST", "/api/v1/namespaces/%s/secrets" % ns,
                    token_secret_body("stale", "someone", **{UID_KEY: "4d5c1e9a-0000-4000-8000-000000000000"}))
    assert st == 201 and secret(api, ns, "stale")[0] == 404
    # other Secret types are left alone
    created(api, "/api/v1/namespaces/%s/secrets" % ns, {"metadata": {"name": "plain", "annotations": {NAME_KEY: "x"}},
                                                        "type": "Opaque", "data": {"a": "Yg=="}})
    assert secret(api, ns, "plain")[1]["data"] == {"a": "Yg=="}


def test_deleting_the_service_account_deletes_its_tokens(api):
    ns = namespace(api, "tok-delete")
    token = spoke_token(api, ns, "gone")
    spoke_token(api, ns, "stays")
    assert as_token(api, token, "GET", "/version")[0] == 200
    st, _ = request(api, "DELETE", "/api/v1/namespaces/%s/serviceaccounts/gone" % ns)
    assert st == 200
    assert secret(api, ns, "gone-token")[0] == 404 and secret(api, ns, "stays-token")[0] == 200
    assert as_token(api, token, "GET", "/version") == (401, {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Unauthorized",
        "reason": "Unauthorized", "code": 401})
    # a ServiceAccount of the same name is another one: the old token stays invalid
    service_account(api, ns, "gone")
    created(api, "/api/v1/namespaces/%s/secrets" % ns, token_secret_body("gone-token", "gone"))
    assert as_token(api, token, "GET", "/version")[0] == 401


# --------------------------------------------------------------------------
# authentication and RBAC with the token

def test_token_rbac_from_nothing_to_cluster_admin(api):
    token = spoke_token(api, "kube-system", "rbac-flow")
    user = "system:serviceaccount:kube-system:rbac-flow"
    team = namespace(api, "tok-team")
    # discovery and health: system:discovery and system:public-info-viewer (system:authenticated)
    for path in ("/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/version", "/healthz", "/livez",
                 "/readyz", "/openapi/v3"):
        assert as_token(api, token, "GET", path)[0] == 200, path
    # nothing else
    st, body = as_token(api, token, "GET", "/api/v1/namespaces/default/configmaps")
    assert st == 403 and body["reason"] == "Forbidden" and body["details"] == {"kind": "configmaps"}
    assert body["message"] == forbidden(user, "list", "configmaps", "default")
    st, body = as_token(api, token, "GET", "/api/v1/namespaces/default/configmaps/x")
    assert (st, body["message"]) == (403, forbidden(user, "get", "configmaps", "default", "x"))
    st, body = as_token(api, token, "GET", "/apis/apps/v1/namespaces/default/deployments")
    assert body["message"] == forbidden(user, "list", "deployments", "default", group="apps")
    assert body["details"] == {"group": "apps", "kind": "deployments"}
    assert as_token(api, token, "GET", "/api/v1/nodes")[1]["message"] == forbidden(user, "list", "nodes")
    st, body = as_token(api, token, "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "c"}})
    assert (st, body["message"]) == (403, forbidden(user, "create", "configmaps", "default"))
    # authorization comes first: an unknown resource or path is a 403 too
    assert as_token(api, token, "GET", "/apis/batch/v1/namespaces/default/jobs")[1]["message"] == \
        forbidden(user, "list", "jobs", "default", group="batch")
    st, body = as_token(api, token, "GET", "/readyz/etcd")
    assert (st, body["message"]) == (403, 'forbidden: User "%s" cannot get path "/readyz/etcd"' % user)

    # a Role and RoleBinding: list configmaps in one namespace
    created(api, "%s/namespaces/%s/roles" % (RBAC_V1, team), {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "cm-list"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]})
    bind(api, "RoleBinding", "cm-list", "Role", "cm-list", "kube-system", "rbac-flow", ns=team)
    st, body = as_token(api, token, "GET", "/api/v1/namespaces/%s/configmaps" % team)
    assert st == 200 and body["kind"] == "ConfigMapList"
    assert as_token(api, token, "GET", "/api/v1/namespaces/default/configmaps")[1]["message"] == \
        forbidden(user, "list", "configmaps", "default")
    assert as_token(api, token, "GET", "/api/v1/namespaces/%s/configmaps/x" % team)[0] == 403  # get is another verb
    # a RoleBinding to a ClusterRole holds in its namespace only
    bind(api, "RoleBinding", "team-admin", "ClusterRole", "cluster-admin", "kube-system", "rbac-flow", ns=team)
    assert as_token(api, token, "POST", "/api/v1/namespaces/%s/configmaps" % team, {"metadata": {"name": "c"}})[0] == 201
    assert as_token(api, token, "GET", "/api/v1/nodes")[0] == 403
    # cluster-admin through a ClusterRoleBinding: everything, everywhere
    bind(api, "ClusterRoleBinding", "rbac-flow-admin", "ClusterRole", "cluster-admin", "kube-system", "rbac-flow")
    for path in ("/api/v1/namespaces/default/configmaps", "/api/v1/nodes", "/apis/apps/v1/deployments",
                 "/api/v1/namespaces/kube-system/secrets", RBAC_V1 + "/clusterroles", "/readyz/etcd"):
        assert as_token(api, token, "GET", path)[0] == 200, path
    assert as_token(api, token, "POST", "/api/v1/namespaces/default/configmaps",
                    {"metadata": {"name": "from-token"}})[0] == 201
    assert as_token(api, token, "GET", "/apis/batch/v1/jobs")[0] == 404
    # the Secret deleted: the token is gone
    assert request(api, "DELETE", "/api/v1/namespaces/kube-system/secrets/rbac-flow-token")[0] == 200
    assert as_token(api, token, "GET", "/api/v1/nodes")[0] == 401


def test_token_checks(api):
    ns = namespace(api, "tok-checks")
    token = spoke_token(api, ns, "checked")
    path = "/api/v1/namespaces/%s/secrets/checked-token" % ns
    # the authenticator labels the Secret with the day it was last used (UTC)
    assert as_token(api, token, "GET", "/version")[0] == 200
    obj = request(api, "GET", path)[1]
    assert obj["metadata"]["labels"] == {"kubernetes.io/legacy-token-last-used": time.strftime("%Y-%m-%d",
                                                                                              time.gmtime())}
    rv = obj["metadata"]["resourceVersion"]
    assert as_token(api, token, "GET", "/version")[0] == 200
    assert request(api, "GET", path)[1]["metadata"]["resourceVersion"] == rv  # once a day
    # a tampered token, another cluster's token, a changed Secret
    header, claims, sig = token.split(".")
    assert as_token(api, token, "GET", "/version")[0] == 200
    assert as_token(api, "%s.%s.%s" % (header, claims, sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")),
                    "GET", "/version")[0] == 401
    other = serviceaccount.generate(b"another cluster's key", ns, "checked-token", "checked",
                                    json.loads(base64.urlsafe_b64decode(claims + "==="))[
                                        "kubernetes.io/serviceaccount/service-account.uid"])
    assert as_token(api, other, "GET", "/version")[0] == 401
    # the invalid-since label of the legacy token cleaner turns it away
    st, _ = request(api, "PATCH", path, {"metadata": {"labels": {"kubernetes.io/legacy-token-invalid-since": "2025-01-01"}}},
                    "application/merge-patch+json")
    assert st == 200 and as_token(api, token, "GET", "/version")[0] == 401
    st, _ = request(api, "PATCH", path, {"metadata": {"labels": {"kubernetes.io/legacy-token-invalid-since": None}}},
                    "application/merge-patch+json")
    assert st == 200 and as_token(api, token, "GET", "/version")[0] == 200
    st, _ = request(api, "PATCH", path, {"data": {"token": base64.b64encode(b"x").decode()}},
                    "application/merge-patch+json")
    assert st == 200 and as_token(api, token, "GET", "/version")[0] == 401


def test_bootstrap_policy_and_admin(api):
    for kind, name in (("clusterroles", "cluster-admin"), ("clusterroles", "system:discovery"),
                       ("clusterroles", "system:public-info-viewer"), ("clusterrolebindings", "cluster-admin"),
                       ("clusterrolebindings", "system:discovery"),
                       ("clusterrolebindings", "system:public-info-viewer")):
        st, obj = request(api, "GET", "%s/%s/%s" % (RBAC_V1, kind, name))
        assert st == 200, (kind, name)
        assert obj["metadata"]["labels"] == {"kubernetes.io/bootstrapping": "rbac-defaults"}
        assert obj["metadata"]["annotations"] == {"rbac.authorization.kubernetes.io/autoupdate": "true"}
    st, crb = request(api, "GET", RBAC_V1 + "/clusterrolebindings/cluster-admin")
    assert crb["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}]
    # the admin kubeconfig (system:admin in system:masters) may do anything, health sub-checks included
    assert kubectl(api, "get", "--raw", "/readyz/etcd").stdout == "ok"
    assert "cluster-admin" in kubectl(api, "get", "clusterroles", "-o", "name").stdout


# --------------------------------------------------------------------------
# clients

def test_python_client_with_the_token(api):
    kubernetes = pytest.importorskip("kubernetes")
    ns = namespace(api, "tok-python")
    token = spoke_token(api, ns, "python")
    cfg = kubernetes.client.Configuration()
    cfg.host = "https://127.0.0.1:%d" % api.port
    cfg.ssl_ca_cert = ca_file(api)
    cfg.api_key = {"authorization": "Bearer " + token}
    with kubernetes.client.ApiClient(cfg) as client:
        core = kubernetes.client.CoreV1Api(client)
        with pytest.raises(kubernetes.client.ApiException) as e:
            core.list_namespaced_config_map(ns)
        assert e.value.status == 403
        assert json.loads(e.value.body)["message"] == forbidden(
            "system:serviceaccount:%s:python" % ns, "list", "configmaps", ns)
        bind(api, "RoleBinding", "python", "ClusterRole", "cluster-admin", ns, "python", ns=ns)
        created(api, "/api/v1/namespaces/%s/configmaps" % ns, {"metadata": {"name": "seen"}})
        assert [c.metadata.name for c in core.list_namespaced_config_map(ns).items] == ["seen"]
        assert kubernetes.client.VersionApi(client).get_code().git_version.startswith("v1.")


def test_kubectl_with_the_token(api, tmp_path):
    if not os.access(KUBECTL, os.X_OK):
        pytest.skip("no kubectl next to the test Python or on PATH")
    ns = namespace(api, "tok-kubectl")
    token = spoke_token(api, ns, "kubectl")
    # a kubeconfig with the cluster only: the admin one would send its client certificate too
    cfg = tmp_path / "kubeconfig"
    cfg.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", "current-context": "spoke",
                               "clusters": [{"name": "spoke", "cluster": {
                                   "server": "https://127.0.0.1:%d" % api.port, "certificate-authority": ca_file(api)}}],
                               "contexts": [{"name": "spoke", "context": {"cluster": "spoke", "user": "none"}}],
                               "users": [{"name": "none", "user": {}}]}))

    def run(*args):
        return subprocess.run([KUBECTL, "--kubeconfig", str(cfg), "--token", token] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    r = run("get", "configmaps", "-n", "default")
    assert r.returncode == 1
    assert r.stderr.strip() == "Error from server (Forbidden): " + forbidden(
        "system:serviceaccount:%s:kubectl" % ns, "list", "configmaps", "default")
    bind(api, "ClusterRoleBinding", "kubectl-token-admin", "ClusterRole", "cluster-admin", ns, "kubectl")
    r = run("get", "namespaces", "-o", "name")
    assert r.returncode == 0 and "namespace/%s" % ns in r.stdout.split(), r.stderr


def test_tokens_across_ha_servers(cluster):  # noqa: F811
    """One store, one key (from the shared server CA): a token written through one server works on the
    others, and so do the RBAC objects and the controller's deletions."""
    s1 = cluster(1, ["--cluster-init", "--token", "hasecret"])
    s2 = cluster(2, ["--server", join_url(s1), "--token", "hasecret"])

    def via(n, token, path):
        return bearer(n.port, str(n.dir / "server" / "tls" / "server-ca.crt"), token, "GET", path)[0]
    assert s1.api("POST", "/api/v1/namespaces/kube-system/serviceaccounts", {"metadata": {"name": "ha"}})[0] == 201
    assert s1.api("POST", "/api/v1/namespaces/kube-system/secrets", token_secret_body("ha-token", "ha"))[0] == 201
    st, obj = s2.api("GET", "/api/v1/namespaces/kube-system/secrets/ha-token")
    assert st == 200 and data(obj, "ca.crt") == (s2.dir / "server" / "tls" / "server-ca.crt").read_text()
    token = data(obj, "token")
    assert via(s1, token, "/api/v1/nodes") == via(s2, token, "/api/v1/nodes") == 403
    crb = {"metadata": {"name": "ha-admin"},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
           "subjects": [{"kind": "ServiceAccount", "name": "ha", "namespace": "kube-system"}]}
    assert s2.api("POST", RBAC_V1 + "/clusterrolebindings", crb)[0] == 201
    assert via(s1, token, "/api/v1/nodes") == via(s2, token, "/api/v1/nodes") == 200
    assert s2.api("DELETE", "/api/v1/namespaces/kube-system/serviceaccounts/ha")[0] == 200
    assert s1.api("GET", "/api/v1/namespaces/kube-system/secrets/ha-token")[0] == 404
    assert via(s1, token, "/api/v1/nodes") == 401


# --------------------------------------------------------------------------
# the kubeadm double

def test_kubeadm_double_accepts_service_account_tokens(kadm_bin, kubelet_bin):  # noqa: F811
    cp = Node(kadm_bin, kubelet_bin, "sa1")
    try:
        cp.init_cluster()
        cl, us = kubeconfig.load(cp.path("/etc/kubernetes/admin.conf"))
        admin = kclient.Client.from_kubeconfig(cl, us)  # kubernetes-admin, group kubeadm:cluster-admins
        code, sa = admin.post("/api/v1/namespaces/kube-system/serviceaccounts", {"metadata": {"name": "argocd-manager"}})
        assert code == 201, sa
        code, doc = admin.post("/api/v1/namespaces/kube-system/secrets",
                               token_secret_body("argocd-manager-token", "argocd-manager"))
        assert code == 201, doc
        code, obj = admin.get("/api/v1/namespaces/kube-system/secrets/argocd-manager-token")
        assert code == 200 and obj["metadata"]["annotations"][UID_KEY] == sa["metadata"]["uid"]
        assert data(obj, "ca.crt") == cp.read("/etc/kubernetes/pki/ca.crt")
        managers = {e.get("manager") for e in obj["metadata"]["managedFields"]}
        assert "kube-controller-manager" in managers
        client = kclient.Client(cl["server"], ca=data(obj, "ca.crt"), token=data(obj, "token"))
        user = "system:serviceaccount:kube-system:argocd-manager"
        assert client.get("/version")[0] == 200 and client.get("/apis")[0] == 200
        code, doc = client.get("/api/v1/namespaces/default/configmaps")
        assert (code, doc["message"]) == (403, forbidden(user, "list", "configmaps", "default"))
        # the ClusterRole/ClusterRoleBinding a registration creates, with narrower rules
        code, _ = admin.post(RBAC_V1 + "/clusterroles", {
            "metadata": {"name": "argocd-manager-role"},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
                      {"nonResourceURLs": ["*"], "verbs": ["get"]}]})
        assert code == 201
        code, _ = admin.post(RBAC_V1 + "/clusterrolebindings", {
            "metadata": {"name": "argocd-manager-role-binding"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "argocd-manager-role"},
            "subjects": [{"kind": "ServiceAccount", "name": "argocd-manager", "namespace": "kube-system"}]})
        assert code == 201
        code, nodes = client.get("/api/v1/nodes")
        assert code == 200 and [n["metadata"]["name"] for n in nodes["items"]] == ["sa1"]
        code, doc = client.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "x"}})
        assert (code, doc["message"]) == (403, forbidden(user, "create", "configmaps", "default"))
        # super-admin.conf (system:masters) and admin.conf keep full access
        cl2, us2 = kubeconfig.load(cp.path("/etc/kubernetes/super-admin.conf"))
        assert kclient.Client.from_kubeconfig(cl2, us2).get("/readyz/etcd")[0] == 200
        assert admin.get(RBAC_V1 + "/clusterrolebindings/cluster-admin")[0] == 200
        assert admin.delete("/api/v1/namespaces/kube-system/secrets/argocd-manager-token")[0] == 200
        assert client.get("/api/v1/nodes")[0] == 401
    finally:
        cp.close()
