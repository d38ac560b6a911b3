"""The real helm 3 (.venv/bin/helm, v3.19.0 from tests/testbed/setup.sh) against the doubles' API over HTTPS:
install (from a chart archive and from the chart repository build.py publishes, served by mirror.py),
--create-namespace, list, get values, upgrade, upgrade --install, status, uninstall, a chart with a CRD in
crds/ and one of its custom resources, the Argo CD chart double (CRDs kept by helm.sh/resource-policy),
a ServiceAccount token without and then with an RBAC binding; then what helm needs from the double on
its own: the protobuf bodies of client-go's typed clients (helm's release Secrets, kubectl's typed
``create`` commands), DeleteOptions in DELETE bodies, aggregated discovery; and helm against the kubeadm
double, which embeds the same API modules.

One built K3s double serves the module (test_api_groups.api, admin kubeconfig); every test uses its own
namespaces and release names.  The module is skipped when there is no helm binary."""
import base64
import gzip
import http.client
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml

from k3s_double_helpers import DOUBLES, free_port
from test_api_groups import KUBECTL, api, connect, kubectl, request  # noqa: F401  (api is a fixture)
from test_service_account_tokens import bind, namespace, spoke_token
from kubeadm_double_helpers import Node, kadm_bin, kubelet_bin  # noqa: F401  (fixtures)

from k3s import protobuf
from k3s.api import AGGREGATED_DISCOVERY

HELM = os.path.join(os.path.dirname(sys.executable), "helm")
if not os.access(HELM, os.X_OK):
    HELM = shutil.which("helm") or HELM
if not os.access(HELM, os.X_OK):
    pytest.skip("no helm next to %s or on PATH (tests/testbed/setup.sh extracts helm v3.19.0 into .venv/bin)"
                % sys.executable, allow_module_level=True)

RELEASE_TYPE = "helm.sh/release.v1"
PROTOBUF = "application/vnd.kubernetes.protobuf"


@pytest.fixture(scope="module")
def helm_home(tmp_path_factory):
    """helm's cache, config and data directories (repositories, downloaded charts), apart from the user's."""
    return tmp_path_factory.mktemp("helm-home")


