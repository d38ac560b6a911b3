"""Node passwords in the K3s double (K3s pkg/nodepassword, pkg/agent/config/config.go, pkg/cluster/managed.go):
the agent's /etc/rancher/node/password (under the KUBEFORGE_DOUBLE_ROOT test hook, one root per simulated
host), the Secret kube-system/<node>.node-password.k3s the supervisor checks it against, the 403 and the agent's
retries, the Secret going with its Node, the server's own node verified locally, and a restore onto a new host
dropping the restoring server's own Secret."""
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess

import pytest

from k3s_double_helpers import run
from test_agent import agents, notify  # noqa: F401  (fixtures)
from test_ha import Node, cluster, join_url  # noqa: F401  (fixture)
from test_k3s_double_snapshot import SAVED, snapshot
from test_server import request

TOKEN = "snapsecret"  # test_k3s_double_snapshot's snapshot() passes this token
REJECTED = ("Node password rejected, duplicate hostname or contents of '/etc/rancher/node/password' may not match "
            "server node-passwd entry, try enabling a unique node name with the --with-node-id flag")
HASH = re.compile(r"^\$1:([0-9a-f]{16}):15:8:1:([A-Za-z0-9+/]{86})$")


def url(kenv):
    return "https://127.0.0.1:%d" % kenv.port


def password_file(root):
    return root / "etc" / "rancher" / "node" / "password"


def password(root):
    return password_file(root).read_text().strip()


def secret(get, node):
    """The node-password Secret of ``node`` through ``get(path) -> (status, body dict)``, or None."""
    st, body = get("/api/v1/namespaces/kube-system/secrets/%s.node-password.k3s" % node)
    return body if st == 200 else None


def kget(kenv):
    def get(path):
        st, _, data = request(kenv, path)
        return st, json.loads(data)
    return get


def hgets(n):
    return lambda path: n.api("GET", path)


def matches(sec, pw):
    """K3s's scrypt hash format, checked here with the KDF itself (not the double's code)."""
    m = HASH.match(base64.b64decode(sec["data"]["hash"]).decode())
    assert m, sec["data"]["hash"]
    salt, enc = bytes.fromhex(m.group(1)), m.group(2)
    dk = base64.b64decode(enc + "=" * (-len(enc) % 4))
    got = hashlib.scrypt(pw.encode(), salt=salt, n=1 << 15, r=8, p=1, dklen=64, maxmem=64 * 1024 * 1024)
    return hmac.compare_digest(dk, got)


def events(get, node, reason):
    st, body = get("/api/v1/namespaces/default/events")
    assert st == 200
    return [e for e in body["items"] if e["involvedObject"] == {"kind": "Node", "name": node, "uid": node}
            and e["reason"] == reason]


class NewHost(Node):
    """Server i of the cluster fixture (its own data dir, ports and root) under another server's node name."""

    def __init__(self, base, i, name):
        Node.__init__(self, base, i)
        self.name = name

    def args(self, extra):
        out = Node.args(self, [])
        out[out.index("--node-name") + 1] = self.name
        return out + list(extra)


def agent_args(kenv, name, *extra):
    return ["--server", url(kenv), "--token", "pw", "--node-name", name, "--node-ip", "127.0.0.1"] + list(extra)


