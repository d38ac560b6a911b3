"""External datastore of the K3s double: the stdlib PostgreSQL and MySQL
clients against fake servers, the kine-like store, and two double servers
sharing one endpoint (one cluster)."""
import http.client
import json
import ssl
import time

import pytest

from fake_sqlservers import FakeMySQL, FakePostgres
from k3s_double_helpers import free_port
from test_agent import Proc

from k3s import kine, mywire, pgwire  # noqa: E402  (tests/doubles is on sys.path)


# -- protocol clients ------------------------------------------------------------

@pytest.mark.parametrize("auth", ["scram", "md5", "password"])
def test_pg_auth_and_simple_query(auth):
    srv = FakePostgres({"k3s": "s3cret"}, databases=("k3s",), auth=auth)
    try:
        c = pgwire.Connection("127.0.0.1", srv.port, "k3s", "s3cret", "k3s")
        cols, rows, tag = c.query("SELECT 1 AS one, 'a''b' AS two, X'0102' AS three")
        assert cols == ["one", "two", "three"]
        assert rows == [["1", "a'b", b"\x01\x02"]]
        assert tag == "SELECT 1"
        with pytest.raises(pgwire.PgError) as ei:
            c.query("SELEC nonsense")
        assert ei.value.code == "42601"
        assert c.query("SELECT 2")[1] == [["2"]]  # the connection survives an error
        c.close()
    finally:
        srv.close()


@pytest.mark.parametrize("auth", ["scram", "md5", "password"])
def test_pg_wrong_password(auth):
    srv = FakePostgres({"k3s": "s3cret"}, databases=("k3s",), auth=auth)
    try:
        with pytest.raises(pgwire.PgError) as ei:
            pgwire.Connection("127.0.0.1", srv.port, "k3s", "wrong", "k3s")
        assert ei.value.code == "28P01"
        assert 'FATAL: password authentication failed for user "k3s" (SQLSTATE 28P01)' in str(ei.value)
    finally:
        srv.close()


def test_pg_scram_rejects_bad_server_signature():
    srv = FakePostgres({"k3s": "s3cret"}, databases=("k3s",), bad_server_signature=True)
    try:
        with pytest.raises(pgwire.PgError, match="invalid server signature"):
            pgwire.Connection("127.0.0.1", srv.port, "k3s", "s3cret", "k3s")
    finally:
        srv.close()