@pytest.fixture(scope="module")
def repo(release_root, tmp_path_factory):
    """The chart repository build.py publishes (DIR/charts), served by mirror.py: its URL."""
    port = free_port()
    logdir = tmp_path_factory.mktemp("helm-mirror")
    p = subprocess.Popen([sys.executable, os.path.join(DOUBLES, "mirror.py"), "--root", str(release_root),
                          "--port", str(port), "--pidfile", str(logdir / "mirror.pid"),
                          "--log", str(logdir / "access.log")], stderr=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d/charts" % port
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/index.yaml", timeout=1).read()
            break
        except OSError:
            time.sleep(0.05)
    yield url
    p.terminate()
    p.wait(10)


def chart(release_root, name, version="0.1.0"):
    return os.path.join(str(release_root), "charts", "%s-%s.tgz" % (name, version))


def helm(api, helm_home, *args, kubeconfig=None, check=True):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(helm_home),
           "KUBECONFIG": str(kubeconfig or api.kubeconfig),
           "HELM_CACHE_HOME": str(helm_home / "cache"), "HELM_CONFIG_HOME": str(helm_home / "config"),
           "HELM_DATA_HOME": str(helm_home / "data")}
    r = subprocess.run([HELM] + list(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=120)
    if check:
        assert r.returncode == 0, "helm %s: %s%s" % (" ".join(args), r.stdout, r.stderr)
    return r


def get(api, path):
    st, obj = request(api, "GET", path)
    assert st == 200, obj
    return obj


def gone(api, path):
    return request(api, "GET", path)[0] == 404


def release_secrets(api, ns, name):
    """The release's Secrets (storage driver "secret"), by their owner=helm,name=<release> labels."""
    lst = get(api, "/api/v1/namespaces/%s/secrets?labelSelector=owner%%3Dhelm,name%%3D%s" % (ns, name))
    return {s["metadata"]["name"]: s for s in lst["items"]}


def decode_release(secret):
    """helm's storage encoding: data.release is base64 (the Secret's) of base64 of gzip'd JSON."""
    return json.loads(gzip.decompress(base64.b64decode(base64.b64decode(secret["data"]["release"]))))


def managers(obj):
    return {e.get("manager", ""): e["operation"] for e in obj["metadata"].get("managedFields", [])}


# --------------------------------------------------------------------------
# a plain chart: install, list, values, upgrade, upgrade --install, status, uninstall

def test_install_list_upgrade_status_uninstall(api, helm_home, release_root):
    ns = "helm-hello"
    r = helm(api, helm_home, "install", "hello", chart(release_root, "kf-hello"), "-n", ns, "--create-namespace",
             "--set", "cluster=c1")
    assert "STATUS: deployed" in r.stdout and "REVISION: 1" in r.stdout
    # --create-namespace: helm's Namespace, with the label kube-apiserver's namespace strategy adds
    nsobj = get(api, "/api/v1/namespaces/" + ns)
    assert nsobj["metadata"]["labels"] == {"name": ns, "kubernetes.io/metadata.name": ns}
    cm_path = "/api/v1/namespaces/%s/configmaps/hello-hello" % ns
    cm = get(api, cm_path)
    assert cm["data"] == {"greeting": "hello", "cluster": "c1"}
    assert cm["metadata"]["annotations"] == {"meta.helm.sh/release-name": "hello", "meta.helm.sh/release-namespace": ns}
    assert cm["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    assert managers(cm) == {"helm": "Update"}  # the resource builder's POST ?fieldManager=helm
    sa = get(api, "/api/v1/namespaces/%s/serviceaccounts/hello" % ns)
    assert sa["metadata"]["labels"]["app.kubernetes.io/instance"] == "hello"
    # the release record: a Secret helm's typed client sent as protobuf (manager from the User-Agent Helm/3.19.0)
    [(key, rel)] = release_secrets(api, ns, "hello").items()
    assert key == "sh.helm.release.v1.hello.v1" and rel["type"] == RELEASE_TYPE
    assert {k: v for k, v in rel["metadata"]["labels"].items() if k != "modifiedAt"} == {
        "name": "hello", "owner": "helm", "status": "deployed", "version": "1"}
    assert managers(rel) == {"Helm": "Update"}
    record = decode_release(rel)
    assert (record["name"], record["namespace"], record["version"]) == ("hello", ns, 1)
    assert record["info"]["status"] == "deployed" and record["config"] == {"cluster": "c1"}
    assert record["chart"]["metadata"]["name"] == "kf-hello"

    listed = yaml.safe_load(helm(api, helm_home, "list", "-n", ns, "-o", "yaml").stdout)
    assert [(x["name"], x["namespace"], x["revision"], x["status"], x["chart"], x["app_version"]) for x in listed] == [
        ("hello", ns, "1", "deployed", "kf-hello-0.1.0", "0.1.0")]
    assert yaml.safe_load(helm(api, helm_home, "get", "values", "hello", "-n", ns, "-o", "yaml").stdout) == \
        {"cluster": "c1"}
    # the same name again is refused by helm itself (it reads the release Secrets)
    r = helm(api, helm_home, "install", "hello", chart(release_root, "kf-hello"), "-n", ns, check=False)
    assert r.returncode == 1 and "cannot re-use a name that is still in use" in r.stderr

    # upgrade with other values (no --reuse-values: cluster goes back to its default): a strategic merge patch
    rv_sa = sa["metadata"]["resourceVersion"]
    r = helm(api, helm_home, "upgrade", "hello", chart(release_root, "kf-hello"), "-n", ns, "--set", "greeting=hi")
    assert "REVISION: 2" in r.stdout
    cm2 = get(api, cm_path)
    assert cm2["data"] == {"greeting": "hi", "cluster": ""} and cm2["metadata"]["uid"] == cm["metadata"]["uid"]
    assert get(api, "/api/v1/namespaces/%s/serviceaccounts/hello" % ns)["metadata"]["resourceVersion"] == rv_sa
    secrets = release_secrets(api, ns, "hello")
    assert sorted(secrets) == ["sh.helm.release.v1.hello.v1", "sh.helm.release.v1.hello.v2"]
    assert secrets["sh.helm.release.v1.hello.v1"]["metadata"]["labels"]["status"] == "superseded"
    assert secrets["sh.helm.release.v1.hello.v2"]["metadata"]["labels"]["status"] == "deployed"

    # upgrade --install with the same values: a new revision, the objects untouched (empty patches, nothing sent)
    r = helm(api, helm_home, "upgrade", "--install", "hello", chart(release_root, "kf-hello"), "-n", ns,
             "--set", "greeting=hi")
    assert "REVISION: 3" in r.stdout
    assert get(api, cm_path)["metadata"]["resourceVersion"] == cm2["metadata"]["resourceVersion"]
    status = json.loads(helm(api, helm_home, "status", "hello", "-n", ns, "-o", "json").stdout)
    assert (status["version"], status["info"]["status"], status["config"]) == (3, "deployed", {"greeting": "hi"})
    history = json.loads(helm(api, helm_home, "history", "hello", "-n", ns, "-o", "json").stdout)
    assert [(h["revision"], h["status"]) for h in history] == [(1, "superseded"), (2, "superseded"), (3, "deployed")]
    # the resources of the release, read back with Table output (BuildTable)
    r = helm(api, helm_home, "status", "hello", "-n", ns, "--show-resources")
    assert "hello-hello" in r.stdout and "==> v1/ServiceAccount" in r.stdout

    r = helm(api, helm_home, "uninstall", "hello", "-n", ns)
    assert 'release "hello" uninstalled' in r.stdout
    assert gone(api, cm_path) and gone(api, "/api/v1/namespaces/%s/serviceaccounts/hello" % ns)
    assert release_secrets(api, ns, "hello") == {}
    r = helm(api, helm_home, "status", "hello", "-n", ns, check=False)
    assert r.returncode == 1 and "release: not found" in r.stderr


def test_install_from_the_chart_repository(api, helm_home, repo, release_root, tmp_path):
    ns = "helm-repo"
    # the repository as helm reads it: index.yaml, then the archive its urls name (relative to the repository)
    out = helm(api, helm_home, "show", "chart", "kf-hello", "--repo", repo, "--version", "0.1.0").stdout
    assert yaml.safe_load(out) == {"apiVersion": "v2", "name": "kf-hello", "version": "0.1.0", "appVersion": "0.1.0",
                                   "type": "application", "description": yaml.safe_load(out)["description"]}
    helm(api, helm_home, "pull", "kf-hello", "--repo", repo, "--version", "0.1.0", "-d", str(tmp_path))
    with open(str(tmp_path / "kf-hello-0.1.0.tgz"), "rb") as a, open(chart(release_root, "kf-hello"), "rb") as b:
        assert a.read() == b.read()
    r = helm(api, helm_home, "install", "from-repo", "kf-hello", "--repo", repo, "--version", "0.1.0", "-n", ns,
             "--create-namespace", "--set", "greeting=hallo")
    assert "STATUS: deployed" in r.stdout
    assert get(api, "/api/v1/namespaces/%s/configmaps/from-repo-hello" % ns)["data"]["greeting"] == "hallo"
    r = helm(api, helm_home, "install", "nope", "kf-hello", "--repo", repo, "--version", "9.9.9", "-n", ns,
             check=False)
    assert r.returncode == 1 and 'chart "kf-hello" version "9.9.9" not found' in r.stderr
    helm(api, helm_home, "uninstall", "from-repo", "-n", ns)


# --------------------------------------------------------------------------
# CRDs

def test_crd_of_crds_dir_then_its_custom_resource(api, helm_home, release_root):
    ns = "helm-widgets"
    # without its CRD the Widget has no REST mapping (client-side validation finds no schema and passes it on)
    r = helm(api, helm_home, "install", "w0", chart(release_root, "kf-widgets"), "-n", ns, "--skip-crds", check=False)
    assert r.returncode == 1 and r.stderr == (
        'Error: INSTALLATION FAILED: unable to build kubernetes objects from release manifest: resource mapping not '
        'found for name: "w0" namespace: "" from "": no matches for kind "Widget" in version "kubeforge.test/v1"\n'
        'ensure CRDs are installed first\n')
    r = helm(api, helm_home, "install", "w1", chart(release_root, "kf-widgets"), "-n", ns, "--create-namespace",
             "--set", "size=3")
    assert "STATUS: deployed" in r.stdout
    crd = get(api, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.kubeforge.test")
    conds = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conds == {"NamesAccepted": "True", "Established": "True"}
    assert crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"] == {
        "size": {"type": "integer"}}
    widget = get(api, "/apis/kubeforge.test/v1/namespaces/%s/widgets/w1" % ns)
    assert widget["spec"] == {"size": 3} and widget["metadata"]["generation"] == 1
    assert widget["metadata"]["annotations"]["meta.helm.sh/release-name"] == "w1"
    # helm created the CRD first (and waited for Established), the Widget after it
    assert int(crd["metadata"]["resourceVersion"]) < int(widget["metadata"]["resourceVersion"])
    # an upgrade of the custom resource: a JSON merge patch (helm has no Go type for it)
    helm(api, helm_home, "upgrade", "w1", chart(release_root, "kf-widgets"), "-n", ns, "--set", "size=5")
    widget2 = get(api, "/apis/kubeforge.test/v1/namespaces/%s/widgets/w1" % ns)
    assert widget2["spec"] == {"size": 5} and widget2["metadata"]["generation"] == 2
    # a second release in another namespace: the CRD exists, helm skips it
    helm(api, helm_home, "install", "w2", chart(release_root, "kf-widgets"), "-n", ns + "-2", "--create-namespace")
    assert get(api, "/apis/kubeforge.test/v1/namespaces/%s-2/widgets/w2" % ns)["spec"] == {"size": 1}
    # uninstall: the Widget goes, the CRD of crds/ stays (helm never deletes those)
    helm(api, helm_home, "uninstall", "w1", "-n", ns)
    helm(api, helm_home, "uninstall", "w2", "-n", ns + "-2")
    assert gone(api, "/apis/kubeforge.test/v1/namespaces/%s/widgets/w1" % ns)
    assert get(api, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.kubeforge.test")


def test_argo_cd_chart_keeps_its_crds(api, helm_home, repo):
    ns = "argocd"
    r = helm(api, helm_home, "install", "argocd", "argo-cd", "--repo", repo, "--version", "9.1.0", "-n", ns,
             "--create-namespace")
    assert "STATUS: deployed" in r.stdout
    crd_base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
    names = {"applications": ("Application", ["app", "apps"]),
             "applicationsets": ("ApplicationSet", ["appset", "appsets"]),
             "appprojects": ("AppProject", ["appproj", "appprojs"])}
    for plural, (kind, short) in names.items():
        crd = get(api, crd_base + plural + ".argoproj.io")
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert crd["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argocd"
        assert crd["spec"]["names"]["kind"] == kind and crd["spec"]["names"]["shortNames"] == short
        assert crd["spec"]["scope"] == "Namespaced"
        assert [(v["name"], v["served"], v["storage"]) for v in crd["spec"]["versions"]] == [("v1alpha1", True, True)]
    cm = get(api, "/api/v1/namespaces/argocd/configmaps/argocd-cm")
    assert cm["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argocd"
    assert cm["data"]["admin.enabled"] == "true"
    sa = get(api, "/api/v1/namespaces/argocd/serviceaccounts/argocd-application-controller")
    assert sa["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argocd" and "secrets" not in sa
    # the Established CRDs serve their kinds at once
    app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "guestbook"},
           "spec": {"project": "default"}}
    assert request(api, "POST", "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications", app)[0] == 201
    # no Secret but the release record in the namespace
    secrets = get(api, "/api/v1/namespaces/argocd/secrets")["items"]
    assert [s["metadata"]["name"] for s in secrets] == ["sh.helm.release.v1.argocd.v1"]
    # an upgrade: the CRDs of templates/ get a strategic merge patch (helm has the Go type of a v1 CRD), the
    # ServiceAccount the new manifest no longer has is deleted (propagationPolicy Background), the new one created
    helm(api, helm_home, "upgrade", "argocd", "argo-cd", "--repo", repo, "--version", "9.1.0", "-n", ns,
         "--set", "crds.additionalLabels.team=platform", "--set", "controller.serviceAccount.name=argocd-controller")
    crd = get(api, crd_base + "applications.argoproj.io")
    assert crd["metadata"]["labels"]["team"] == "platform" and crd["metadata"]["generation"] == 1
    assert gone(api, "/api/v1/namespaces/argocd/serviceaccounts/argocd-application-controller")
    assert get(api, "/api/v1/namespaces/argocd/serviceaccounts/argocd-controller")
    # dropping the CRDs from the manifest keeps them (helm.sh/resource-policy: keep)
    helm(api, helm_home, "upgrade", "argocd", "argo-cd", "--repo", repo, "--version", "9.1.0", "-n", ns,
         "--set", "crds.install=false")
    assert get(api, crd_base + "applications.argoproj.io")["metadata"]["labels"]["team"] == "platform"
    assert get(api, "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/guestbook")
    # back to the chart's values (without values, helm 3 would reuse the last ones): the kept CRDs are adopted
    helm(api, helm_home, "upgrade", "argocd", "argo-cd", "--repo", repo, "--version", "9.1.0", "-n", ns,
         "--reset-values")

    r = helm(api, helm_home, "uninstall", "argocd", "-n", ns)
    assert "These resources were kept due to the resource policy:" in r.stdout
    for plural in names:
        assert "[CustomResourceDefinition] %s.argoproj.io" % plural in r.stdout
        assert get(api, crd_base + plural + ".argoproj.io")
    assert gone(api, "/api/v1/namespaces/argocd/configmaps/argocd-cm")
    assert gone(api, "/api/v1/namespaces/argocd/serviceaccounts/argocd-application-controller")
    assert release_secrets(api, ns, "argocd") == {}
    # installing again adopts the kept CRDs (their release annotations still name this release)
    helm(api, helm_home, "install", "argocd", "argo-cd", "--repo", repo, "--version", "9.1.0", "-n", ns)
    assert get(api, "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/guestbook")
    helm(api, helm_home, "uninstall", "argocd", "-n", ns)


# --------------------------------------------------------------------------
# a ServiceAccount token: Forbidden, then bound

def test_service_account_token_forbidden_until_bound(api, helm_home, release_root, tmp_path):
    ns = namespace(api, "helm-team")
    token = spoke_token(api, ns, "deployer")
    kc = tmp_path / "deployer.kubeconfig"
    kc.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:%d" % api.port,
                                               "certificate-authority": str(api.data / "server/tls/server-ca.crt")}}],
        "users": [{"name": "deployer", "user": {"token": token}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "deployer", "namespace": ns}}]}))
    user = "system:serviceaccount:%s:deployer" % ns
    r = helm(api, helm_home, "list", "-n", ns, kubeconfig=kc, check=False)
    assert r.returncode == 1 and r.stderr.strip() == (
        'Error: list: failed to list: secrets is forbidden: User "%s" cannot list resource "secrets" in API group "" '
        'in the namespace "%s"' % (user, ns))
    r = helm(api, helm_home, "install", "hello", chart(release_root, "kf-hello"), "-n", ns, kubeconfig=kc, check=False)
    assert r.returncode == 1
    assert ('Error: INSTALLATION FAILED: Unable to continue with install: could not get information about the '
            'resource ServiceAccount "hello" in namespace "%s": serviceaccounts "hello" is forbidden: User "%s" '
            'cannot get resource "serviceaccounts" in API group "" in the namespace "%s"' % (ns, user, ns)) \
        in r.stderr
    assert gone(api, "/api/v1/namespaces/%s/configmaps/hello-hello" % ns)
    # cluster-admin in its namespace only (a RoleBinding to the ClusterRole)
    bind(api, "RoleBinding", "deployer-admin", "ClusterRole", "cluster-admin", ns, "deployer", ns=ns)
    helm(api, helm_home, "install", "hello", chart(release_root, "kf-hello"), "-n", ns, kubeconfig=kc)
    assert get(api, "/api/v1/namespaces/%s/configmaps/hello-hello" % ns)["data"]["greeting"] == "hello"
    assert [x["name"] for x in json.loads(helm(api, helm_home, "list", "-n", ns, "-o", "json", kubeconfig=kc).stdout)] \
        == ["hello"]
    r = helm(api, helm_home, "list", "-A", kubeconfig=kc, check=False)
    assert r.returncode == 1 and 'cannot list resource "secrets" in API group "" at the cluster scope' in r.stderr
    helm(api, helm_home, "uninstall", "hello", "-n", ns, kubeconfig=kc)
    assert release_secrets(api, ns, "hello") == {}


