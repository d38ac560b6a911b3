"""Optional: the double's PostgreSQL client and kine store against a real
PostgreSQL (initdb + postgres in a temp dir, run as the unprivileged
'postgres' user, loopback, SCRAM-SHA-256).  Skipped when the binaries, the
user or root (for runuser) are missing.  No system service is touched."""
import os
import pathlib
import pwd
import shutil
import subprocess
import tempfile
import time

import pytest

from k3s_double_helpers import free_port
from test_datastore import dsservers  # noqa: F401  (fixture)
from k3s import kine, pgwire  # noqa: E402

PGBIN = "/usr/lib/postgresql/15/bin"


def _have():
    if not os.path.exists(os.path.join(PGBIN, "postgres")) or not shutil.which("runuser") or os.geteuid() != 0:
        return False
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return True


pytestmark = pytest.mark.skipif(not _have(), reason="no local PostgreSQL 15 binaries / postgres user / root")


@pytest.fixture(scope="module")
def realpg():
    # own temp dir: pytest's tmp tree is 0700 root, not traversable by the postgres user
    base = pathlib.Path(tempfile.mkdtemp(prefix="kf-realpg-"))
    os.chmod(str(base), 0o755)
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    pwfile = base / "pw"
    pwfile.write_text("supersecret\n")
    pw = pwd.getpwnam("postgres")
    for p in (base, sock, pwfile):
        os.chown(str(p), pw.pw_uid, pw.pw_gid)
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(as_pg + [PGBIN + "/initdb", "-D", str(data), "-U", "postgres", "--pwfile", str(pwfile),
                            "--auth-local=trust", "--auth-host=scram-sha-256"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = free_port()
    proc = subprocess.Popen(as_pg + [PGBIN + "/postgres", "-D", str(data), "-p", str(port), "-k", str(sock),
                                     "-c", "listen_addresses=127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                c = pgwire.Connection("127.0.0.1", port, "postgres", "supersecret", "postgres", sslmode="disable")
                break
            except (OSError, pgwire.PgError):
                time.sleep(0.1)
        else:
            pytest.skip("local PostgreSQL did not start")
        c.query("CREATE ROLE k3s LOGIN CREATEDB PASSWORD 'k3spw'")
        c.close()
        yield port
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(str(base), ignore_errors=True)


def test_real_pg_scram_and_wrong_password(realpg):
    c = pgwire.Connection("127.0.0.1", realpg, "k3s", "k3spw", "postgres")
    assert c.query("SHOW password_encryption")[1] == [["scram-sha-256"]]
    assert c.query("SELECT '\\x0102'::bytea, NULL::text")[1] == [[b"\x01\x02", None]]
    c.close()
    with pytest.raises(pgwire.PgError) as ei:
        pgwire.Connection("127.0.0.1", realpg, "k3s", "bad", "postgres")
    assert ei.value.code == "28P01" and 'password authentication failed for user "k3s"' in str(ei.value)


def test_real_pg_kine_store(realpg):
    ds = "postgres://k3s:k3spw@127.0.0.1:%d/k3sdb" % realpg
    a = kine.open_store(ds, {}, {})  # creates the database k3sdb and the kine table
    b = kine.open_store(ds, {}, {})
    a.create("nodes", {"metadata": {"name": "n1"}})
    with pytest.raises(kine.Conflict):
        b.create("nodes", {"metadata": {"name": "n1"}})
    n = b.get("nodes", "n1")
    n["spec"] = {"v": "it's"}
    b.update("nodes", n)
    assert a.get("nodes", "n1")["spec"] == {"v": "it's"}
    assert [x["metadata"]["name"] for x in a.list("nodes")] == ["n1"]
    assert a.delete("nodes", "n1") and b.get("nodes", "n1") is None
    a.close()
    b.close()


def test_real_pg_two_servers_one_cluster(realpg, dsservers):
    ds = "postgres://k3s:k3spw@127.0.0.1:%d/k3s?sslmode=disable" % realpg
    s1 = dsservers(["--datastore-endpoint", ds, "--token", "realtok"])
    s2 = dsservers(["--datastore-endpoint", ds, "--token", "realtok"])
    assert s1.ca() == s2.ca()
    assert set(s1.nodes()) == set(s2.nodes()) == {"srv1", "srv2"}