def test_scram_client_rfc7677_vector():
    """RFC 7677 section 3 example (user "user", password "pencil")."""
    sc = pgwire.ScramClient("pencil", nonce="rOprNGfwEbeRWgbNEkqO")
    sc.first_bare = "n=user,r=rOprNGfwEbeRWgbNEkqO"
    final = sc.final(b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
    assert final == b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," \
                    b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    sc.verify(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
    with pytest.raises(pgwire.PgError):
        sc.verify(b"v=AAAA")


def test_pg_missing_database():
    srv = FakePostgres({"k3s": "s3cret"})
    try:
        with pytest.raises(pgwire.PgError) as ei:
            pgwire.Connection("127.0.0.1", srv.port, "k3s", "s3cret", "k3s")
        assert ei.value.code == "3D000"
    finally:
        srv.close()


@pytest.mark.parametrize("switch", [False, True])
def test_mysql_auth_and_query(switch):
    srv = FakeMySQL({"k3s": "s3cret"}, databases=("k3s",), auth_switch=switch)
    try:
        c = mywire.Connection("127.0.0.1", srv.port, "k3s", "s3cret", "k3s")
        assert c.server_version.startswith("10.11")
        cols, rows, _ = c.query("SELECT 1 AS one, NULL AS two, X'00ff' AS three")
        assert cols == ["one", "two", "three"]
        assert rows == [[b"1", None, b"\x00\xff"]]
        c.query("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)")
        c.query("INSERT INTO t(v) VALUES ('x')")
        assert c.last_insert_id == 1
        with pytest.raises(mywire.MyError):
            c.query("SELEC nonsense")
        c.close()
    finally:
        srv.close()


@pytest.mark.parametrize("switch", [False, True])
def test_mysql_wrong_password(switch):
    srv = FakeMySQL({"k3s": "s3cret"}, databases=("k3s",), auth_switch=switch)
    try:
        with pytest.raises(mywire.MyError) as ei:
            mywire.Connection("127.0.0.1", srv.port, "k3s", "nope", "k3s")
        assert ei.value.code == 1045
        assert str(ei.value).startswith("Error 1045 (28000): Access denied for user 'k3s'@")
    finally:
        srv.close()


def test_mysql_unknown_database():
    srv = FakeMySQL({"k3s": "s3cret"})
    try:
        with pytest.raises(mywire.MyError) as ei:
            mywire.Connection("127.0.0.1", srv.port, "k3s", "s3cret", "k3s")
        assert ei.value.code == 1049
    finally:
        srv.close()


def test_native_scramble_known_value():
    # SHA1("pw") xor SHA1(salt + SHA1(SHA1("pw"))), computed independently
    import hashlib
    salt = b"12345678901234567890"
    h1 = hashlib.sha1(b"pw").digest()
    want = bytes(a ^ b for a, b in zip(h1, hashlib.sha1(salt + hashlib.sha1(h1).digest()).digest()))
    assert mywire.native_scramble("pw", salt) == want
    assert mywire.native_scramble("", salt) == b""


# -- DSN, crypto, store --------------------------------------------------------------

def test_parse_endpoint():
    p = kine.parse_endpoint("postgres://k3s:p%40ss@db.example:6543/k3s?sslmode=disable")
    assert (p["kind"], p["host"], p["port"], p["user"], p["password"], p["database"], p["sslmode"]) == \
        ("postgres", "db.example", 6543, "k3s", "p@ss", "k3s", "disable")
    assert kine.parse_endpoint("postgresql://u:p@h/")["database"] == "kubernetes"
    m = kine.parse_endpoint("mysql://k3s:pw@tcp(maria:3307)/kdb")
    assert (m["kind"], m["host"], m["port"], m["user"], m["password"], m["database"]) == \
        ("mysql", "maria", 3307, "k3s", "pw", "kdb")
    assert kine.parse_endpoint("mysql://u:p@tcp(h)/")["port"] == 3306
    e = kine.parse_endpoint("https://e1:2379,https://e2:2379")
    assert e == {"kind": "etcd", "endpoints": ["https://e1:2379", "https://e2:2379"]}
    assert kine.redact("postgres://k3s:secret@h:5432/k3s") == "postgres://k3s:********@h:5432/k3s"
    assert "secret" not in kine.redact("mysql://k3s:secret@tcp(h:3306)/k3s")


def test_bootstrap_crypto():
    blob = kine.encrypt("tok", b"hello world" * 10)
    assert b"hello" not in blob
    assert kine.decrypt("tok", blob) == b"hello world" * 10
    with pytest.raises(ValueError):
        kine.decrypt("other", blob)
    assert kine.bootstrap_key("tok").startswith("/bootstrap/") and len(kine.bootstrap_key("tok")) == 23


@pytest.fixture(params=["postgres", "mysql"])
def fakedb(request):
    if request.param == "postgres":
        srv = FakePostgres({"k3s": "pw"}, databases=("postgres",))
        ds = "postgres://k3s:pw@127.0.0.1:%d/k3s?sslmode=disable" % srv.port
    else:
        srv = FakeMySQL({"k3s": "pw"})
        ds = "mysql://k3s:pw@tcp(127.0.0.1:%d)/k3s" % srv.port
    yield srv, ds
    srv.close()


def test_kine_store_shared_between_clients(fakedb):
    srv, ds = fakedb
    a = kine.open_store(ds, {}, {})
    b = kine.open_store(ds, {}, {})
    assert "k3s" in srv.dbs  # the missing database was created
    node = a.create("nodes", {"metadata": {"name": "n1"}, "spec": {}})
    rv1 = int(node["metadata"]["resourceVersion"])
    got = b.get("nodes", "n1")
    assert got["metadata"]["uid"] == node["metadata"]["uid"] and got["metadata"]["resourceVersion"] == str(rv1)
    with pytest.raises(kine.Conflict):
        b.create("nodes", {"metadata": {"name": "n1"}})
    got["spec"]["x"] = 1
    b.update("nodes", got)
    assert a.get("nodes", "n1")["spec"] == {"x": 1}
    assert int(a.get("nodes", "n1")["metadata"]["resourceVersion"]) > rv1
    a.create("pods", {"metadata": {"name": "p"}}, "default")
    a.create("pods", {"metadata": {"name": "p"}}, "kube-system")
    assert [p["metadata"]["name"] for p in b.list("pods")] == ["p", "p"]
    assert len(b.list("pods", "default")) == 1
    assert b.delete("nodes", "n1") and a.get("nodes", "n1") is None and not a.delete("nodes", "n1")
    a.create("nodes", {"metadata": {"name": "n1"}})  # re-create after delete
    assert [n["metadata"]["name"] for n in b.list("nodes")] == ["n1"]
    with pytest.raises(KeyError):
        a.update("nodes", {"metadata": {"name": "ghost"}})
    a.close()
    b.close()


# -- two double servers on one endpoint ------------------------------------------------

class DSNode:
    def __init__(self, base, i):
        self.i = i
        self.dir = base.tmp / ("ds%d" % i)
        self.port = free_port()
        self.proc = None

    def args(self, extra):
        return ["server", "-d", str(self.dir), "-o", str(self.dir / "k3s.yaml"), "--https-listen-port",
                str(self.port), "--bind-address", "127.0.0.1", "--node-ip", "127.0.0.1",
                "--node-name", "srv%d" % self.i] + list(extra)

    def ca(self):
        return (self.dir / "server" / "tls" / "server-ca.crt").read_text()

    def api(self, method, path):
        tls = self.dir / "server" / "tls"
        ctx = ssl.create_default_context(cafile=str(tls / "server-ca.crt"))
        ctx.check_hostname = False
        ctx.load_cert_chain(str(tls / "client-admin.crt"), str(tls / "client-admin.key"))
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=15)
        c.request(method, path)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, json.loads(data)

    def nodes(self):
        return {n["metadata"]["name"]: n for n in self.api("GET", "/api/v1/nodes")[1]["items"]}


