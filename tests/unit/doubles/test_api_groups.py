"""apps/v1 and rbac.authorization.k8s.io/v1 on the double's API: discovery,
kubectl apply (twice), reads, refusals and the Python DynamicClient.

One built K3s double serves the whole module; every test works in its own
namespace (and cluster-scoped names), so the tests stay independent."""
import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys

import pytest

from k3s_double_helpers import Env, Server

from k3s.api import strategic_merge_patch

KUBECTL = os.path.join(os.path.dirname(sys.executable), "kubectl")
if not os.access(KUBECTL, os.X_OK):
    KUBECTL = shutil.which("kubectl") or KUBECTL

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: flannel
  namespace: {ns}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {ns}-flannel
rules:
- apiGroups: [""]
  resources: ["nodes"]
  verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {ns}-flannel
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {ns}-flannel
subjects:
- kind: ServiceAccount
  name: flannel
  namespace: {ns}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: kube-flannel-cfg
  namespace: {ns}
data:
  net-conf.json: '{{"Network": "10.244.0.0/16", "Backend": {{"Type": "vxlan"}}}}'
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: kube-flannel-ds
  namespace: {ns}
  labels:
    app: flannel
spec:
  selector:
    matchLabels:
      app: flannel
  template:
    metadata:
      labels:
        app: flannel
    spec:
      serviceAccountName: flannel
      hostNetwork: true
      containers:
      - name: kube-flannel
        image: {image}
        args: ["--ip-masq", "--kube-subnet-mgr"]
        env:
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        volumeMounts:
        - name: run
          mountPath: /run/flannel
      volumes:
      - name: run
        hostPath:
          path: /run/flannel
