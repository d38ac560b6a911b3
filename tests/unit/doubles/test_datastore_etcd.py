"""External etcd datastore of the K3s double (etcdv3.py, kine.EtcdStore,
kine.open_store) against a REAL etcd: /usr/bin/etcd from the Debian package
etcd-server (tests/testbed/setup.sh installs it on the controller), started
in temp dirs on free loopback ports, plain HTTP and TLS with client
certificates (made with the openssl CLI).  Skipped when the binary is missing."""
import os
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

from k3s_double_helpers import free_port
from test_datastore import dsservers  # noqa: F401  (fixture)
from k3s import etcdv3, kine, klog  # noqa: E402  (tests/doubles is on sys.path)

ETCD = "/usr/bin/etcd"

pytestmark = pytest.mark.skipif(
    not os.access(ETCD, os.X_OK) or not shutil.which("openssl"),
    reason="needs %s (Debian package etcd-server, installed by tests/testbed/setup.sh) and openssl" % ETCD)


# -- fixtures ------------------------------------------------------------------------

def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_ca(d, name):
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", name + ".key", "-out", name + ".crt", "-days", "2", "-subj", "/CN=kubeforge-test-" + name,
             cwd=d)
    return os.path.join(d, name + ".crt")


def make_cert(d, ca, name, eku, san=None):
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as fh:
        fh.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                 "extendedKeyUsage=%s\n" % eku)
        if san:
            fh.write("subjectAltName=%s\n" % san)
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name, cwd=d)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
             "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "2", "-extfile", ext,
             "-out", name + ".crt", cwd=d)
    return os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")


class Etcd:
    """One etcd member process."""

    def __init__(self, base, name, tls=None):
        self.name = name
        self.dir = os.path.join(base, name)
        os.makedirs(self.dir)
        self.client_port, self.peer_port = free_port(), free_port()
        self.tls = tls
        scheme = "https" if tls else "http"
        self.url = "%s://127.0.0.1:%d" % (scheme, self.client_port)
        self.peer_url = "http://127.0.0.1:%d" % self.peer_port
        self.proc = None

    def start(self, cluster, token):
        args = [ETCD, "--name", self.name, "--data-dir", os.path.join(self.dir, "data"),
                "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                "--listen-peer-urls", self.peer_url, "--initial-advertise-peer-urls", self.peer_url,
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", token]
        if self.tls:
            args += ["--cert-file", self.tls["cert"], "--key-file", self.tls["key"],
                     "--client-cert-auth", "--trusted-ca-file", self.tls["ca"]]
        self.log = os.path.join(self.dir, "etcd.log")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))

    def wait_ready(self, client_tls=None, timeout=30):
        t = client_tls or {}
        c = etcdv3.Client(self.url, cafile=t.get("cafile", ""), certfile=t.get("certfile", ""),
                          keyfile=t.get("keyfile", ""), connect_timeout=1, timeout=3)
        end = time.time() + timeout
        try:
            while time.time() < end:
                if self.proc.poll() is not None:
                    break
                try:
                    c.range("/", None, 0, True)  # linearizable: the cluster has a leader
                    return
                except etcdv3.EtcdError:
                    time.sleep(0.2)
        finally:
            c.close()
        with open(self.log) as fh:
            raise AssertionError("etcd %s did not become ready:\n%s" % (self.name, fh.read()[-3000:]))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_cluster(base, n, tls=None, client_tls=None):
    members = [Etcd(base, "m%d" % i, tls) for i in range(n)]
    cluster = ",".join("%s=%s" % (m.name, m.peer_url) for m in members)
    token = "kf-test-" + os.urandom(4).hex()
    for m in members:
        m.start(cluster, token)
    try:
        for m in members:
            m.wait_ready(client_tls)
    except BaseException:
        for m in members:
            m.stop()
        raise
    return members


@pytest.fixture(scope="module")
def etcd_base():
    base = tempfile.mkdtemp(prefix="kf-etcd-")
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def etcd_plain_member(etcd_base):
    (m,) = start_cluster(os.path.join(etcd_base, "plain"), 1)
    yield m
    m.stop()


def _wipe(url, tls=None):
    t = tls or {}
    c = etcdv3.Client(url, cafile=t.get("cafile", ""), certfile=t.get("certfile", ""), keyfile=t.get("keyfile", ""))
    c.delete_range(b"\0", b"\0")  # every key
    c.close()


@pytest.fixture
def etcd_plain(etcd_plain_member):
    """URL of a single plain-HTTP etcd, emptied for this test."""
    _wipe(etcd_plain_member.url)
    return etcd_plain_member.url