@pytest.fixture
def dsservers(k3s_bin, kenv):
    nodes = []

    def start(extra, wait=True, env_extra=None):
        n = DSNode(kenv, len(nodes) + 1)
        nodes.append(n)
        env = dict(kenv.env, **(env_extra or {}))
        n.proc = Proc(k3s_bin, n.args(extra), env, kenv.tmp / ("ds%d.log" % n.i))
        if wait:
            assert n.proc.wait_log("k3s is up and running", timeout=40), n.proc.log()
        return n

    def restart(n, extra):
        n.proc = Proc(k3s_bin, n.args(extra), dict(kenv.env), kenv.tmp / ("ds%d-r.log" % n.i))
        assert n.proc.wait_log("k3s is up and running", timeout=40), n.proc.log()
    start.restart = restart
    yield start
    for n in nodes:
        if n.proc:
            n.proc.stop()


def test_two_servers_one_cluster(fakedb, dsservers):
    srv, ds = fakedb
    s1 = dsservers(["--datastore-endpoint", ds, "--token", "sharedtok", "--cluster-init"])
    s2 = dsservers(["--datastore-endpoint", ds, "--token", "sharedtok"])
    assert s1.ca() == s2.ca()
    t1 = (s1.dir / "server" / "token").read_text()
    assert t1 == (s2.dir / "server" / "token").read_text()
    assert not (s1.dir / "server" / "db" / "etcd").exists()  # cluster-init ignored with an external datastore
    assert set(s1.nodes()) == set(s2.nodes()) == {"srv1", "srv2"}
    labels = s2.nodes()["srv1"]["metadata"]["labels"]
    assert labels["node-role.kubernetes.io/control-plane"] == "true"
    assert "node-role.kubernetes.io/etcd" not in labels
    assert "Saved bootstrap data to the datastore" in s1.proc.log()
    assert "Reconciling bootstrap data" in s2.proc.log()
    assert "pw@" not in s1.proc.log()  # the DSN password is never logged
    # a server with another token is refused
    s3 = dsservers(["--datastore-endpoint", ds, "--token", "othertok"], wait=False)
    assert s3.proc.proc.wait(30) == 1
    assert "bootstrap data already found and encrypted with different token" in s3.proc.log()
    # a restarted server keeps its CA and its node
    s1.proc.stop()
    dsservers.restart(s1, ["--datastore-endpoint", ds, "--token", "sharedtok"])
    assert s1.ca() == s2.ca() and set(s1.nodes()) == {"srv1", "srv2"}
    assert "Node srv1 already registered" in s1.proc.log()