def test_agent_first_join_creates_the_secret_and_a_restart_keeps_the_password(start_server, kenv, agents):  # noqa: F811
    s = start_server(["--token", "pw", "--node-name", "cp1"])
    assert s.up
    host = kenv.tmp / "host-w1"
    a = agents(agent_args(kenv, "W1"), env_extra={"KUBEFORGE_DOUBLE_ROOT": str(host)}, name="w1")
    assert a.wait_log("k3s agent is up and running"), a.log()
    # the password file: 16 random bytes in hex and a newline, 0600, in a 0755 directory
    pf = password_file(host)
    assert re.fullmatch(r"[0-9a-f]{32}\n", pf.read_text())
    assert stat.S_IMODE(os.stat(pf).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(pf.parent).st_mode) == 0o755
    # the Secret (lower-case node name), immutable, typed, a hash of that password only
    sec = secret(kget(kenv), "w1")
    assert sec["type"] == "k3s.cattle.io/node-password" and sec["immutable"] is True
    assert list(sec["data"]) == ["hash"]
    assert matches(sec, password(host)) and not matches(sec, "0" * 32)
    # both kubelet certificates were asked for with it: the serving one for the node IP
    adir = kenv.tmp / "w1" / "agent"
    out = subprocess.run(["openssl", "x509", "-in", str(adir / "serving-kubelet.crt"), "-noout", "-subject", "-ext",
                          "subjectAltName"], stdout=subprocess.PIPE, text=True, check=True).stdout
    assert "CN = w1" in out or "CN=w1" in out
    assert "DNS:w1" in out and "DNS:localhost" in out and "IP Address:127.0.0.1" in out
    assert stat.S_IMODE(os.stat(adir / "serving-kubelet.key").st_mode) == 0o600
    # the server's own node: its own password file, verified locally, its Secret ensured
    assert "Password verified locally for node cp1" in s.log()
    assert matches(secret(kget(kenv), "cp1"), password(kenv.root))
    assert events(kget(kenv), "cp1", "NodePasswordValidationComplete")
    # an agent restart keeps its password, and the Secret stays as it was
    before = pf.read_text()
    assert a.stop() == 0
    a = agents(agent_args(kenv, "w1"), env_extra={"KUBEFORGE_DOUBLE_ROOT": str(host)}, name="w1")
    assert a.wait_log("k3s agent is up and running"), a.log()
    assert "already registered" in a.log()
    assert pf.read_text() == before
    again = secret(kget(kenv), "w1")
    assert again["metadata"]["resourceVersion"] == sec["metadata"]["resourceVersion"]
    # the same password also rejoins from a wiped data dir (a host reset that keeps /etc/rancher/node)
    assert a.stop() == 0
    shutil.rmtree(kenv.tmp / "w1")
    a = agents(agent_args(kenv, "w1"), env_extra={"KUBEFORGE_DOUBLE_ROOT": str(host)}, name="w1")
    assert a.wait_log("k3s agent is up and running"), a.log()
    assert REJECTED not in a.log()


def test_a_new_password_under_an_existing_secret_is_rejected_until_the_node_is_deleted(start_server, kenv, agents,  # noqa: F811
                                                                                       notify):  # noqa: F811
    s = start_server(["--token", "pw", "--node-name", "cp1"])
    assert s.up
    host = kenv.tmp / "host-w1"
    env = {"KUBEFORGE_DOUBLE_ROOT": str(host)}
    a = agents(agent_args(kenv, "w1"), env_extra=env, name="w1")
    assert a.wait_log("k3s agent is up and running"), a.log()
    old = password(host)
    assert a.stop() == 0
    # the node is reset without deleting its Node: the password file and the data dir go, the Secret stays
    password_file(host).unlink()
    shutil.rmtree(kenv.tmp / "w1")
    path, sock = notify
    a = agents(agent_args(kenv, "w1"), env_extra=dict(env, NOTIFY_SOCKET=path), name="w1")
    assert a.wait_log(REJECTED, count=2, timeout=15), a.log()
    assert a.proc.poll() is None
    serving = kenv.tmp / "w1" / "agent" / "serving-kubelet.crt"
    assert "level=info msg=\"Waiting to retrieve agent configuration; server is not ready: %s: %s\"" % (
        serving, REJECTED) in a.log()
    new = password(host)
    assert new != old
    assert not (kenv.tmp / "w1" / "agent" / "client-kubelet.crt").exists()
    sock.settimeout(0.3)
    with pytest.raises(socket.timeout):
        sock.recv(64)
    assert re.search(r'level=error msg="Sending HTTP/1.1 403 response to 127\.0\.0\.1:\d+: unable to verify password '
                     r'for node w1: hash does not match"', s.log()), s.log()
    sec = secret(kget(kenv), "w1")
    assert matches(sec, old) and not matches(sec, new)
    # deleting the Node deletes its Secret: the next retry gets in with the new password
    st, _, _ = request(kenv, "/api/v1/nodes/w1", method="DELETE")
    assert st == 200
    assert secret(kget(kenv), "w1") is None
    sock.settimeout(20)
    assert sock.recv(64) == b"READY=1\n"
    assert a.wait_log("Successfully registered node w1"), a.log()
    assert matches(secret(kget(kenv), "w1"), new)