@pytest.fixture(scope="module")
def pki(etcd_base):
    d = os.path.join(etcd_base, "pki")
    os.makedirs(d)
    make_ca(d, "ca")
    make_ca(d, "otherca")
    srv = make_cert(d, os.path.join(d, "ca"), "server", "serverAuth,clientAuth", "IP:127.0.0.1")
    cli = make_cert(d, os.path.join(d, "ca"), "client", "clientAuth")
    foreign = make_cert(d, os.path.join(d, "otherca"), "foreign", "clientAuth")
    return {"dir": d, "ca": os.path.join(d, "ca.crt"), "otherca": os.path.join(d, "otherca.crt"),
            "server": srv, "client": cli, "foreign": foreign}


@pytest.fixture(scope="module")
def etcd_tls_member(etcd_base, pki):
    tls = {"ca": pki["ca"], "cert": pki["server"][0], "key": pki["server"][1]}
    (m,) = start_cluster(os.path.join(etcd_base, "tls"), 1, tls,
                         {"cafile": pki["ca"], "certfile": pki["client"][0], "keyfile": pki["client"][1]})
    yield m
    m.stop()


@pytest.fixture
def etcd_tls(etcd_tls_member, pki):
    """(URL, good client tls dict) of a TLS etcd with client-cert-auth, emptied."""
    good = {"cafile": pki["ca"], "certfile": pki["client"][0], "keyfile": pki["client"][1]}
    _wipe(etcd_tls_member.url, good)
    return etcd_tls_member.url, good


@pytest.fixture
def etcd_cluster3(etcd_base):
    base = tempfile.mkdtemp(prefix="c3-", dir=etcd_base)
    members = start_cluster(base, 3)
    yield members
    for m in members:
        m.stop()


def fatal_of(fn):
    """Run fn, expect klog.fatal; -> seconds taken."""
    t0 = time.time()
    with pytest.raises(klog.Fatal) as ei:
        fn()
    assert ei.value.code == 1
    return time.time() - t0


# -- client ---------------------------------------------------------------------------

def test_prefix_end_and_endpoint_parsing():
    assert etcdv3.prefix_end(b"/registry/") == b"/registry0"
    assert etcdv3.prefix_end(b"a\xff\xff") == b"b"
    assert etcdv3.prefix_end(b"\xff") == b"\0"
    eps = etcdv3.parse_endpoints(" https://e1:2379, http://[::1]:12379,https://e3")
    assert [(e.tls, e.host, e.port) for e in eps] == [(True, "e1", 2379), (False, "::1", 12379), (True, "e3", 2379)]
    for bad in ("ftp://x:1", "https://:1", "https://h:port", ","):
        with pytest.raises(ValueError):
            etcdv3.parse_endpoints(bad)


def test_client_raw_api(etcd_plain):
    c = etcdv3.Client(etcd_plain)
    rev1 = c.put("/t/a", b"\x00\xffbin")
    rev2 = c.put("/t/b", "")
    assert rev2 == rev1 + 1
    kv = c.get("/t/a")
    assert kv["value"] == b"\x00\xffbin" and kv["create_revision"] == kv["mod_revision"] == rev1
    assert kv["version"] == 1 and c.get("/t/b")["value"] == b"" and c.get("/t/missing") is None
    c.put("/tz", b"outside")
    head, kvs, count = c.range("/t/", etcdv3.prefix_end("/t/"))
    assert [k["key"] for k in kvs] == [b"/t/a", b"/t/b"] and count == 2 and head == rev2 + 1
    # txn: create-if-absent fails on an existing key, then succeeds on a new one
    ok, _, resp = c.txn([etcdv3.cmp("/t/a", "CREATE", 0)], [etcdv3.op_put("/t/a", b"x")], [etcdv3.op_get("/t/a")])
    assert not ok and etcdv3.unb64(resp[0]["response_range"]["kvs"][0]["value"]) == b"\x00\xffbin"
    ok, rev, _ = c.txn([etcdv3.cmp("/t/c", "CREATE", 0)], [etcdv3.op_put("/t/c", b"c")])
    assert ok and c.get("/t/c")["mod_revision"] == rev
    ok, _, _ = c.txn([etcdv3.cmp("/t/c", "MOD", rev - 1)], [etcdv3.op_delete("/t/c")])
    assert not ok and c.get("/t/c") is not None
    ok, _, _ = c.txn([etcdv3.cmp("/t/c", "VALUE", b"c")], [etcdv3.op_delete("/t/c")])
    assert ok and c.get("/t/c") is None
    assert c.delete_range("/t/", etcdv3.prefix_end("/t/"))[0] == 2
    assert c.delete_range("/t/a")[0] == 0
    assert c.status()["version"].startswith("3.")
    with pytest.raises(etcdv3.EtcdError) as ei:  # an error answered by etcd itself (gRPC InvalidArgument)
        c.range("")
    assert ei.value.code == 3 and not isinstance(ei.value, etcdv3.EtcdUnavailable)
    c.close()