def test_wrong_password_exits(k3s_bin, kenv, dsservers):
    srv = FakePostgres({"k3s": "right"}, databases=("postgres", "k3s"))
    try:
        s = dsservers(["--datastore-endpoint", "postgres://k3s:wrong@127.0.0.1:%d/k3s" % srv.port,
                       "--token", "t"], wait=False)
        assert s.proc.proc.wait(30) == 1
        assert 'password authentication failed for user \\"k3s\\"' in s.proc.log()
        assert "wrong@" not in s.proc.log()
    finally:
        srv.close()
    srv = FakeMySQL({"k3s": "right"}, databases=("k3s",))
    try:
        s = dsservers(["--datastore-endpoint", "mysql://k3s:wrong@tcp(127.0.0.1:%d)/k3s" % srv.port,
                       "--token", "t"], wait=False)
        assert s.proc.proc.wait(30) == 1
        assert "Error 1045 (28000): Access denied for user 'k3s'@" in s.proc.log()
    finally:
        srv.close()


def test_unreachable_datastore_retries_then_exits(dsservers):
    port = free_port()
    t0 = time.time()
    s = dsservers(["--datastore-endpoint", "postgres://k3s:pw@127.0.0.1:%d/k3s" % port, "--token", "t"],
                  wait=False, env_extra={"KUBEFORGE_DOUBLE_DATASTORE_TIMEOUT": "3"})
    assert s.proc.proc.wait(30) == 1
    assert time.time() - t0 >= 3
    log = s.proc.log()
    assert log.count("level=error") >= 2
    assert "failed to ping connection: dial tcp 127.0.0.1:%d: connect: connection refused" % port in log
    assert "failed to create datastore: dial tcp" in log


def test_unreachable_external_etcd_exits_naming_the_endpoints(dsservers):
    p1, p2 = free_port(), free_port()
    ds = "https://127.0.0.1:%d,https://127.0.0.1:%d" % (p1, p2)
    s = dsservers(["--datastore-endpoint", ds, "--token", "t"], wait=False,
                  env_extra={"KUBEFORGE_DOUBLE_DATASTORE_TIMEOUT": "2"})
    assert s.proc.proc.wait(30) == 1
    log = s.proc.log()
    assert "not implemented" not in log
    fatal = [ln for ln in log.splitlines() if "level=fatal" in ln][0]
    assert "creating storage endpoint: failed to create datastore: " in fatal
    for p in (p1, p2):
        assert "https://127.0.0.1:%d: dial tcp 127.0.0.1:%d: connect: connection refused" % (p, p) in fatal
