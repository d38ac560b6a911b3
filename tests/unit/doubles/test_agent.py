"""`k3s agent` of the built double: refusals, join verification retry loops,
kubelet credentials, node registration, node authorizer, node grace."""
import json
import os
import socket
import stat
import subprocess
import time

import pytest

from k3s_double_helpers import run
from test_server import request, tls


class Proc:
    def __init__(self, binary, args, env, logpath):
        self.logpath = str(logpath)
        self.proc = subprocess.Popen([str(binary)] + list(args), env=env, stdout=subprocess.DEVNULL,
                                     stderr=open(self.logpath, "w"))

    def log(self):
        with open(self.logpath) as fh:
            return fh.read()

    def wait_log(self, text, timeout=20, count=1):
        end = time.time() + timeout
        while time.time() < end:
            if self.log().count(text) >= count:
                return True
            if self.proc.poll() is not None:
                return self.log().count(text) >= count
            time.sleep(0.05)
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait(5)
        return self.proc.returncode


@pytest.fixture
def agents(k3s_bin, kenv):
    procs = []

    def _start(args, env_extra=None, name=None):
        env = dict(kenv.env)
        env.update(env_extra or {})
        p = Proc(k3s_bin, ["agent", "-d", str(kenv.tmp / (name or "agent%d" % len(procs)))] + list(args), env,
                 kenv.tmp / ("agent-%d.log" % len(procs)))
        procs.append(p)
        return p
    yield _start
    for p in procs:
        p.stop()


