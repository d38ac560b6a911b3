"""The etcdctl/etcdutl doubles (tests/doubles/etcd/) against the simulated etcd member (tests/doubles/k3s/etcd.py)
serving TLS on its client port with client certificates required, as kubeadm's stacked etcd does. The messages
and exit codes are etcd 3.6's (etcdctl/ctlv3/command/snapshot_command.go, client/v3/snapshot/v3_snapshot.go,
etcdutl/snapshot/v3_snapshot.go, pkg/cobrautl/error.go)."""
import json
import os
import socket
import stat
import subprocess
import sys

import pytest

DOUBLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "doubles")
sys.path.insert(0, DOUBLES)

from k3s import etcd as etcdmod  # noqa: E402
from k3s import state  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")

    def leaf(name, ca, ext):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / (name + ".key")), "-subj", "/CN=" + name,
                "-out", str(d / (name + ".csr")))
        (d / (name + ".ext")).write_text(ext)
        openssl("x509", "-req", "-in", str(d / (name + ".csr")), "-CA", str(d / (ca + ".crt")), "-CAkey",
                str(d / (ca + ".key")), "-CAcreateserial", "-days", "2", "-out", str(d / (name + ".crt")),
                "-extfile", str(d / (name + ".ext")))

    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / (ca + ".key")), "-subj",
                "/CN=" + ca, "-days", "2", "-out", str(d / (ca + ".crt")))
    leaf("server", "ca", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n")
    leaf("client", "ca", "extendedKeyUsage=clientAuth\n")
    leaf("stranger", "other-ca", "extendedKeyUsage=clientAuth\n")
    return d


@pytest.fixture
def member(tmp_path, pki):
    """A one-member simulated etcd holding two ConfigMaps, its client port TLS with client certificates required."""
    etcd_dir = tmp_path / "etcd"
    (etcd_dir / "member" / "snap").mkdir(parents=True)
    store = state.Store(str(etcd_dir / "member" / "snap" / "db"))
    peer = free_port()
    cluster = etcdmod.Cluster(store, str(etcd_dir), "cp1", "http://127.0.0.1:%d" % peer, "secret", version="3.6.5")
    cluster.set_members([{"name": "cp1", "peerURL": "http://127.0.0.1:%d" % peer}])
    for name in ("marker-1", "marker-2"):
        store.create("configmaps", {"metadata": {"name": name, "namespace": "default"}, "data": {"v": name}},
                     "default")
    client = free_port()
    cluster.serve("127.0.0.1", peer, client, client_tls={"cert": str(pki / "server.crt"),
                                                         "key": str(pki / "server.key"),
                                                         "ca": str(pki / "ca.crt"), "client_auth": True})
    cluster.endpoint = "https://127.0.0.1:%d" % client
    yield cluster
    cluster.close()
    store.close()


def tool(prog, *args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, os.path.join(DOUBLES, "etcd"), prog] + list(args), capture_output=True,
                          text=True, env=e, timeout=60)


def tls_args(pki, cert="client"):
    return ["--cacert", str(pki / "ca.crt"), "--cert", str(pki / (cert + ".crt")), "--key", str(pki / (cert + ".key"))]


def save(member, pki, path, cert="client"):
    return tool("etcdctl", "--endpoints", member.endpoint, *tls_args(pki, cert), "snapshot", "save", str(path))


