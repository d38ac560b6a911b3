"""Server start-up, files, TLS, API and readiness of the built double."""
import base64
import hashlib
import http.client
import json
import os
import socket
import ssl
import stat
import subprocess
import tarfile
import io

import pytest

from k3s_double_helpers import NEW, run


def tls(kenv, name):
    return str(kenv.data / "server" / "tls" / name)


def request(kenv, path, cert=True, headers=None, method="GET", body=None):
    ctx = ssl.create_default_context(cafile=tls(kenv, "server-ca.crt"))
    if cert:
        ctx.load_cert_chain(tls(kenv, "client-admin.crt"), tls(kenv, "client-admin.key"))
    c = http.client.HTTPSConnection("127.0.0.1", kenv.port, context=ctx, timeout=10)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheader("Content-Type"), data


def sans(path):
    out = subprocess.run(["openssl", "x509", "-in", path, "-noout", "-ext", "subjectAltName"],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return {s.strip() for s in out.splitlines()[1].split(",")}


@pytest.fixture
def notify_sock(tmp_path):
    path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(20)
    yield path, s
    s.close()


def test_first_start_files_tokens_kubeconfig(start_server, kenv, notify_sock):
    path, sock = notify_sock
    srv = start_server(["--token", "s3cret", "--write-kubeconfig-mode", "0644", "--tls-san", "api.example.test,10.9.8.7",
                        "--node-name", "Node-One", "--node-label", "tier=gold", "--node-taint", "dedicated=ctl:NoSchedule"],
                       env_extra={"NOTIFY_SOCKET": path})
    assert srv.up, srv.log()
    assert sock.recv(64) == b"READY=1\n"
    sdir = kenv.data / "server"
    # token with independently computed CA hash
    ca_hash = hashlib.sha256((sdir / "tls" / "server-ca.crt").read_bytes()).hexdigest()
    assert (sdir / "token").read_text() == "K10%s::server:s3cret\n" % ca_hash
    assert stat.S_IMODE(os.stat(sdir / "token").st_mode) == 0o600
    assert os.readlink(sdir / "node-token") == "token"
    assert os.readlink(sdir / "agent-token") == "token"
    assert (sdir / "db" / "state.db").exists()
    for ca in ("server-ca", "client-ca", "request-header-ca"):
        out = subprocess.run(["openssl", "x509", "-in", str(sdir / "tls" / (ca + ".crt")), "-noout", "-ext",
                              "basicConstraints"], stdout=subprocess.PIPE, text=True, check=True).stdout
        assert "CA:TRUE" in out
    # kubeconfig
    assert stat.S_IMODE(os.stat(kenv.kubeconfig).st_mode) == 0o644
    kc = kenv.kubeconfig.read_text()
    assert "server: https://127.0.0.1:%d" % kenv.port in kc
    assert "current-context: default" in kc
    cad = kc.split("certificate-authority-data: ")[1].split("\n")[0]
    assert base64.b64decode(cad) == (sdir / "tls" / "server-ca.crt").read_bytes()
    ccd = base64.b64decode(kc.split("client-certificate-data: ")[1].split("\n")[0])
    subj = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=ccd, stdout=subprocess.PIPE,
                          check=True).stdout.decode()
    assert "system:masters" in subj and "system:admin" in subj
    # SANs
    s = sans(tls(kenv, "serving-kube-apiserver.crt"))
    for want in ("DNS:api.example.test", "IP Address:10.9.8.7", "DNS:kubernetes.default.svc.cluster.local",
                 "IP Address:10.43.0.1", "IP Address:127.0.0.1", "DNS:localhost", "DNS:node-one"):
        assert want in s
    # unauthenticated supervisor endpoints
    assert request(kenv, "/ping", cert=False)[2] == b"pong"
    assert request(kenv, "/cacerts", cert=False)[2] == (sdir / "tls" / "server-ca.crt").read_bytes()
    # readyz needs node/server basic auth
    assert request(kenv, "/v1-k3s/readyz", cert=False)[0] == 401
    bad = base64.b64encode(b"node:wrong").decode()
    assert request(kenv, "/v1-k3s/readyz", cert=False, headers={"Authorization": "Basic " + bad})[0] == 401
    good = base64.b64encode(b"node:s3cret").decode()
    assert request(kenv, "/v1-k3s/readyz", cert=False, headers={"Authorization": "Basic " + good})[0] == 200
    # API needs a client cert or bearer
    st, _, body = request(kenv, "/api/v1/nodes", cert=False)
    assert st == 401 and json.loads(body)["reason"] == "Unauthorized"
    assert request(kenv, "/version", cert=False, headers={"Authorization": "Bearer nope"})[0] == 401
    st, _, body = request(kenv, "/version", cert=False, headers={"Authorization": "Bearer s3cret"})
    v = json.loads(body)
    assert st == 200 and v["gitVersion"] == NEW and v["minor"] == "35" and v["platform"].startswith("linux/")
    # node list and object
    st, _, body = request(kenv, "/api/v1/nodes")
    nl = json.loads(body)
    assert nl["kind"] == "NodeList" and [n["metadata"]["name"] for n in nl["items"]] == ["node-one"]
    node = nl["items"][0]
    labels = node["metadata"]["labels"]
    assert labels["tier"] == "gold"
    assert labels["node-role.kubernetes.io/control-plane"] == "true"
    assert labels["node.kubernetes.io/instance-type"] == "k3s"
    assert node["spec"]["taints"] == [{"key": "dedicated", "value": "ctl", "effect": "NoSchedule"}]
    assert node["status"]["nodeInfo"]["kubeletVersion"] == NEW
    assert {"type": "Hostname", "address": "node-one"} in node["status"]["addresses"]
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"][0]
    assert ready["status"] == "True"
    assert request(kenv, "/api/v1/nodes?labelSelector=tier%3Dsilver")[2].count(b'"name"') == 0
    assert len(json.loads(request(kenv, "/api/v1/nodes?fieldSelector=metadata.name%3Dnode-one")[2])["items"]) == 1
    # field labels per resource: kubectl drain lists a node's pods by spec.nodeName, which nodes do not take
    st, _, body = request(kenv, "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-one")
    assert st == 200 and json.loads(body)["kind"] == "PodList"
    st, _, body = request(kenv, "/api/v1/nodes?fieldSelector=spec.nodeName%3Dnode-one")
    assert st == 400 and json.loads(body)["message"] == "field label not supported: spec.nodeName"
    st, _, body = request(kenv, "/api/v1/nodes/ghost")
    assert st == 404 and json.loads(body)["reason"] == "NotFound"
    st, _, body = request(kenv, "/api/v1/namespaces")
    assert {n["metadata"]["name"] for n in json.loads(body)["items"]} == {"default", "kube-system", "kube-public",
                                                                           "kube-node-lease"}
    st, _, body = request(kenv, "/api/v1/nodes", headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    t = json.loads(body)
    assert t["kind"] == "Table" and [c["name"] for c in t["columnDefinitions"]][:5] == ["Name", "Status", "Roles", "Age", "Version"]
    assert t["rows"][0]["cells"][:3] == ["node-one", "Ready", "control-plane,master"]
    # label patch
    st, _, body = request(kenv, "/api/v1/nodes/node-one", method="PATCH", body=json.dumps({"metadata": {"labels": {"x": "y"}}}),
                          headers={"Content-Type": "application/merge-patch+json"})
    assert st == 200 and json.loads(body)["metadata"]["labels"]["x"] == "y"
    assert srv.stop() == 0


def test_restart_token_rules_and_san_change(start_server, kenv):
    s1 = start_server(["--token", "first"])
    assert s1.up
    assert s1.stop() == 0
    tok = (kenv.data / "server" / "token").read_text()
    old_crt = (kenv.data / "server" / "tls" / "serving-kube-apiserver.crt").read_bytes()
    # a different token is refused
    r = run(s1.proc.args[0], kenv.base_args() + ["--token", "second"], kenv.env)
    assert r.returncode == 1
    assert "bootstrap data already found and encrypted with different token" in r.stderr
    # a K10 token with a wrong CA hash is refused
    r = run(s1.proc.args[0], kenv.base_args() + ["--token", "K10" + "0" * 64 + "::server:first"], kenv.env)
    assert r.returncode == 1
    assert "token CA hash does not match the Cluster CA certificate hash: %s != " % ("0" * 64) in r.stderr
    # no token: reuse; new tls-san: serving cert regenerated, CA unchanged
    s2 = start_server(["--tls-san", "new.example.test"])
    assert s2.up, s2.log()
    assert (kenv.data / "server" / "token").read_text() == tok
    assert old_crt != (kenv.data / "server" / "tls" / "serving-kube-apiserver.crt").read_bytes()
    assert "DNS:new.example.test" in sans(tls(kenv, "serving-kube-apiserver.crt"))
    # the full K10 token is accepted
    s2.stop()
    s3 = start_server(["--token", tok.strip(), "--node-label", "late=1"])
    assert s3.up, s3.log()
    node = json.loads(request(kenv, "/api/v1/nodes")[2])["items"][0]
    assert "late" not in node["metadata"]["labels"]   # labels only at registration
    s3.stop()


def test_generated_token_and_agent_token(start_server, kenv):
    s = start_server(["--agent-token", "agentpw"])
    assert s.up
    sdir = kenv.data / "server"
    tok = (sdir / "token").read_text()
    assert tok.startswith("K10") and "::server:" in tok and len(tok.strip().split(":")[-1]) >= 16
    assert not os.path.islink(sdir / "agent-token")
    assert (sdir / "agent-token").read_text().endswith("::node:agentpw\n")
    good = base64.b64encode(b"node:agentpw").decode()
    assert request(kenv, "/v1-k3s/readyz", cert=False, headers={"Authorization": "Basic " + good})[0] == 200


def test_kubeconfig_mode_default_and_env(start_server, kenv):
    s = start_server([], env_extra={"K3S_KUBECONFIG_MODE": "640"})
    assert s.up
    assert stat.S_IMODE(os.stat(kenv.kubeconfig).st_mode) == 0o640
    s.stop()
    s = start_server([])  # no mode given: rewritten with 0600
    assert s.up
    assert stat.S_IMODE(os.stat(kenv.kubeconfig).st_mode) == 0o600
    s.stop()
    s = start_server(["--write-kubeconfig-mode=0604"], env_extra={"K3S_KUBECONFIG_MODE": "640"})
    assert s.up
    assert stat.S_IMODE(os.stat(kenv.kubeconfig).st_mode) == 0o604  # CLI beats env


def test_yaml_octal_mode_gotcha(start_server, kenv):
    # like real K3s (yaml.v2): unquoted 0644 is the int 420 -> mode 0420
    kenv.config.write_text("write-kubeconfig-mode: 0644\n")
    s = start_server([])
    assert s.up
    assert stat.S_IMODE(os.stat(kenv.kubeconfig).st_mode) == 0o420


def test_airgap_images_logged(start_server, kenv):
    images = kenv.data / "agent" / "images"
    images.mkdir(parents=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        ti = tarfile.TarInfo("manifest.json")
        ti.size = 2
        tf.addfile(ti, io.BytesIO(b"[]"))
    (images / "good.tar.gz").write_bytes(buf.getvalue())
    (images / "bad.tar").write_bytes(b"this is not a tar archive" * 40)
    s = start_server([])
    assert s.up
    log = s.log()
    assert log.count("Imported images from %s" % (images / "good.tar.gz")) == 1
    assert "Failed to import images from %s" % (images / "bad.tar") in log
    assert "level=error" in log


def test_port_in_use_is_fatal(start_server, kenv):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", kenv.port))
    blocker.listen(1)
    try:
        s = start_server([], wait=False)
        assert s.proc.wait(20) == 1
        assert "address already in use" in s.log()
    finally:
        blocker.close()


def test_kubectl_against_double(start_server, kenv):
    if not os.path.exists("/usr/bin/kubectl"):
        pytest.skip("no /usr/bin/kubectl")
    s = start_server(["--node-name", "kc"])
    assert s.up
    env = dict(kenv.env, KUBECONFIG=str(kenv.kubeconfig))
    r = subprocess.run(["/usr/bin/kubectl", "get", "nodes", "--no-headers"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    if r.returncode != 0 and "not found" in r.stderr.lower():
        pytest.skip("kubectl wrapper unusable: %s" % r.stderr)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:3] == ["kc", "Ready", "control-plane,master"]
    r = subprocess.run(["/usr/bin/kubectl", "get", "--raw", "/readyz"], env=env, stdout=subprocess.PIPE, text=True,
                       timeout=60)
    assert r.stdout.strip() == "ok"


def test_ready_on_abstract_notify_socket(start_server, kenv):
    name = "kubeforge-test-%d-%d" % (os.getpid(), kenv.port)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + name)
    s.settimeout(20)
    try:
        srv = start_server([], env_extra={"NOTIFY_SOCKET": "@" + name})
        assert srv.up
        assert s.recv(64) == b"READY=1\n"
        assert srv.stop() == 0
        assert "Shutting down" in srv.log()
    finally:
        s.close()


def test_no_ready_before_listener(start_server, kenv, tmp_path):
    # a refused start must never send READY=1
    path = str(tmp_path / "n.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(0.5)
    try:
        srv = start_server(["--cluster-dns=bad"], env_extra={"NOTIFY_SOCKET": path}, wait=False)
        assert srv.proc.wait(20) == 1
        with pytest.raises(socket.timeout):
            s.recv(64)
    finally:
        s.close()