@pytest.fixture
def notify(tmp_path):
    path = str(tmp_path / "agent-notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    yield path, s
    s.close()


def url(kenv):
    return "https://127.0.0.1:%d" % kenv.port


def server_token(kenv):
    return (kenv.data / "server" / "token").read_text().strip()


@pytest.mark.parametrize("args,env,cfg,msg", [
    ([], {}, "", "--server is required"),
    (["--server", "https://127.0.0.1:1"], {}, "", "--token is required"),
    (["--server", "http://127.0.0.1:1", "-t", "x"], {}, "", "only https:// URLs are supported, invalid scheme: http://127.0.0.1:1"),
    ([], {"K3S_URL": "https://127.0.0.1:1"}, "", "--token is required"),
    (["--server", "https://127.0.0.1:1", "-t", "x"], {}, "disable: traefik\n", "flag provided but not defined: -disable"),
    (["--server", "https://127.0.0.1:1", "-t", "x"], {}, "flannel-backend: none\n",
     "flag provided but not defined: -flannel-backend"),
])
def test_agent_refusals(k3s_bin, kenv, args, env, cfg, msg):
    kenv.config.write_text(cfg)
    r = run(k3s_bin, ["agent", "-d", str(kenv.tmp / "a")] + args, dict(kenv.env, **env))
    assert r.returncode == 1, r.stderr
    fatal = [l for l in r.stderr.splitlines() if "level=fatal" in l]
    assert fatal and msg in fatal[-1], r.stderr
    if "not defined" in msg:
        assert "Incorrect Usage: " + msg in r.stdout


def test_agent_token_file_env_is_used(k3s_bin, kenv, start_server, agents):
    s = start_server(["--token", "tf-secret"])
    assert s.up
    tf = kenv.tmp / "token"
    tf.write_text("tf-secret\n")
    tf.chmod(0o600)
    a = agents(["--server", url(kenv), "--node-name", "tf"], env_extra={"K3S_TOKEN_FILE": str(tf)})
    assert a.wait_log("k3s agent is up and running"), a.log()


def _no_ready(sock, seconds):
    sock.settimeout(seconds)
    with pytest.raises(socket.timeout):
        sock.recv(64)


def test_ca_hash_mismatch_retries_without_ready(start_server, kenv, agents, notify):
    s = start_server(["--token", "pw"])
    assert s.up
    path, sock = notify
    bad = "K10" + "ab" * 32 + "::node:pw"
    a = agents(["--server", url(kenv), "--token", bad], env_extra={"NOTIFY_SOCKET": path})
    assert a.wait_log("Failed to validate connection to cluster at %s" % url(kenv), count=2, timeout=10), a.log()
    assert a.proc.poll() is None
    real = server_token(kenv)[3:67]
    assert ("token CA hash does not match the Cluster CA certificate hash: %s != %s" % ("ab" * 32, real)) in a.log()
    _no_ready(sock, 0.5)
    assert a.stop() == 0
    assert not (kenv.tmp / "agent0" / "agent" / "client-kubelet.crt").exists()


def test_wrong_password_retries(start_server, kenv, agents, notify):
    s = start_server(["--token", "right"])
    assert s.up
    path, sock = notify
    tok = server_token(kenv).replace("::server:right", "::node:wrong")
    a = agents(["--server", url(kenv), "--token", tok], env_extra={"NOTIFY_SOCKET": path})
    assert a.wait_log("401 Unauthorized", count=2, timeout=10), a.log()
    assert "Failed to validate connection to cluster at %s: " % url(kenv) in a.log()
    assert a.proc.poll() is None
    _no_ready(sock, 0.3)
    assert a.stop() == 0


def test_join_register_and_node_authorizer(start_server, kenv, agents, notify):
    s = start_server(["--token", "srvpw", "--agent-token", "agentpw", "--node-name", "cp1"])
    assert s.up
    path, sock = notify
    atok = (kenv.data / "server" / "agent-token").read_text().strip()
    assert atok.endswith("::node:agentpw")
    a = agents(["--server", url(kenv), "--token", atok, "--node-name", "Worker-1", "--node-ip", "10.11.12.13",
                "--node-label", "tier=edge", "--node-taint", "dedicated=edge:NoSchedule"],
               env_extra={"NOTIFY_SOCKET": path}, name="w1")
    sock.settimeout(15)
    assert sock.recv(64) == b"READY=1\n"
    assert a.wait_log("k3s agent is up and running"), a.log()
    adir = kenv.tmp / "w1" / "agent"
    assert stat.S_IMODE(os.stat(adir / "client-kubelet.key").st_mode) == 0o600
    assert (adir / "server-ca.crt").read_bytes() == (kenv.data / "server" / "tls" / "server-ca.crt").read_bytes()
    subj = subprocess.run(["openssl", "x509", "-in", str(adir / "client-kubelet.crt"), "-noout", "-subject"],
                          stdout=subprocess.PIPE, text=True, check=True).stdout
    assert "system:node:worker-1" in subj and "system:nodes" in subj
    assert "client-kubelet.crt" in (adir / "kubelet.kubeconfig").read_text()
    st, _, body = request(kenv, "/api/v1/nodes/worker-1")
    assert st == 200
    node = json.loads(body)
    labels = node["metadata"]["labels"]
    assert labels["tier"] == "edge" and labels["node.kubernetes.io/instance-type"] == "k3s"
    assert labels["kubernetes.io/hostname"] == "worker-1"
    assert not [k for k in labels if k.startswith("node-role.kubernetes.io/")]
    assert node["spec"]["taints"] == [{"key": "dedicated", "value": "edge", "effect": "NoSchedule"}]
    assert {"type": "InternalIP", "address": "10.11.12.13"} in node["status"]["addresses"]
    assert [c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"] == ["True"]
    # node authorizer: the kubelet cert may patch its own node only
    import ssl
    import http.client
    ctx = ssl.create_default_context(cafile=tls(kenv, "server-ca.crt"))
    ctx.load_cert_chain(str(adir / "client-kubelet.crt"), str(adir / "client-kubelet.key"))

    def as_node(method, path, body):
        c = http.client.HTTPSConnection("127.0.0.1", kenv.port, context=ctx, timeout=10)
        c.request(method, path, body=json.dumps(body), headers={"Content-Type": "application/merge-patch+json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, json.loads(data)
    st, b = as_node("PATCH", "/api/v1/nodes/cp1", {"metadata": {"labels": {"evil": "1"}}})
    assert st == 403 and b["reason"] == "Forbidden"
    assert 'node "worker-1" is not allowed to modify node "cp1"' in b["message"]
    st, b = as_node("POST", "/api/v1/nodes", {"metadata": {"name": "other"}})
    assert st == 403
    st, b = as_node("PATCH", "/api/v1/nodes/worker-1", {"metadata": {"labels": {"own": "1"}}})
    assert st == 200 and b["metadata"]["labels"]["own"] == "1"
    # the server token works for agents too; labels only at first registration
    assert a.stop() == 0
    b2 = agents(["--server", url(kenv), "--token", server_token(kenv), "--node-name", "worker-1",
                 "--node-label", "late=1"], name="w1")
    assert b2.wait_log("k3s agent is up and running"), b2.log()
    assert "already registered" in b2.log()
    labels = json.loads(request(kenv, "/api/v1/nodes/worker-1")[2])["metadata"]["labels"]
    assert "late" not in labels and labels["tier"] == "edge"
    # restart without token: existing kubelet cert is enough
    assert b2.stop() == 0
    b3 = agents(["--server", url(kenv), "--node-name", "worker-1"], name="w1")
    assert b3.wait_log("k3s agent is up and running"), b3.log()


def test_node_becomes_unknown_after_grace(start_server, kenv, agents):
    s = start_server(["--token", "pw"], env_extra={"KUBEFORGE_DOUBLE_NODE_GRACE": "2"})
    assert s.up
    a = agents(["--server", url(kenv), "--token", "pw", "--node-name", "w2"])
    assert a.wait_log("k3s agent is up and running"), a.log()
    node = json.loads(request(kenv, "/api/v1/nodes/w2")[2])
    assert [c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"] == ["True"]
    assert a.stop() == 0
    time.sleep(3)
    node = json.loads(request(kenv, "/api/v1/nodes/w2")[2])
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"][0]
    assert ready["status"] == "Unknown" and ready["reason"] == "NodeStatusUnknown"
    assert {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}.items() <= \
        [t for t in node["spec"]["taints"] if t["effect"] == "NoExecute"][0].items()
    t = json.loads(request(kenv, "/api/v1/nodes", headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})[2])
    assert {r["cells"][0]: r["cells"][1] for r in t["rows"]}["w2"] == "Unknown"