def test_the_servers_own_node_is_never_rejected(start_server, kenv, agents):  # noqa: F811
    s = start_server(["--token", "pw", "--node-name", "cp1"])
    assert s.up
    first = password(kenv.root)
    assert matches(secret(kget(kenv), "cp1"), first)
    assert s.stop() == 0
    # another password for the server's own node: its Secret still holds the first one
    password_file(kenv.root).write_text("f" * 32 + "\n")
    s = start_server(["--token", "pw", "--node-name", "cp1"])
    assert s.up, s.log()
    assert "Password verified locally for node cp1" in s.log()
    st, _, body = request(kenv, "/api/v1/nodes/cp1")
    assert [c["status"] for c in json.loads(body)["status"]["conditions"] if c["type"] == "Ready"] == ["True"]
    sec = secret(kget(kenv), "cp1")
    assert matches(sec, first) and not matches(sec, "f" * 32)  # immutable: never replaced
    failed = events(kget(kenv), "cp1", "NodePasswordValidationFailed")
    assert failed and failed[0]["type"] == "Warning" and failed[0]["source"] == {"component": "k3s-supervisor"}
    assert failed[0]["message"] == ("Deferred node password secret validation failed: unable to verify password "
                                    "for node cp1: hash does not match")
    # an agent with the server's name (a duplicate hostname) is checked against the Secret like any other
    a = agents(agent_args(kenv, "cp1"), env_extra={"KUBEFORGE_DOUBLE_ROOT": str(kenv.tmp / "host-dup")}, name="dup")
    assert a.wait_log(REJECTED, timeout=15), a.log()


def test_with_node_id_and_the_request_headers(start_server, kenv, agents):  # noqa: F811
    s = start_server(["--token", "pw", "--node-name", "cp1"])
    assert s.up
    host = kenv.tmp / "host-w1"
    a = agents(agent_args(kenv, "w1", "--with-node-id"), env_extra={"KUBEFORGE_DOUBLE_ROOT": str(host)}, name="w1")
    assert a.wait_log("k3s agent is up and running"), a.log()
    idf = host / "etc" / "rancher" / "node" / "id"
    assert re.fullmatch(r"[0-9a-f]{8}\n", idf.read_text())
    assert stat.S_IMODE(os.stat(idf).st_mode) == 0o644
    name = "w1-" + idf.read_text().strip()
    assert matches(secret(kget(kenv), name), password(host))
    assert secret(kget(kenv), "w1") is None
    # the supervisor needs both headers (400 Bad Request, K3s's wording)
    ctx = ssl.create_default_context(cafile=str(kenv.data / "server" / "tls" / "server-ca.crt"))
    ctx.check_hostname = False
    auth = "Basic " + base64.b64encode(b"node:pw").decode()
    for headers, msg in (({}, "node name not set"), ({"K3s-Node-Name": "x"}, "node password not set")):
        c = http.client.HTTPSConnection("127.0.0.1", kenv.port, context=ctx, timeout=10)
        c.request("GET", "/v1-k3s/client-kubelet.crt", headers=dict(headers, Authorization=auth))
        r = c.getresponse()
        body = json.loads(r.read())
        c.close()
        assert r.status == 400 and body["reason"] == "BadRequest" and body["message"] == msg
    assert secret(kget(kenv), "x") is None