# -- store ----------------------------------------------------------------------------

def test_store_round_trip_and_resource_versions(etcd_plain):
    st = kine.open_store(etcd_plain, {}, {})
    raw = etcdv3.Client(etcd_plain)
    node = st.create("nodes", {"metadata": {"name": "n1"}, "spec": {}})
    rv1 = int(node["metadata"]["resourceVersion"])
    assert raw.get("/registry/minions/n1")["mod_revision"] == rv1 and st.current_rv() == rv1
    got = st.get("nodes", "n1")
    assert got["metadata"]["uid"] == node["metadata"]["uid"] and got["metadata"]["resourceVersion"] == str(rv1)
    assert b"resourceVersion" not in raw.get("/registry/minions/n1")["value"]
    got["spec"]["x"] = 1
    st.update("nodes", got)
    rv2 = int(got["metadata"]["resourceVersion"])
    assert rv2 > rv1 and st.get("nodes", "n1")["spec"] == {"x": 1}
    assert st.get("nodes", "n1")["metadata"]["resourceVersion"] == str(rv2) == str(st.current_rv())
    st.create("pods", {"metadata": {"name": "p"}}, "default")
    st.create("pods", {"metadata": {"name": "p"}}, "kube-system")
    st.create("pods", {"metadata": {"name": "q"}}, "default")
    assert [p["metadata"]["name"] for p in st.list("pods")] == ["p", "q", "p"]  # sorted by key
    assert [p["metadata"]["name"] for p in st.list("pods", "default")] == ["p", "q"]
    assert st.list("services") == []
    assert st.delete("nodes", "n1") and st.get("nodes", "n1") is None and not st.delete("nodes", "n1")
    assert st.current_rv() > rv2
    again = st.create("nodes", {"metadata": {"name": "n1"}})  # re-create after delete
    assert int(again["metadata"]["resourceVersion"]) == raw.get("/registry/minions/n1")["create_revision"]
    with pytest.raises(KeyError):
        st.update("nodes", {"metadata": {"name": "ghost"}})
    assert st.get_meta("k", "dflt") == "dflt"
    st.set_meta("k", 42)
    st.set_meta("k", 43)
    assert st.get_meta("k") == "43" and raw.get("/kubeforge/meta/k")["version"] == 2
    rows = st.prefix("/kubeforge/")
    assert list(rows) == ["/kubeforge/meta/k"] and rows["/kubeforge/meta/k"][1:] == (False, b"43")
    assert st.latest("/nope") is None
    raw.close()
    st.close()