"""
IMAGE = "ghcr.io/flannel-io/flannel:v0.26.7"


@pytest.fixture(scope="module")
def api(k3s_bin, tmp_path_factory):
    env = Env(tmp_path_factory.mktemp("api-groups"))
    srv = Server(k3s_bin, env.base_args() + ["--node-name", "apis"],
                 dict(env.env, _ERRLOG=str(env.tmp / "server.log")))
    try:
        assert srv.wait_up(), srv.log()
        env.kenv = dict(env.env, KUBECONFIG=str(env.kubeconfig))
        yield env
    finally:
        srv.stop()


def kubectl(api, *args, stdin=None, check=True):
    if not os.access(KUBECTL, os.X_OK):
        pytest.skip("no kubectl next to %s or on PATH" % sys.executable)
    r = subprocess.run([KUBECTL] + list(args), env=api.kenv, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    if check:
        assert r.returncode == 0, "kubectl %s: %s" % (" ".join(args), r.stderr)
    return r


def tls_context(api):
    tls = api.data / "server" / "tls"
    ctx = ssl.create_default_context(cafile=str(tls / "server-ca.crt"))
    ctx.load_cert_chain(str(tls / "client-admin.crt"), str(tls / "client-admin.key"))
    return ctx


def connect(api):
    return http.client.HTTPSConnection("127.0.0.1", api.port, context=tls_context(api), timeout=10)


def call(conn, method, path, body=None, ctype="application/json"):
    """One request on a kept-alive connection -> (status, decoded JSON body)."""
    data = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
    conn.request(method, path, body=data, headers={"Content-Type": ctype} if data is not None else {})
    r = conn.getresponse()
    raw = r.read()
    return r.status, json.loads(raw) if raw else None


def request(api, method, path, body=None, ctype="application/json"):
    c = connect(api)
    try:
        return call(c, method, path, body, ctype)
    finally:
        c.close()


def create_namespace(api, ns):
    st, _ = request(api, "POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
    assert st == 201


def daemonset(name, image=IMAGE, env=None):
    c = {"name": "main", "image": image, "args": ["--flag"]}
    if env is not None:
        c["env"] = env
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [c]}}}}


# --------------------------------------------------------------------------
# discovery

def test_kubectl_discovers_apps_and_rbac(api):
    out = kubectl(api, "api-resources", "--no-headers").stdout
    rows = {line.split()[0]: line.split() for line in out.splitlines()}
    assert rows["daemonsets"] == ["daemonsets", "ds", "apps/v1", "true", "DaemonSet"]
    assert rows["deployments"] == ["deployments", "deploy", "apps/v1", "true", "Deployment"]
    assert rows["clusterroles"] == ["clusterroles", "rbac.authorization.k8s.io/v1", "false", "ClusterRole"]
    assert rows["clusterrolebindings"][1:] == ["rbac.authorization.k8s.io/v1", "false", "ClusterRoleBinding"]
    assert rows["roles"][1:] == ["rbac.authorization.k8s.io/v1", "true", "Role"]
    assert rows["rolebindings"][1:] == ["rbac.authorization.k8s.io/v1", "true", "RoleBinding"]
    assert rows["configmaps"][1:] == ["cm", "v1", "true", "ConfigMap"]  # core unchanged
    assert kubectl(api, "api-versions").stdout.split() == ["apiextensions.k8s.io/v1", "apps/v1", "policy/v1",
                                                           "rbac.authorization.k8s.io/v1", "v1"]
    # the documents themselves, like kube-apiserver's legacy discovery
    groups = json.loads(kubectl(api, "get", "--raw", "/apis").stdout)
    assert groups["kind"] == "APIGroupList"
    assert [(g["name"], g["preferredVersion"]["groupVersion"]) for g in groups["groups"]] == [
        ("apps", "apps/v1"), ("policy", "policy/v1"), ("rbac.authorization.k8s.io", "rbac.authorization.k8s.io/v1"),
        ("apiextensions.k8s.io", "apiextensions.k8s.io/v1")]
    group = json.loads(kubectl(api, "get", "--raw", "/apis/apps").stdout)
    assert group["kind"] == "APIGroup" and group["versions"] == [{"groupVersion": "apps/v1", "version": "v1"}]
    rl = json.loads(kubectl(api, "get", "--raw", "/apis/apps/v1").stdout)
    assert rl["kind"] == "APIResourceList" and rl["groupVersion"] == "apps/v1"
    ds = [r for r in rl["resources"] if r["name"] == "daemonsets"][0]
    assert ds["singularName"] == "daemonset" and ds["namespaced"] is True and ds["shortNames"] == ["ds"]
    assert {"create", "get", "list", "patch", "update", "delete", "watch"} <= set(ds["verbs"])
    assert request(api, "GET", "/apis/batch/v1")[0] == 404
    assert request(api, "GET", "/apis/apps/v1beta1")[0] == 404


# --------------------------------------------------------------------------
# kubectl apply / get / delete

def test_kubectl_apply_twice_then_get_and_delete(api, tmp_path):
    ns = "kf-apply"
    manifest = tmp_path / "flannel.yaml"
    manifest.write_text(MANIFEST.format(ns=ns, image=IMAGE))
    kinds = ["namespace/%s" % ns, "serviceaccount/flannel",
             "clusterrole.rbac.authorization.k8s.io/%s-flannel" % ns,
             "clusterrolebinding.rbac.authorization.k8s.io/%s-flannel" % ns,
             "configmap/kube-flannel-cfg", "daemonset.apps/kube-flannel-ds"]
    out = kubectl(api, "apply", "-f", str(manifest)).stdout
    assert out.splitlines() == ["%s created" % k for k in kinds]
    first = json.loads(kubectl(api, "get", "ds", "-n", ns, "-o", "json").stdout)
    # client-side apply again: kubectl's three-way patch is empty, nothing is written
    out = kubectl(api, "apply", "-f", str(manifest)).stdout
    assert out.splitlines() == ["%s unchanged" % k for k in kinds]

    lst = json.loads(kubectl(api, "get", "ds", "-n", ns, "-o", "json").stdout)
    assert lst["kind"] == "List"
    [ds] = lst["items"]
    assert ds["apiVersion"] == "apps/v1" and ds["kind"] == "DaemonSet"
    md = ds["metadata"]
    assert md["name"] == "kube-flannel-ds" and md["namespace"] == ns and md["uid"] and md["creationTimestamp"]
    assert md["resourceVersion"] == first["items"][0]["metadata"]["resourceVersion"]
    assert md["generation"] == 1
    assert "kubectl.kubernetes.io/last-applied-configuration" in md["annotations"]
    assert ds["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE
    assert ds["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                            "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    # nothing runs Pods: all counts 0, the spec is observed
    assert ds["status"] == {"currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0,
                            "numberReady": 0, "observedGeneration": 1}
    crb = json.loads(kubectl(api, "get", "clusterrolebinding", ns + "-flannel", "-o", "json").stdout)
    assert crb["apiVersion"] == "rbac.authorization.k8s.io/v1" and "namespace" not in crb["metadata"]
    assert crb["roleRef"]["name"] == ns + "-flannel" and crb["subjects"][0]["namespace"] == ns
    # table output (server-side printing) by kind
    row = kubectl(api, "get", "ds", "-n", ns, "--no-headers").stdout.split()
    assert row[:6] == ["kube-flannel-ds", "0", "0", "0", "0", "0"]
    assert kubectl(api, "get", "clusterrolebinding", ns + "-flannel", "--no-headers").stdout.split()[:2] == \
        [ns + "-flannel", "ClusterRole/%s-flannel" % ns]
    # a new image: a strategic merge patch keyed by container name keeps the rest
    manifest.write_text(MANIFEST.format(ns=ns, image=IMAGE.replace("v0.26.7", "v0.27.0")))
    out = kubectl(api, "apply", "-f", str(manifest)).stdout
    assert "daemonset.apps/kube-flannel-ds configured" in out.splitlines()
    assert "configmap/kube-flannel-cfg unchanged" in out.splitlines()
    ds = json.loads(kubectl(api, "get", "ds", "kube-flannel-ds", "-n", ns, "-o", "json").stdout)
    [c] = ds["spec"]["template"]["spec"]["containers"]
    assert c["image"].endswith(":v0.27.0") and c["args"] == ["--ip-masq", "--kube-subnet-mgr"]
    assert c["env"][0]["name"] == "POD_NAME" and c["volumeMounts"] == [{"mountPath": "/run/flannel", "name": "run"}]
    assert ds["metadata"]["generation"] == 2 and ds["status"]["observedGeneration"] == 2
    # watch-list (initial events + bookmark) lets rollout status finish
    r = kubectl(api, "rollout", "status", "ds/kube-flannel-ds", "-n", ns, "--timeout=30s")
    assert 'daemon set "kube-flannel-ds" successfully rolled out' in r.stdout

    out = kubectl(api, "delete", "-f", str(manifest)).stdout
    assert 'daemonset.apps "kube-flannel-ds" deleted' in out
    assert 'clusterrolebinding.rbac.authorization.k8s.io "%s-flannel" deleted' % ns in out
    st, body = request(api, "GET", "/apis/apps/v1/namespaces/%s/daemonsets/kube-flannel-ds" % ns)
    assert st == 404 and body["message"] == 'daemonsets.apps "kube-flannel-ds" not found'
    r = kubectl(api, "get", "clusterrole", ns + "-flannel", check=False)
    assert 'clusterroles.rbac.authorization.k8s.io "%s-flannel" not found' % ns in r.stderr


def test_deployment_and_role_through_kubectl(api, tmp_path):
    ns = "kf-deploy"
    create_namespace(api, ns)
    docs = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
         "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"}},
                               "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "reader", "namespace": ns},
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "reader", "namespace": ns},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
         "subjects": [{"kind": "User", "name": "jane", "apiGroup": "rbac.authorization.k8s.io"}]}]
    # a YAML stream of JSON documents (a "kind: List" would need OpenAPI v2 for kubectl's validation)
    f = tmp_path / "web.yaml"
    f.write_text("\n---\n".join(json.dumps(d) for d in docs))
    assert kubectl(api, "apply", "-f", str(f)).stdout.split("\n")[:3] == [
        "deployment.apps/web created", "role.rbac.authorization.k8s.io/reader created",
        "rolebinding.rbac.authorization.k8s.io/reader created"]
    assert "unchanged" in kubectl(api, "apply", "-f", str(f)).stdout
    d = json.loads(kubectl(api, "get", "deploy", "web", "-n", ns, "-o", "json").stdout)
    assert d["spec"]["replicas"] == 2 and d["spec"]["strategy"]["type"] == "RollingUpdate"
    assert d["status"] == {"observedGeneration": 1}   # no ReplicaSet, no Pods
    assert kubectl(api, "get", "deploy", "-n", ns, "--no-headers").stdout.split()[:4] == ["web", "0/2", "0", "0"]
    r = kubectl(api, "patch", "deploy", "web", "-n", ns, "-p", '{"spec":{"replicas":3}}')
    assert "deployment.apps/web patched" in r.stdout
    d = json.loads(kubectl(api, "get", "deploy", "web", "-n", ns, "-o", "json").stdout)
    assert d["spec"]["replicas"] == 3 and d["metadata"]["generation"] == 2
    row = kubectl(api, "get", "rolebinding", "reader", "-n", ns, "-o", "wide", "--no-headers").stdout.split()
    assert row[:2] == ["reader", "Role/reader"] and row[3] == "jane"
    assert "web" in kubectl(api, "get", "deploy", "-A", "--no-headers").stdout
    kubectl(api, "delete", "-f", str(f))
    assert json.loads(kubectl(api, "get", "deploy,role,rolebinding", "-n", ns, "-o", "json").stdout)["items"] == []


# --------------------------------------------------------------------------
# refusals like a real server

def test_missing_namespace_and_conflicts(api, tmp_path):
    # a namespaced object in a namespace that does not exist
    st, body = request(api, "POST", "/apis/apps/v1/namespaces/nowhere/daemonsets", daemonset("ds1"))
    assert st == 404 and body["kind"] == "Status" and body["reason"] == "NotFound"
    assert body["message"] == 'namespaces "nowhere" not found'
    assert body["details"] == {"name": "nowhere", "kind": "namespaces"}
    f = tmp_path / "ds.yaml"
    f.write_text(json.dumps(dict(daemonset("ds1"), metadata={"name": "ds1", "namespace": "nowhere"})))
    r = kubectl(api, "apply", "-f", str(f), check=False)
    assert r.returncode == 1 and 'namespaces "nowhere" not found' in r.stderr
    r = kubectl(api, "get", "ds", "-n", "nowhere", check=False)
    assert r.returncode == 0 and "No resources found" in r.stderr

    ns = "kf-refuse"
    create_namespace(api, ns)
    base = "/apis/apps/v1/namespaces/%s/daemonsets" % ns
    st, body = request(api, "GET", base + "/ghost")
    assert st == 404 and body["message"] == 'daemonsets.apps "ghost" not found'
    assert body["details"] == {"name": "ghost", "group": "apps", "kind": "daemonsets"}
    st, created = request(api, "POST", base, daemonset("ds1"))
    assert st == 201 and created["apiVersion"] == "apps/v1" and created["metadata"]["generation"] == 1
    st, body = request(api, "POST", base, daemonset("ds1"))
    assert st == 409 and body["reason"] == "AlreadyExists" and body["message"] == 'daemonsets.apps "ds1" already exists'
    # cluster-scoped: no namespace in the path, none stored
    st, body = request(api, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles",
                       {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                        "metadata": {"name": "kf-refuse-cr", "namespace": ns}, "rules": []})
    assert st == 201 and "namespace" not in body["metadata"]
    assert request(api, "GET", "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/clusterroles/kf-refuse-cr" % ns)[0] == 404
    # the body's group/version must be the URL's
    st, body = request(api, "POST", base, dict(daemonset("ds2"), apiVersion="extensions/v1beta1"))
    assert st == 400 and "does not match the expected API version (apps/v1)" in body["message"]
    # no key collision with core/v1: a ConfigMap and a DaemonSet of the same name
    st, _ = request(api, "POST", "/api/v1/namespaces/%s/configmaps" % ns, {"metadata": {"name": "ds1"}})
    assert st == 201
    assert request(api, "GET", base + "/ds1")[1]["kind"] == "DaemonSet"
    assert request(api, "GET", "/api/v1/namespaces/%s/configmaps/ds1" % ns)[1]["kind"] == "ConfigMap"
    # optimistic concurrency on PUT; a no-op update writes nothing
    st, cur = request(api, "GET", base + "/ds1")
    stale = json.loads(json.dumps(cur))
    st, same = request(api, "PUT", base + "/ds1", cur)
    assert st == 200 and same["metadata"]["resourceVersion"] == cur["metadata"]["resourceVersion"]
    cur["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox"
    st, upd = request(api, "PUT", base + "/ds1", cur)
    assert st == 200 and upd["metadata"]["generation"] == 2
    assert int(upd["metadata"]["resourceVersion"]) > int(cur["metadata"]["resourceVersion"])
    st, body = request(api, "PUT", base + "/ds1", stale)
    assert st == 409 and body["reason"] == "Conflict"
    assert body["message"].startswith('Operation cannot be fulfilled on daemonsets.apps "ds1": the object has been modified')
    # DELETE answers a Success Status for these kinds; then 404
    st, body = request(api, "DELETE", base + "/ds1", {"propagationPolicy": "Background"})
    assert st == 200 and body["kind"] == "Status" and body["status"] == "Success"
    assert body["details"] == {"name": "ds1", "group": "apps", "kind": "daemonsets", "uid": created["metadata"]["uid"]}
    assert request(api, "DELETE", base + "/ds1")[0] == 404


def test_patch_content_types(api):
    ns = "kf-patch"
    create_namespace(api, ns)
    path = "/apis/apps/v1/namespaces/%s/daemonsets/p1" % ns
    env = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert request(api, "POST", path.rsplit("/", 1)[0], daemonset("p1", env=env))[0] == 201
    conn = connect(api)   # one kept-alive connection: refused bodies must not desync it
    try:
        # strategic merge: containers by name, env by name, $patch: delete
        smp = {"spec": {"template": {"spec": {"containers": [
            {"name": "main", "image": "busybox:2", "env": [{"name": "B", "$patch": "delete"}, {"name": "C", "value": "3"}]}]}}}}
        st, obj = call(conn, "PATCH", path, smp, "application/strategic-merge-patch+json")
        assert st == 200, obj
        [c] = obj["spec"]["template"]["spec"]["containers"]
        assert c == {"name": "main", "image": "busybox:2", "args": ["--flag"],
                     "env": [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]}
        assert obj["metadata"]["generation"] == 2
        # merge patch (RFC 7386): lists are replaced
        st, obj = call(conn, "PATCH", path, {"metadata": {"labels": {"x": "y"}},
                                             "spec": {"template": {"spec": {"containers": [{"name": "main", "image": "b:3"}]}}}},
                       "application/merge-patch+json")
        assert st == 200 and obj["metadata"]["labels"] == {"x": "y"}
        assert obj["spec"]["template"]["spec"]["containers"] == [{"name": "main", "image": "b:3"}]
        rv = obj["metadata"]["resourceVersion"]
        # the same patch again changes nothing, so nothing is written
        st, obj = call(conn, "PATCH", path, {"metadata": {"labels": {"x": "y"}}}, "application/merge-patch+json")
        assert st == 200 and obj["metadata"]["resourceVersion"] == rv
        for ctype, msg in (("application/json-patch+json", "json-patch is not supported"),
                           ("application/json", "accepted media types include: application/json-patch+json, "
                                                "application/merge-patch+json, application/strategic-merge-patch+json, "
                                                "application/apply-patch+yaml"),
                           ("text/plain", "the body of the request was in an unknown format")):
            st, body = call(conn, "PATCH", path, {"metadata": {"labels": {"no": "1"}}}, ctype)
            assert st == 415 and body["reason"] == "UnsupportedMediaType" and msg in body["message"], (ctype, body)
        # the type is checked before the object is looked up, like kube-apiserver
        assert call(conn, "PATCH", path + "x", {}, "text/plain")[0] == 415
        assert call(conn, "PATCH", path + "x", {}, "application/merge-patch+json")[0] == 404
        # a body that is neither JSON nor protobuf
        st, body = call(conn, "POST", path.rsplit("/", 1)[0], "name: x", "text/plain")
        assert st == 415 and body["message"].endswith("accepted media types include: application/json")
        # protobuf (kubectl's typed commands): a truncated envelope is a 400, a Deployment (which the double does
        # not decode, see test_helm.py for the kinds it does) a 415
        st, body = call(conn, "POST", path.rsplit("/", 1)[0], b"k8s\x00\x0a\x0f", "application/vnd.kubernetes.protobuf")
        assert st == 400 and body["message"] == "error decoding body: unexpected EOF"
        envelope = b"k8s\x00\x0a\x15\x0a\x07apps/v1\x12\x0aDeployment\x12\x00"
        st, body = call(conn, "POST", path.rsplit("/", 1)[0], envelope, "application/vnd.kubernetes.protobuf")
        assert st == 415 and body["message"].startswith("the kubeforge test double decodes protobuf bodies of "
                                                        "ClusterRole, ClusterRoleBinding, ConfigMap, DeleteOptions, "
                                                        "Namespace, Role, RoleBinding, Secret, ServiceAccount only, not "
                                                        "of apps/v1 Deployment")
        st, obj = call(conn, "GET", path)
        assert st == 200 and "no" not in obj["metadata"]["labels"]
    finally:
        conn.close()


def test_dry_run_answers_without_writing(api):
    ns = "kf-dry"
    create_namespace(api, ns)
    base = "/apis/apps/v1/namespaces/%s/daemonsets" % ns
    st, obj = request(api, "POST", base + "?dryRun=All", daemonset("d1"))
    assert st == 201 and obj["metadata"]["name"] == "d1"
    assert request(api, "GET", base + "/d1")[0] == 404
    assert request(api, "POST", base, daemonset("d1"))[0] == 201
    st, before = request(api, "GET", base + "/d1")
    # a dry-run create of an existing object is refused as a real one would be
    assert request(api, "POST", base + "?dryRun=All", daemonset("d1"))[0] == 409
    st, obj = request(api, "PATCH", base + "/d1?dryRun=All", {"metadata": {"labels": {"dry": "run"}}},
                      "application/merge-patch+json")
    assert st == 200 and obj["metadata"]["labels"] == {"dry": "run"}
    assert obj["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    st, after = request(api, "GET", base + "/d1")
    assert after == before
    assert request(api, "DELETE", base + "/d1?dryRun=All")[0] == 200
    assert request(api, "GET", base + "/d1")[0] == 200
    st, body = request(api, "DELETE", base + "/d1?dryRun=Some")
    assert st == 400 and body["message"] == 'Invalid dry run value: "Some"'
    assert request(api, "GET", base + "/d1")[0] == 200


# --------------------------------------------------------------------------
# the Python client, as kubernetes.core uses it

def test_dynamic_client(api):
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import NotFoundError

    cfg = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=str(api.kubeconfig), client_configuration=cfg)
    with kubernetes.client.ApiClient(cfg) as client:
        dyn = DynamicClient(client)
        ds_api = dyn.resources.get(api_version="apps/v1", kind="DaemonSet")
        assert ds_api.namespaced and ds_api.name == "daemonsets" and "ds" in ds_api.short_names
        crb_api = dyn.resources.get(api_version="rbac.authorization.k8s.io/v1", kind="ClusterRoleBinding")
        assert not crb_api.namespaced
        dyn.resources.get(api_version="v1", kind="Namespace").create(body={"metadata": {"name": "kf-dyn"}})

        made = ds_api.create(body=daemonset("dyn", env=[{"name": "A", "value": "1"}]), namespace="kf-dyn")
        assert made.kind == "DaemonSet" and made.metadata.generation == 1
        got = ds_api.get(name="dyn", namespace="kf-dyn")
        assert got.metadata.uid == made.metadata.uid and got.status.desiredNumberScheduled == 0
        # the DynamicClient's patch defaults to a strategic merge patch
        patched = ds_api.patch(name="dyn", namespace="kf-dyn", body={
            "metadata": {"labels": {"tier": "net"}},
            "spec": {"template": {"spec": {"containers": [{"name": "main", "env": [{"name": "B", "value": "2"}]}]}}}})
        assert patched.metadata.labels.tier == "net" and patched.metadata.generation == 2
        [c] = patched.spec.template.spec.containers
        assert c.image == IMAGE and [e.name for e in c.env] == ["A", "B"]
        listed = ds_api.get(namespace="kf-dyn")
        assert listed.kind == "DaemonSetList" and [i.metadata.name for i in listed.items] == ["dyn"]
        replaced = ds_api.replace(body=dict(patched.to_dict(), metadata=dict(patched.to_dict()["metadata"],
                                                                             labels={"tier": "x"})),
                                  namespace="kf-dyn")
        assert replaced.metadata.labels.tier == "x"
        ds_api.delete(name="dyn", namespace="kf-dyn")
        with pytest.raises(NotFoundError):
            ds_api.get(name="dyn", namespace="kf-dyn")


# --------------------------------------------------------------------------
# the strategic merge patch itself

def test_strategic_merge_patch_rules():
    pod = {"metadata": {"finalizers": ["a"], "labels": {"x": "1", "y": "2"}},
           "spec": {"containers": [{"name": "a", "image": "i1", "ports": [{"containerPort": 80, "name": "http"}]},
                                   {"name": "b", "image": "i2"}],
                    "tolerations": [{"operator": "Exists"}],
                    "volumes": [{"name": "v", "emptyDir": {}}]}}
    out = strategic_merge_patch(pod, {
        "metadata": {"finalizers": ["b"], "labels": {"y": None}},
        "spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                 "containers": [{"name": "a", "ports": [{"containerPort": 443}]}],
                 "tolerations": [{"key": "k", "operator": "Exists"}],
                 "volumes": [{"name": "v", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/x"}}]}})
    assert out["metadata"] == {"finalizers": ["a", "b"], "labels": {"x": "1"}}          # scalars merged; null deletes
    assert [c["name"] for c in out["spec"]["containers"]] == ["b", "a"]                  # $setElementOrder
    assert out["spec"]["containers"][1]["ports"] == [{"containerPort": 80, "name": "http"}, {"containerPort": 443}]
    assert out["spec"]["tolerations"] == [{"key": "k", "operator": "Exists"}]           # no merge key: replaced
    assert out["spec"]["volumes"] == [{"name": "v", "hostPath": {"path": "/x"}}]        # $retainKeys
    assert pod["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "name": "http"}]  # input untouched
    out = strategic_merge_patch(out, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]},
                                      "spec": {"containers": [{"name": "b", "$patch": "delete"}],
                                               "volumes": [{"$patch": "replace"}, {"name": "w"}]}})
    assert out["metadata"]["finalizers"] == ["b"]
    assert [c["name"] for c in out["spec"]["containers"]] == ["a"]
    assert out["spec"]["volumes"] == [{"name": "w"}]
    svc = {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}
    assert strategic_merge_patch(svc, {"spec": {"ports": [{"port": 80, "name": "web"}, {"port": 443}]}}) == \
        {"spec": {"ports": [{"port": 80, "targetPort": 8080, "name": "web"}, {"port": 443}]}}
    assert strategic_merge_patch({"data": {"a": "1"}}, {"$patch": "replace", "data": {"b": "2"}}) == {"data": {"b": "2"}}