# --------------------------------------------------------------------------
# what helm needs from the double: protobuf bodies, DeleteOptions, aggregated discovery

def test_protobuf_bodies_of_typed_clients(api, tmp_path):
    """kubectl's typed ``create`` commands send protobuf, as helm's release storage does."""
    ns = "helm-proto"
    kubectl(api, "create", "namespace", ns)
    assert get(api, "/api/v1/namespaces/" + ns)["spec"] == {"finalizers": ["kubernetes"]}
    blob = bytes(range(256))
    (tmp_path / "blob").write_bytes(blob)
    kubectl(api, "-n", ns, "create", "configmap", "cm", "--from-literal=a=b",
            "--from-file=bin=%s" % (tmp_path / "blob"))
    cm = get(api, "/api/v1/namespaces/%s/configmaps/cm" % ns)
    assert cm["data"] == {"a": "b"} and base64.b64decode(cm["binaryData"]["bin"]) == blob
    assert managers(cm) == {"kubectl-create": "Update"}
    kubectl(api, "-n", ns, "create", "secret", "generic", "s", "--from-literal=k=v", "--type=kubeforge.test/x")
    s = get(api, "/api/v1/namespaces/%s/secrets/s" % ns)
    assert (s["type"], s["data"]) == ("kubeforge.test/x", {"k": base64.b64encode(b"v").decode()})
    kubectl(api, "-n", ns, "create", "serviceaccount", "sa")
    assert get(api, "/api/v1/namespaces/%s/serviceaccounts/sa" % ns)["metadata"]["name"] == "sa"
    kubectl(api, "-n", ns, "create", "role", "r", "--verb=get,list", "--resource=pods", "--resource-name=p")
    assert get(api, "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/roles/r" % ns)["rules"] == [
        {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["p"]}]
    kubectl(api, "-n", ns, "create", "rolebinding", "rb", "--role=r", "--serviceaccount=%s:sa" % ns, "--user=bob")
    rb = get(api, "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/rolebindings/rb" % ns)
    assert rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}
    assert rb["subjects"] == [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "bob"},
                              {"kind": "ServiceAccount", "name": "sa", "namespace": ns}]
    # a kind the double does not decode: 415, said plainly
    r = kubectl(api, "-n", ns, "create", "deployment", "d", "--image=nginx", check=False)
    assert r.returncode == 1 and "decodes protobuf bodies of" in r.stderr and "apps/v1 Deployment" in r.stderr
    # a protobuf body of another kind than the resource's
    body = protobuf.encode("v1", "ConfigMap", {"metadata": {"name": "x"}})
    st, doc = request(api, "POST", "/api/v1/namespaces/%s/secrets" % ns, body, PROTOBUF)
    assert st == 400 and doc["message"] == "the kind in the data (ConfigMap) does not match the expected kind (Secret)"