def test_put_new_conflict_and_concurrent_writers(etcd_plain):
    a = kine.open_store(etcd_plain, {}, {})
    b = kine.open_store(etcd_plain, {}, {})
    a.put_new("/bootstrap/x", b"one")
    with pytest.raises(kine.Conflict):
        b.put_new("/bootstrap/x", b"two")
    assert a.latest("/bootstrap/x")[2] == b"one"
    # concurrent creates of one key: exactly one wins
    results = []

    def create(st, i):
        try:
            st.create("nodes", {"metadata": {"name": "race"}, "spec": {"by": i}})
            results.append(i)
        except kine.Conflict:
            pass
    ts = [threading.Thread(target=create, args=(s, i)) for i, s in enumerate([a, b] * 4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(results) == 1 and a.get("nodes", "race")["spec"] == {"by": results[0]}
    # concurrent read-modify-write of one key through two stores: every write lands (txn on mod_revision + retry)
    a.set_meta("counter", 0)

    def bump(st):
        for _ in range(15):
            st.put("/kubeforge/meta/counter", str(int(st.get_meta("counter")) + 1).encode())
    ts = [threading.Thread(target=bump, args=(s,)) for s in (a, b, a, b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    raw = etcdv3.Client(etcd_plain)
    assert raw.get("/kubeforge/meta/counter")["version"] == 61  # 1 set + 60 puts, none lost
    raw.close()
    a.close()
    b.close()


def test_two_stores_see_each_others_writes(etcd_plain):
    a = kine.open_store(etcd_plain, {}, {})
    b = kine.open_store(etcd_plain, {}, {})
    a.create("nodes", {"metadata": {"name": "srv1"}})
    b.create("nodes", {"metadata": {"name": "srv2"}})
    assert [n["metadata"]["name"] for n in a.list("nodes")] == ["srv1", "srv2"]
    assert [n["metadata"]["name"] for n in b.list("nodes")] == ["srv1", "srv2"]
    n = b.get("nodes", "srv1")
    n["status"] = {"phase": "x"}
    b.update("nodes", n)
    assert a.get("nodes", "srv1")["status"] == {"phase": "x"}
    assert a.current_rv() == b.current_rv()
    a.close()
    b.close()


def test_failover_when_first_endpoint_is_dead(etcd_plain, capsys):
    dead = "http://127.0.0.1:%d" % free_port()
    st = kine.open_store(dead + "," + etcd_plain, {}, {})
    err = capsys.readouterr().err
    assert "etcd endpoint failed, switching to %s" % etcd_plain in err
    assert "%s: dial tcp 127.0.0.1:%s: connect: connection refused" % (dead, dead.rsplit(":", 1)[1]) in err
    st.create("nodes", {"metadata": {"name": "n1"}})
    assert st.get("nodes", "n1") is not None
    st.close()


def test_failover_when_a_member_of_three_stops(etcd_cluster3, capsys):
    m0, m1, m2 = etcd_cluster3
    ds = ",".join(m.url for m in etcd_cluster3)
    st = kine.open_store(ds, {}, {})
    st.create("nodes", {"metadata": {"name": "before"}})
    assert st.client.current == 0
    m0.stop()
    st.create("nodes", {"metadata": {"name": "after"}})  # fails over (after the pooled connection is refused)
    assert st.client.current == 1
    assert "etcd endpoint failed, switching to %s: %s: " % (m1.url, m0.url) in capsys.readouterr().err
    only_m2 = kine.open_store(m2.url, {}, {})
    assert [n["metadata"]["name"] for n in only_m2.list("nodes")] == ["after", "before"]
    n = only_m2.get("nodes", "after")
    n["spec"] = {"v": 2}
    only_m2.update("nodes", n)
    assert st.get("nodes", "after")["spec"] == {"v": 2}
    # with two of three members down there is no quorum: the store reports it, nothing hangs for ever
    m1.stop()
    t0 = time.time()
    with pytest.raises(kine.Unavailable):
        st.create("nodes", {"metadata": {"name": "noquorum"}})
    assert time.time() - t0 < 60
    st.close()
    only_m2.close()


# -- TLS ----------------------------------------------------------------------------------

def test_tls_with_ca_and_client_cert(etcd_tls):
    url, good = etcd_tls
    st = kine.open_store(url, good, {})
    st.create("nodes", {"metadata": {"name": "tls-node"}})
    assert [n["metadata"]["name"] for n in st.list("nodes")] == ["tls-node"]
    st.close()


@pytest.mark.parametrize("case", ["wrong-ca", "system-ca", "no-client-cert", "foreign-client-cert", "hostname"])
def test_tls_failures_exit_after_the_deadline(etcd_tls, pki, case, capsys):
    url, good = etcd_tls
    tls = dict(good)
    want = "certificate signed by unknown authority"
    if case == "hostname":  # the server certificate names 127.0.0.1 only
        url = url.replace("127.0.0.1", "localhost")
        want = "x509: certificate is not valid for localhost"
    elif case == "wrong-ca":
        tls["cafile"] = pki["otherca"]
    elif case == "system-ca":
        tls["cafile"] = ""  # Go-like: the system roots, which do not know the private CA
    elif case == "no-client-cert":
        tls["certfile"] = tls["keyfile"] = ""
        want = "remote error: tls: "  # certificate required (TLS 1.3) / bad certificate
    else:
        tls["certfile"], tls["keyfile"] = pki["foreign"]
        want = "remote error: tls: "
    took = fatal_of(lambda: kine.open_store(url, tls, {kine.TIMEOUT_ENV: "1"}))
    assert took < 15
    err = capsys.readouterr().err
    fatal = [ln for ln in err.splitlines() if "level=fatal" in ln]
    assert len(fatal) == 1 and "failed to create datastore: %s: authentication handshake failed: " % url in fatal[0]
    assert want in fatal[0]
    assert "failed to ping connection: " in err


def test_tls_file_problems_fail_at_once(etcd_tls, pki, tmp_path, capsys):
    url, good = etcd_tls
    missing = str(tmp_path / "nope.crt")
    for tls, want in (
            (dict(good, certfile=missing), "open %s: no such file or directory" % missing),
            (dict(good, cafile=missing), "open %s: no such file or directory" % missing),
            (dict(good, keyfile=""), "KeyFile and CertFile must both be present[key: , cert: %s]" % good["certfile"]),
            (dict(good, keyfile=pki["foreign"][1]), "tls: failed to load the key pair"),
            (dict(good, cafile=good["keyfile"]), "failed to load the CA certificates from")):
        took = fatal_of(lambda: kine.open_store(url, tls, {kine.TIMEOUT_ENV: "30"}))
        assert took < 5  # not retried
        assert want in capsys.readouterr().err


def test_unreachable_endpoints_exit_within_the_deadline(capsys):
    p1, p2 = free_port(), free_port()
    ds = "https://127.0.0.1:%d,http://127.0.0.1:%d" % (p1, p2)
    took = fatal_of(lambda: kine.open_store(ds, {}, {kine.TIMEOUT_ENV: "2"}))
    assert 2 <= took < 10
    err = capsys.readouterr().err
    assert err.count("level=error msg=\"failed to ping connection") >= 2
    fatal = [ln for ln in err.splitlines() if "level=fatal" in ln][0]
    assert "starting kubernetes: preparing server: creating storage endpoint: failed to create datastore: " in fatal
    assert "https://127.0.0.1:%d: dial tcp 127.0.0.1:%d: connect: connection refused" % (p1, p1) in fatal
    assert "http://127.0.0.1:%d: dial tcp 127.0.0.1:%d: connect: connection refused" % (p2, p2) in fatal


def test_bad_endpoint_is_fatal(capsys):
    fatal_of(lambda: kine.open_store("https://h:port", {}, {}))
    assert "invalid etcd endpoint" in capsys.readouterr().err


# -- the double's server end to end ------------------------------------------------------------

def test_two_servers_one_etcd_cluster(etcd_plain, dsservers):
    dead = "http://127.0.0.1:%d" % free_port()
    s1 = dsservers(["--datastore-endpoint", etcd_plain, "--token", "etcdtok", "--cluster-init"])
    s2 = dsservers(["--datastore-endpoint", dead + "," + etcd_plain, "--token", "etcdtok"])
    assert s1.ca() == s2.ca()
    assert set(s1.nodes()) == set(s2.nodes()) == {"srv1", "srv2"}
    assert not (s1.dir / "server" / "db" / "etcd").exists()  # no embedded etcd with an external datastore
    assert "node-role.kubernetes.io/etcd" not in s2.nodes()["srv1"]["metadata"]["labels"]
    assert "Saved bootstrap data to the datastore" in s1.proc.log()
    assert "Reconciling bootstrap data" in s2.proc.log()
    assert "etcd endpoint failed, switching to %s" % etcd_plain in s2.proc.log()
    raw = etcdv3.Client(etcd_plain)
    assert int(s1.nodes()["srv2"]["metadata"]["resourceVersion"]) == raw.get("/registry/minions/srv2")["mod_revision"]
    assert len(raw.range("/bootstrap/", etcdv3.prefix_end("/bootstrap/"))[1]) == 1
    raw.close()
    s3 = dsservers(["--datastore-endpoint", etcd_plain, "--token", "othertok"], wait=False)
    assert s3.proc.proc.wait(30) == 1
    assert "bootstrap data already found and encrypted with different token" in s3.proc.log()


def test_servers_over_tls(etcd_tls, pki, dsservers):
    url, good = etcd_tls
    tls_args = ["--datastore-cafile", good["cafile"], "--datastore-certfile", good["certfile"],
                "--datastore-keyfile", good["keyfile"]]
    s1 = dsservers(["--datastore-endpoint", url, "--token", "tlstok"] + tls_args)
    s2 = dsservers(["--datastore-endpoint", url, "--token", "tlstok"] + tls_args)
    assert set(s1.nodes()) == set(s2.nodes()) == {"srv1", "srv2"}
    bad = ["--datastore-cafile", pki["otherca"]] + tls_args[2:]
    s3 = dsservers(["--datastore-endpoint", url, "--token", "tlstok"] + bad, wait=False,
                   env_extra={kine.TIMEOUT_ENV: "2"})
    assert s3.proc.proc.wait(30) == 1
    log = s3.proc.log()
    assert "level=fatal" in log and url in log and "x509: certificate signed by unknown authority" in log