def test_a_restore_onto_a_new_host_deletes_the_restoring_servers_own_secret(k3s_bin, kenv, cluster,  # noqa: F811
                                                                            tmp_path):
    # cluster A: srv1 on its host; a snapshot copied off the host, then the host is gone
    a = cluster(1, ["--cluster-init", "--token", TOKEN])
    a_pw = password(a.root)
    assert matches(secret(hgets(a), "srv1"), a_pw)
    name = SAVED.search(snapshot(k3s_bin, kenv, a, "save").stderr).group(1)
    snap = tmp_path / "offsite" / name
    snap.parent.mkdir()
    shutil.copyfile(a.dir / "server" / "db" / "snapshots" / name, snap)
    token = (a.dir / "server" / "token").read_text().strip()
    assert a.proc.stop() == 0
    # a new host with the same node name: its own data dir and /etc/rancher/node
    b = NewHost(kenv, 2, "srv1")
    cluster.nodes.append(b)
    r = run(k3s_bin, b.args(["--cluster-init", "--cluster-reset", "--cluster-reset-restore-path", str(snap),
                             "--token", token]), kenv.env)
    assert r.returncode == 0, r.stderr
    assert (b.dir / "server" / "db" / "reset-flag").exists()
    b = cluster(2, ["--cluster-init", "--token", TOKEN])
    assert not (b.dir / "server" / "db" / "reset-flag").exists()
    b_pw = password(b.root)
    assert b_pw != a_pw
    # the restored srv1 Secret (A's password) was deleted, the one ensured then holds B's password
    sec = secret(hgets(b), "srv1")
    assert matches(sec, b_pw) and not matches(sec, a_pw)
    assert not events(hgets(b), "srv1", "NodePasswordValidationFailed")
    st, node = b.api("GET", "/api/v1/nodes/srv1")
    assert st == 200 and [c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"] == ["True"]
    # a plain restart keeps it (no reset-flag, nothing deleted)
    assert b.proc.stop() == 0
    b = cluster(2, ["--cluster-init", "--token", TOKEN])
    assert secret(hgets(b), "srv1")["metadata"]["uid"] == sec["metadata"]["uid"]
    # a second server joining the restored cluster under a new name gets its own Secret
    c = cluster(3, ["--server", join_url(b), "--token", token])
    assert matches(secret(hgets(b), "srv3"), password(c.root))


# -- nodepassword.py in-process (the hash and the Secret, without a server) --------------------------------------

def test_hash_and_secret_functions(tmp_path):
    from k3s import nodepassword as np
    from k3s.state import Store

    h = np.create_hash("secret")
    assert HASH.match(h)
    assert np.verify_hash(h, "secret") is None
    assert np.verify_hash(h, "other") == "hash does not match"
    assert np.verify_hash("$2" + h[2:], "secret") == "hash version 2 does not match package version 1"
    assert np.verify_hash("garbage", "secret") == "input does not match format"
    assert np.create_hash("secret") != h  # a new salt every time
    assert np.secret_name("Node-A") == "node-a.node-password.k3s"
    store = Store(str(tmp_path / "db"))
    try:
        assert np.ensure(store, "n1", "pw1") == "created"
        assert np.ensure(store, "n1", "pw1") == "verified"
        with pytest.raises(np.VerifyFailed) as e:
            np.ensure(store, "n1", "pw2")
        assert str(e.value) == "unable to verify password for node n1: hash does not match"
        assert matches(store.get("secrets", "n1.node-password.k3s", "kube-system"), "pw1")
        assert np.delete(store, "n1") and not np.delete(store, "n1")
        assert np.ensure(store, "n1", "pw2") == "created"
    finally:
        store.close()
    env = {"KUBEFORGE_DOUBLE_ROOT": str(tmp_path / "root")}
    pw = np.ensure_password(env)
    assert np.ensure_password(env) == pw and password(tmp_path / "root") == pw
    assert np.ensure_node_id(env) == np.ensure_node_id(env)
    assert np.host_path(np.PASSWORD_FILE, {}) == "/etc/rancher/node/password"