def test_protobuf_decoding():
    """The JSON form of a protobuf message: omitempty zero values dropped, pointers kept, bytes in base64."""
    obj = {"metadata": {"name": "s", "namespace": "n", "labels": {"a": "1"},
                        "creationTimestamp": "2026-01-01T00:00:00Z",
                        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "u",
                                             "controller": False}],
                        "managedFields": [{"manager": "m", "operation": "Update", "apiVersion": "v1",
                                           "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {}}}]},
           "immutable": False, "data": {"k": base64.b64encode(b"\x00\xff").decode()}, "type": "Opaque"}
    assert protobuf.decode(protobuf.encode("v1", "Secret", obj)) == ("v1", "Secret", obj)
    # what gogo-protobuf writes for unset fields: empty strings, a zero generation, the zero time (empty)
    raw = (protobuf._ld(1, protobuf._ld(1, b"x") + protobuf._ld(2, b"") + protobuf._key(7, 0) + b"\x00"
                        + protobuf._ld(8, b"")) + protobuf._ld(3, b""))
    assert protobuf.message("Secret", raw) == {"metadata": {"name": "x"}}
    # unknown field numbers are skipped
    assert protobuf.message("ConfigMap", protobuf._ld(99, b"?") + protobuf._ld(1, protobuf._ld(1, b"c"))) == {
        "metadata": {"name": "c"}}
    with pytest.raises(protobuf.ProtoError):
        protobuf.decode(b"{}")
    with pytest.raises(protobuf.Unsupported):
        protobuf.decode(protobuf.MAGIC + protobuf._ld(1, protobuf._ld(1, b"apps/v1") + protobuf._ld(2, b"Deployment")))


def test_delete_options_in_the_body(api):
    ns = namespace(api, "helm-delete")
    base = "/api/v1/namespaces/%s/configmaps" % ns
    for name in ("a", "b"):
        assert request(api, "POST", base, {"metadata": {"name": name}})[0] == 201
    # protobuf DeleteOptions (typed clients): dryRun from the body keeps the object
    body = protobuf.encode("v1", "DeleteOptions", {"dryRun": ["All"], "propagationPolicy": "Background"})
    assert request(api, "DELETE", base + "/a", body, PROTOBUF)[0] == 200 and not gone(api, base + "/a")
    # with a body, the query is not read (kube-apiserver's DeleteResource)
    st, _ = request(api, "DELETE", base + "/a?dryRun=All", {"kind": "DeleteOptions", "apiVersion": "v1"})
    assert st == 200 and gone(api, base + "/a")
    st, doc = request(api, "DELETE", base + "/b", {"propagationPolicy": "Sideways"})
    assert (st, doc["message"]) == (422, 'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported '
                                         'value: "Sideways": supported values: "Foreground", "Background", "Orphan", '
                                         '"nil"')
    st, doc = request(api, "DELETE", base + "/b", {"propagationPolicy": "Orphan", "orphanDependents": True,
                                                   "dryRun": ["Some"]})
    assert st == 422 and doc["message"] == (
        'DeleteOptions.meta.k8s.io "" is invalid: [propagationPolicy: Invalid value: "Orphan": orphanDependents and '
        'deletionPropagation cannot be both set, dryRun: Unsupported value: []string{"Some"}: supported values: "All"]')
    uid = get(api, base + "/b")["metadata"]["uid"]
    st, doc = request(api, "DELETE", base + "/b", {"preconditions": {"uid": "other"}})
    assert (st, doc["message"]) == (409, 'Operation cannot be fulfilled on ConfigMap "b": the UID in the precondition '
                                         '(other) does not match the UID in record (%s). The object might have been '
                                         'deleted and then recreated' % uid)
    st, doc = request(api, "DELETE", base + "/b", {"kind": "ConfigMap"})
    assert st == 400
    st, _ = request(api, "DELETE", base + "/b", {"preconditions": {"uid": uid}, "propagationPolicy": "Foreground"})
    assert st == 200 and gone(api, base + "/b")


def test_aggregated_discovery(api):
    """client-go (kubectl, helm) asks /api and /apis for apidiscovery.k8s.io/v2 first; plain JSON gets the legacy
    documents."""
    def raw(path, accept):
        c = connect(api)
        try:
            c.request("GET", path, headers={"Accept": accept})
            r = c.getresponse()
            return r.status, r.getheader("Content-Type"), json.loads(r.read())
        finally:
            c.close()
    client_go = AGGREGATED_DISCOVERY + ",application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList," \
                                       "application/json"
    st, ctype, doc = raw("/apis", client_go)
    assert (st, ctype, doc["kind"], doc["apiVersion"]) == (200, AGGREGATED_DISCOVERY, "APIGroupDiscoveryList",
                                                           "apidiscovery.k8s.io/v2")
    by_group = {g["metadata"]["name"]: g for g in doc["items"]}
    assert list(by_group)[:4] == ["apps", "policy", "rbac.authorization.k8s.io", "apiextensions.k8s.io"]
    [apps_v1] = by_group["apps"]["versions"]
    assert apps_v1["version"] == "v1" and apps_v1["freshness"] == "Current"
    ds = [r for r in apps_v1["resources"] if r["resource"] == "daemonsets"][0]
    assert ds["responseKind"] == {"group": "apps", "version": "v1", "kind": "DaemonSet"}
    assert (ds["scope"], ds["singularResource"], ds["shortNames"]) == ("Namespaced", "daemonset", ["ds"])
    st, ctype, core = raw("/api", client_go)
    assert ctype == AGGREGATED_DISCOVERY and [g["metadata"] for g in core["items"]] == [{"creationTimestamp": None}]
    pods = [r for r in core["items"][0]["versions"][0]["resources"] if r["resource"] == "pods"][0]
    assert {s["subresource"]: (s["responseKind"], s["verbs"]) for s in pods["subresources"]} == {
        "eviction": ({"group": "policy", "version": "v1", "kind": "Eviction"}, ["create"]),
        "status": ({"group": "", "version": "v1", "kind": "Pod"}, ["get", "patch", "update"])}
    # the legacy documents for anyone else (the Python client), and for v2beta1 alone (not served any more)
    for accept in ("application/json", "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,*/*"):
        st, ctype, doc = raw("/apis", accept)
        assert (ctype, doc["kind"]) == ("application/json", "APIGroupList")
    assert raw("/api", "application/json")[2]["kind"] == "APIVersions"


def test_openapi_v2(api, tmp_path):
    """A Swagger 2.0 document without definitions: protobuf for client-go's OpenAPISchema, else JSON."""
    def raw(accept):
        c = connect(api)
        try:
            c.request("GET", "/openapi/v2", headers={"Accept": accept})
            r = c.getresponse()
            return r.status, r.getheader("Content-Type"), r.read()
        finally:
            c.close()
    version = get(api, "/version")["gitVersion"]
    st, ctype, body = raw("application/json")
    assert (st, ctype, json.loads(body)) == (200, "application/json", {
        "swagger": "2.0", "info": {"title": "Kubernetes", "version": version}, "paths": {}, "definitions": {}})
    st, ctype, body = raw("application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
    assert (st, ctype) == (200, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
    fields = {num: val for num, _, val in protobuf.fields(body)}
    assert fields[1] == b"2.0" and fields[8] == fields[9] == b""
    assert {num: val for num, _, val in protobuf.fields(fields[2])} == {1: b"Kubernetes", 2: version.encode()}
    # kubectl validates a List's items on the client side against it (finding no schema, it lets them pass)
    manifest = tmp_path / "list.yaml"
    manifest.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "listed", "namespace": "default"}}]}))
    assert kubectl(api, "apply", "-f", str(manifest)).stdout.strip() == "configmap/listed created"
    kubectl(api, "delete", "-f", str(manifest))


