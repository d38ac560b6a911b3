"""Embedded-etcd (HA) simulation: three servers on loopback with free high
ports (peer/client ports via the test-only KUBEFORGE_DOUBLE_ETCD_*_PORT hooks)."""
import http.client
import json
import ssl
import time

import pytest

from k3s_double_helpers import free_port
from test_agent import Proc


class Node:
    def __init__(self, base, i):
        self.i = i
        self.dir = base.tmp / ("s%d" % i)
        self.root = base.tmp / ("host-s%d" % i)  # each server its own host: its own /etc/rancher/node
        self.port = free_port()
        self.peer = free_port()
        self.client = free_port()
        self.proc = None

    def args(self, extra):
        return ["server", "-d", str(self.dir), "-o", str(self.dir / "k3s.yaml"), "--https-listen-port",
                str(self.port), "--bind-address", "127.0.0.1", "--node-ip", "127.0.0.1",
                "--node-name", "srv%d" % self.i] + list(extra)

    def api(self, method, path, body=None):
        tls = self.dir / "server" / "tls"
        ctx = ssl.create_default_context(cafile=str(tls / "server-ca.crt"))
        ctx.check_hostname = False
        ctx.load_cert_chain(str(tls / "client-admin.crt"), str(tls / "client-admin.key"))
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=15)
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"Content-Type": "application/merge-patch+json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, json.loads(data)

    def node_names(self):
        return sorted(n["metadata"]["name"] for n in self.api("GET", "/api/v1/nodes")[1]["items"])


@pytest.fixture
def cluster(k3s_bin, kenv):
    nodes = []

    def start(i, extra, wait=True, binary=None):
        """Start server i (1-based) with the extra args; binary: another build than k3s_bin (an upgrade)."""
        while len(nodes) < i:
            nodes.append(Node(kenv, len(nodes) + 1))
        n = nodes[i - 1]
        env = dict(kenv.env, KUBEFORGE_DOUBLE_ETCD_PEER_PORT=str(n.peer),
                   KUBEFORGE_DOUBLE_ETCD_CLIENT_PORT=str(n.client), KUBEFORGE_DOUBLE_ROOT=str(n.root))
        n.proc = Proc(binary or k3s_bin, n.args(extra), env,
                      kenv.tmp / ("s%d-%d.log" % (i, int(time.time() * 1000))))
        if wait:
            assert n.proc.wait_log("k3s is up and running", timeout=30), n.proc.log()
        return n
    start.nodes = nodes
    yield start
    for n in nodes:
        if n.proc:
            n.proc.stop()


def join_url(n):
    return "https://127.0.0.1:%d" % n.port


def wait_for(fn, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if fn():
            return True
        time.sleep(0.1)
    return fn()


def test_three_servers_quorum_and_resync(cluster):
    s1 = cluster(1, ["--cluster-init", "--token", "hasecret"])
    assert "Starting etcd for new cluster" in s1.proc.log()
    assert (s1.dir / "server" / "db" / "etcd" / "member.json").exists()
    tok = (s1.dir / "server" / "token").read_text().strip()
    s2 = cluster(2, ["--server", join_url(s1), "--token", tok])
    s3 = cluster(3, ["--server", join_url(s2), "--token", "hasecret"])
    assert "Starting etcd to join cluster with members" in s3.proc.log()
    for n in (s2, s3):
        for f in ("server-ca.crt", "client-ca.crt", "request-header-ca.crt", "etcd/peer-ca.crt", "etcd/server-ca.key"):
            assert (n.dir / "server" / "tls" / f).read_bytes() == (s1.dir / "server" / "tls" / f).read_bytes()
        assert (n.dir / "server" / "token").read_text().strip() == tok
    members = json.loads((s1.dir / "server" / "db" / "etcd" / "member.json").read_text())["members"]
    assert len(members) == 3
    for n in (s1, s2, s3):
        assert wait_for(lambda: n.node_names() == ["srv1", "srv2", "srv3"])
    labels = s3.api("GET", "/api/v1/nodes/srv1")[1]["metadata"]["labels"]
    for role in ("control-plane", "etcd", "master"):
        assert labels["node-role.kubernetes.io/" + role] == "true"
    # one member down: reads and writes still work, and replicate
    assert s3.proc.stop() == 0
    st, body = s1.api("PATCH", "/api/v1/nodes/srv1", {"metadata": {"labels": {"while-s3-down": "yes"}}})
    assert st == 200, body
    assert s2.api("GET", "/api/v1/nodes/srv1")[1]["metadata"]["labels"]["while-s3-down"] == "yes"
    # two members down: reads answer, writes fail like an etcd timeout
    assert s2.proc.stop() == 0
    st, body = s1.api("GET", "/api/v1/nodes")
    assert st == 200 and len(body["items"]) == 3
    st, body = s1.api("PATCH", "/api/v1/nodes/srv1", {"metadata": {"labels": {"no": "quorum"}}})
    assert st == 500 and body["message"] == "etcdserver: request timed out"
    # restart s3 (existing etcd data: --server ignored): it re-syncs and quorum is back
    s3 = cluster(3, ["--server", join_url(s2), "--token", "hasecret"])
    assert "Starting etcd for existing cluster member" in s3.proc.log()
    assert s3.api("GET", "/api/v1/nodes/srv1")[1]["metadata"]["labels"]["while-s3-down"] == "yes"
    st, body = s3.api("PATCH", "/api/v1/nodes/srv2", {"metadata": {"labels": {"back": "1"}}})
    assert st == 200, body
    assert s1.api("GET", "/api/v1/nodes/srv2")[1]["metadata"]["labels"]["back"] == "1"


def test_join_wrong_password_is_fatal(cluster):
    s1 = cluster(1, ["--cluster-init", "--token", "right"])
    tok = (s1.dir / "server" / "token").read_text().strip().replace("::server:right", "::server:wrong")
    j = cluster(2, ["--server", join_url(s1), "--token", tok], wait=False)
    assert j.proc.proc.wait(30) == 1
    fatal = [l for l in j.proc.log().splitlines() if "level=fatal" in l]
    assert fatal and "preparing server: " in fatal[-1] and "/v1-k3s/server-bootstrap: 401 Unauthorized" in fatal[-1]
    assert not (j.dir / "server" / "db" / "etcd" / "member").exists()


def test_join_sqlite_server_refused(cluster):
    s1 = cluster(1, ["--token", "pw"])
    j = cluster(2, ["--server", join_url(s1), "--token", "pw"], wait=False)
    assert j.proc.proc.wait(30) == 1
    assert "server-bootstrap: 401 Unauthorized" in j.proc.log()
    assert "but embedded etcd is not enabled" in s1.proc.log()


@pytest.mark.parametrize("extra,field", [
    (["--cluster-cidr", "10.52.0.0/16"], "cluster-cidr"),
    (["--disable", "servicelb"], "disable=servicelb"),
    (["--egress-selector-mode", "pod"], "egress-selector-mode"),
])
def test_critical_mismatch_refused(cluster, extra, field):
    s1 = cluster(1, ["--cluster-init", "--token", "pw"])
    j = cluster(2, ["--server", join_url(s1), "--token", "pw"] + extra, wait=False)
    assert j.proc.proc.wait(30) == 1
    fatal = [l for l in j.proc.log().splitlines() if "level=fatal" in l][-1]
    assert "failed to validate server configuration: critical configuration value mismatch between servers: " + field in fatal
    assert len(s1.node_names()) == 1