def test_save_writes_the_data_and_its_sha256(member, pki, tmp_path):
    path = tmp_path / "snap.db"
    r = save(member, pki, path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Snapshot saved at %s\nServer version 3.6.5\n" % path
    assert '"msg": "created temporary db file"' in r.stderr and '"path": "%s.part"' % path in r.stderr
    raw = path.read_bytes()
    assert len(raw) % 512 == 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not (tmp_path / "snap.db.part").exists()


def test_save_needs_a_client_certificate_of_the_member_ca(member, pki, tmp_path):
    path = tmp_path / "snap.db"
    for args in (["--cacert", str(pki / "ca.crt")], tls_args(pki, "stranger")):
        r = tool("etcdctl", "--endpoints", member.endpoint, *args, "snapshot", "save", str(path))
        assert r.returncode == 5, r.stderr
        assert r.stderr.endswith("Error: context deadline exceeded\n"), r.stderr
        assert not path.exists() and not (tmp_path / "snap.db.part").exists()
    # a server certificate of another CA is not trusted either
    r = tool("etcdctl", "--endpoints", member.endpoint, "--cacert", str(pki / "other-ca.crt"), "--cert",
             str(pki / "client.crt"), "--key", str(pki / "client.key"), "snapshot", "save", str(path))
    assert r.returncode == 5 and "certificate verify failed" in r.stderr, r.stderr


def test_save_refuses_several_endpoints_and_bad_arguments(member, pki, tmp_path):
    r = tool("etcdctl", "--endpoints", "%s,https://127.0.0.1:1" % member.endpoint, *tls_args(pki), "snapshot",
             "save", str(tmp_path / "s.db"))
    assert r.returncode == 5
    assert r.stderr == ("Error: snapshot must be requested to one selected node, not multiple [%s "
                        "https://127.0.0.1:1]\n" % member.endpoint)
    r = tool("etcdctl", "snapshot", "save")
    assert (r.returncode, r.stderr) == (128, "Error: snapshot save expects one argument\n")
    r = tool("etcdctl", "--endpoints", member.endpoint, *tls_args(pki), "snapshot", "save",
             str(tmp_path / "missing" / "s.db"))
    assert r.returncode == 5 and "could not open %s/missing/s.db.part (open" % tmp_path in r.stderr


def test_flags_from_the_environment(member, pki, tmp_path):
    r = tool("etcdctl", "snapshot", "save", str(tmp_path / "s.db"),
             env={"ETCDCTL_ENDPOINTS": member.endpoint, "ETCDCTL_CACERT": str(pki / "ca.crt"),
                  "ETCDCTL_CERT": str(pki / "client.crt"), "ETCDCTL_KEY": str(pki / "client.key")})
    assert r.returncode == 0, r.stderr


def test_member_list(member, pki):
    r = tool("etcdctl", "--endpoints", member.endpoint, *tls_args(pki), "member", "list", "-w", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [(m["name"], m["peerURLs"]) for m in doc["members"]] == [("cp1", [member.peer_url])]


def test_status_reads_the_revision_and_keys(member, pki, tmp_path):
    path = tmp_path / "snap.db"
    assert save(member, pki, path).returncode == 0
    r = tool("etcdutl", "snapshot", "status", str(path), "-w", "json")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["revision"] == member.store.current_rv()
    assert st["totalKey"] == 2 and st["version"] == "3.6.0" and st["totalSize"] == len(path.read_bytes()) - 32


def restore(path, data_dir, *extra, name="cp1", url="https://10.0.0.1:2380"):
    return tool("etcdutl", "snapshot", "restore", str(path), "--data-dir", str(data_dir), "--name", name,
                "--initial-cluster", "%s=%s" % (name, url), "--initial-advertise-peer-urls", url, *extra)


def test_restore_makes_a_new_data_dir_with_the_new_member(member, pki, tmp_path):
    path = tmp_path / "snap.db"
    assert save(member, pki, path).returncode == 0
    member.store.delete("configmaps", "marker-1", "default")
    data = tmp_path / "restored"
    r = restore(path, data)
    assert r.returncode == 0, r.stderr
    assert '"msg": "restored snapshot"' in r.stderr
    db = data / "member" / "snap" / "db"
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700 and stat.S_IMODE(os.stat(db).st_mode) == 0o600
    assert (data / "member" / "wal").is_dir()
    restored = state.Store(str(db))
    try:
        assert restored.get("configmaps", "marker-1", "default")["data"] == {"v": "marker-1"}
        assert json.loads(restored.get_meta("etcd-members")) == [{"name": "cp1", "peerURL": "https://10.0.0.1:2380"}]
    finally:
        restored.close()
    # once more into the same directory: refused, as etcd refuses a data-dir that is not empty
    r = restore(path, data)
    assert (r.returncode, r.stderr.splitlines()[-1]) == (1, 'Error: data-dir "%s" not empty or could not be read' % data)


def test_restore_checks_the_integrity_hash(member, pki, tmp_path):
    path = tmp_path / "snap.db"
    assert save(member, pki, path).returncode == 0
    raw = bytearray(path.read_bytes())
    raw[100] ^= 0xFF
    bad = tmp_path / "tampered.db"
    bad.write_bytes(bytes(raw))
    r = restore(bad, tmp_path / "d1")
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1].startswith("Error: expected sha256 [")
    assert not (tmp_path / "d1" / "member" / "snap" / "db").exists()
    # a copy of a member's data file carries no hash: refused unless --skip-hash-check
    plain = tmp_path / "plain.db"
    plain.write_bytes(bytes(path.read_bytes()[:-32]))
    r = restore(plain, tmp_path / "d2")
    assert r.stderr.splitlines()[-1] == "Error: snapshot missing hash but --skip-hash-check=false"
    assert restore(plain, tmp_path / "d3", "--skip-hash-check").returncode == 0
    # not a snapshot at all
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"x" * 4096)
    r = restore(junk, tmp_path / "d4", "--skip-hash-check")
    assert r.stderr.splitlines()[-1] == "Error: invalid database"


def test_restore_refuses_a_name_or_peer_url_outside_the_initial_cluster(member, pki, tmp_path):
    path = tmp_path / "snap.db"
    assert save(member, pki, path).returncode == 0
    r = tool("etcdutl", "snapshot", "restore", str(path), "--data-dir", str(tmp_path / "d"), "--name", "cp2",
             "--initial-cluster", "cp1=https://10.0.0.1:2380", "--initial-advertise-peer-urls",
             "https://10.0.0.1:2380")
    assert r.stderr.splitlines()[-1] == 'Error: couldn\'t find local name "cp2" in the initial cluster configuration'
    r = restore(path, tmp_path / "d", "--initial-advertise-peer-urls", "https://10.0.0.9:2380")
    assert r.returncode == 1 and "--initial-cluster has cp1=https://10.0.0.1:2380 but missing from" in r.stderr
    r = tool("etcdutl", "snapshot", "restore")
    assert (r.returncode, r.stderr) == (128, "Error: snapshot restore requires exactly one argument\n")


def test_a_member_on_the_restored_data_serves_the_snapshot(member, pki, tmp_path):
    path = tmp_path / "snap.db"
    assert save(member, pki, path).returncode == 0
    peer = free_port()
    url = "http://127.0.0.1:%d" % peer
    data = tmp_path / "restored"
    assert restore(path, data, url=url).returncode == 0
    store = state.Store(str(data / "member" / "snap" / "db"))
    cluster = etcdmod.Cluster(store, str(data), "cp1", url, "secret", version="3.6.5")
    try:
        assert cluster.members == [{"name": "cp1", "peerURL": url}] and not cluster.removed
        assert sorted(o["metadata"]["name"] for o in store.list("configmaps", "default")
                      if o["metadata"]["name"].startswith("marker")) == ["marker-1", "marker-2"]
    finally:
        store.close()