# --------------------------------------------------------------------------
# the kubeadm double (its kube-apiserver embeds the same API modules)

def test_helm_against_the_kubeadm_double(kadm_bin, kubelet_bin, helm_home, release_root, tmp_path):  # noqa: F811
    cp = Node(kadm_bin, kubelet_bin, "helm1")
    try:
        cp.init_cluster()

        class Cluster:
            kubeconfig = cp.path("/etc/kubernetes/admin.conf")
        home = tmp_path / "helm"
        home.mkdir()
        helm(Cluster, home, "install", "hello", chart(release_root, "kf-hello"), "-n", "kfh", "--create-namespace")
        helm(Cluster, home, "install", "w", chart(release_root, "kf-widgets"), "-n", "kfh")
        helm(Cluster, home, "upgrade", "hello", chart(release_root, "kf-hello"), "-n", "kfh", "--set", "greeting=hi")
        listed = json.loads(helm(Cluster, home, "list", "-n", "kfh", "-o", "json").stdout)
        assert sorted((x["name"], x["revision"]) for x in listed) == [("hello", "2"), ("w", "1")]
        if os.access(KUBECTL, os.X_OK):
            out = subprocess.run([KUBECTL, "--kubeconfig", Cluster.kubeconfig, "-n", "kfh", "get", "cm/hello-hello",
                                  "widgets/w", "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            assert out.returncode == 0, out.stderr
            items = {i["kind"]: i for i in json.loads(out.stdout)["items"]}
            assert items["ConfigMap"]["data"]["greeting"] == "hi" and items["Widget"]["spec"] == {"size": 1}
        helm(Cluster, home, "uninstall", "hello", "w", "-n", "kfh")
        assert json.loads(helm(Cluster, home, "list", "-n", "kfh", "-o", "json").stdout) == []
    finally:
        cp.close()
