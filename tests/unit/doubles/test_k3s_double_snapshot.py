"""`k3s etcd-snapshot` against a running server on embedded etcd, and the restore of
`k3s server --cluster-reset --cluster-reset-restore-path` (K3s pkg/etcd/snapshot*.go, pkg/cli/etcdsnapshot).
Servers on loopback with free high ports, as in test_ha.py."""
import json
import os
import re
import shutil
import sqlite3
import stat
import zipfile

import pytest

from k3s_double_helpers import run
from test_ha import Node, cluster, join_url  # noqa: F401  (fixture)

TOKEN = "snapsecret"
SAVED = re.compile(r"Snapshot (on-demand-srv1-\d+) saved\.")


def snapshot(k3s_bin, kenv, n, *args, token=True):
    """`k3s etcd-snapshot <args>` for server n (its data dir and API port)."""
    sub, rest = args[0], list(args[1:])
    extra = ["-d", str(n.dir), "--server", join_url(n)] + (["--token", TOKEN] if token else [])
    return run(k3s_bin, ["etcd-snapshot", sub] + extra + rest, kenv.env)


def configmap(name, value):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"},
            "data": {"v": value}}


@pytest.fixture
def s1(cluster):  # noqa: F811
    return cluster(1, ["--cluster-init", "--token", TOKEN])


def test_save_writes_a_private_snapshot_named_after_the_node(k3s_bin, kenv, s1):
    r = snapshot(k3s_bin, kenv, s1, "save")
    assert r.returncode == 0, r.stderr
    name = SAVED.search(r.stderr).group(1)
    snapdir = s1.dir / "server" / "db" / "snapshots"
    assert stat.S_IMODE(os.stat(snapdir).st_mode) == 0o700
    path = snapdir / name
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "Saving etcd snapshot to %s" % path in s1.proc.log()
    # The token from <data-dir>/server/token when none is given, and a name of one's own.
    r = snapshot(k3s_bin, kenv, s1, "save", "--name", "kubeforge-1", token=False)
    assert r.returncode == 0, r.stderr
    assert re.search(r"Snapshot kubeforge-1-srv1-\d+ saved\.", r.stderr), r.stderr


def test_ls_lists_and_delete_removes(k3s_bin, kenv, s1):
    name = SAVED.search(snapshot(k3s_bin, kenv, s1, "save").stderr).group(1)
    r = snapshot(k3s_bin, kenv, s1, "ls")
    assert r.returncode == 0, r.stderr
    header, row = r.stdout.splitlines()
    assert header.split() == ["Name", "Location", "Size", "Created"]
    assert row.split()[:2] == [name, "file://%s" % (s1.dir / "server" / "db" / "snapshots" / name)]
    listed = json.loads(snapshot(k3s_bin, kenv, s1, "ls", "-o", "json").stdout)
    assert listed["kind"] == "ETCDSnapshotFileList"
    assert [i["spec"]["snapshotName"] for i in listed["items"]] == [name]
    assert int(listed["items"][0]["status"]["size"]) > 0

    r = snapshot(k3s_bin, kenv, s1, "delete", name, "nothere")
    assert r.returncode == 0, r.stderr
    assert "Snapshot %s deleted." % name in r.stderr and "Snapshot nothere not found." in r.stderr
    assert not (s1.dir / "server" / "db" / "snapshots" / name).exists()


def test_prune_keeps_the_newest(k3s_bin, kenv, s1):
    snapdir = s1.dir / "server" / "db" / "snapshots"
    snapdir.mkdir(mode=0o700, parents=True)
    for ts in (100, 200, 300):
        (snapdir / ("on-demand-srv1-%d" % ts)).write_bytes(b"x")
    (snapdir / "other-srv1-50").write_bytes(b"x")
    r = snapshot(k3s_bin, kenv, s1, "prune", "--snapshot-retention", "2")
    assert r.returncode == 0, r.stderr
    assert "Snapshot on-demand-srv1-100 deleted." in r.stderr
    assert sorted(os.listdir(snapdir)) == ["on-demand-srv1-200", "on-demand-srv1-300", "other-srv1-50"]


def test_compress_and_another_directory(k3s_bin, kenv, s1, tmp_path):
    r = snapshot(k3s_bin, kenv, s1, "save", "--dir", str(tmp_path / "missing"))
    assert r.returncode == 1
    assert "see server log for details" in r.stderr and "500" in r.stderr
    assert "failed to get etcd-snapshot-dir: stat %s: no such file or directory" % (tmp_path / "missing") \
        in s1.proc.log()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = snapshot(k3s_bin, kenv, s1, "save", "--dir", str(elsewhere), "--etcd-snapshot-compress")
    assert r.returncode == 0, r.stderr
    name = re.search(r"Snapshot (on-demand-srv1-\d+\.zip) saved\.", r.stderr).group(1)
    with zipfile.ZipFile(elsewhere / name) as zf:
        assert zf.namelist() == [name[:-4]]
    assert os.listdir(elsewhere) == [name]  # the uncompressed file is gone


@pytest.mark.parametrize("args, message", [
    (["save", "extra"], "this command does not take any arguments"),
    (["delete"], "no snapshots given for removal"),
    (["ls", "-o", "xml"], "invalid output format: xml"),
    (["save", "--s3", "--s3-bucket", "b"], "etcd-snapshot with S3 is not implemented by the kubeforge K3s test double"),
    (["save", "--bogus"], "flag provided but not defined: -bogus"),
])
def test_cli_refusals(k3s_bin, kenv, s1, args, message):
    r = snapshot(k3s_bin, kenv, s1, *args)
    assert r.returncode == 1
    assert message in r.stdout + r.stderr


def test_wrong_token_and_stopped_server(k3s_bin, kenv, s1):
    r = run(k3s_bin, ["etcd-snapshot", "save", "-d", str(s1.dir), "--server", join_url(s1), "--token", "wrong"],
            kenv.env)
    assert r.returncode == 1 and "401 Unauthorized" in r.stderr, r.stderr
    s1.proc.stop()
    r = snapshot(k3s_bin, kenv, s1, "save")
    assert r.returncode == 1 and "connect: connection refused" in r.stderr, r.stderr


def test_restore_brings_back_the_objects_of_the_snapshot(k3s_bin, kenv, cluster):  # noqa: F811
    s1 = cluster(1, ["--cluster-init", "--token", TOKEN])
    assert "Saved bootstrap data to the datastore" in s1.proc.log()
    assert s1.api("POST", "/api/v1/namespaces/default/configmaps", configmap("kept", "before"))[0] == 201
    name = SAVED.search(snapshot(k3s_bin, kenv, s1, "save").stderr).group(1)
    path = s1.dir / "server" / "db" / "snapshots" / name
    assert s1.api("POST", "/api/v1/namespaces/default/configmaps", configmap("after", "x"))[0] == 201
    s1.proc.stop()
    ca = (s1.dir / "server" / "tls" / "server-ca.crt").read_bytes()

    r = run(k3s_bin, s1.args(["--cluster-reset", "--cluster-reset-restore-path", str(path)]), kenv.env)
    assert r.returncode == 0, r.stderr
    assert "Managed etcd cluster membership has been reset, restart without --cluster-reset flag now." in r.stderr
    old = re.search(r"Pre-restore etcd database moved to ([^\s\"]+)", r.stderr).group(1)
    assert re.fullmatch(re.escape(str(s1.dir / "server" / "db" / "etcd")) + r"-old-\d+", old)
    assert (s1.dir / "server" / "db" / "reset-flag").exists()
    # K3s's rebootstrap: the bootstrap data of the snapshot (the token from server/token) reconciled with the disk,
    # the certificates directory backed up first
    assert "Reconciling bootstrap data between datastore and disk" in r.stderr
    backup = re.search(r"Cluster reset: backing up certificates directory to ([^\s\"]+)", r.stderr).group(1)
    assert re.fullmatch(re.escape(str(s1.dir / "server" / "tls")) + r"-\d+", backup)
    assert (s1.dir / "server" / "tls" / "server-ca.crt").read_bytes() == ca

    s1 = cluster(1, ["--token", TOKEN])
    assert s1.api("GET", "/api/v1/namespaces/default/configmaps/kept")[1]["data"] == {"v": "before"}
    assert s1.api("GET", "/api/v1/namespaces/default/configmaps/after")[0] == 404
    assert not (s1.dir / "server" / "db" / "reset-flag").exists()


def test_restore_refusals(k3s_bin, kenv, cluster, tmp_path):  # noqa: F811
    s1 = cluster(1, ["--cluster-init", "--token", TOKEN])
    s1.proc.stop()
    missing = tmp_path / "nope"
    r = run(k3s_bin, s1.args(["--cluster-reset", "--cluster-reset-restore-path", str(missing)]), kenv.env)
    assert r.returncode == 1 and "stat %s: no such file or directory" % missing in r.stderr, r.stderr
    junk = tmp_path / "junk"
    junk.write_text("not a snapshot")
    r = run(k3s_bin, s1.args(["--cluster-reset", "--cluster-reset-restore-path", str(junk)]), kenv.env)
    assert r.returncode == 1 and "is not an etcd snapshot" in r.stderr, r.stderr
    assert (s1.dir / "server" / "db" / "etcd").is_dir()  # nothing was moved
    r = run(k3s_bin, s1.args(["--cluster-reset-restore-path", str(junk)]), kenv.env)
    assert "invalid flag use; --cluster-reset required with --cluster-reset-restore-path" in r.stderr
    (s1.dir / "server" / "token").unlink()
    r = run(k3s_bin, s1.args(["--cluster-reset", "--cluster-reset-restore-path", str(junk)]), kenv.env)
    assert "%s does not exist, please pass --token to complete the restoration" % (s1.dir / "server" / "token") \
        in r.stderr


def test_restore_from_a_compressed_snapshot(k3s_bin, kenv, cluster):  # noqa: F811
    s1 = cluster(1, ["--cluster-init", "--token", TOKEN])
    assert s1.api("POST", "/api/v1/namespaces/default/configmaps", configmap("zipped", "yes"))[0] == 201
    r = snapshot(k3s_bin, kenv, s1, "save", "--snapshot-compress")
    name = re.search(r"Snapshot (on-demand-srv1-\d+\.zip) saved\.", r.stderr).group(1)
    assert s1.api("DELETE", "/api/v1/namespaces/default/configmaps/zipped")[0] == 200
    s1.proc.stop()
    path = s1.dir / "server" / "db" / "snapshots" / name
    r = run(k3s_bin, s1.args(["--cluster-reset", "--cluster-reset-restore-path", str(path)]), kenv.env)
    assert r.returncode == 0, r.stderr
    assert "Decompressing etcd snapshot file: %s" % path in r.stderr
    s1 = cluster(1, ["--token", TOKEN])
    assert s1.api("GET", "/api/v1/namespaces/default/configmaps/zipped")[1]["data"] == {"v": "yes"}


def test_a_server_not_wiped_after_a_restore_refuses_to_start(k3s_bin, kenv, cluster):  # noqa: F811
    """K3s's restore: after the reset on the first server, another server that kept its etcd data is no longer a
    member and stops; with its server/db deleted it joins the restored member as a new one."""
    s1 = cluster(1, ["--cluster-init", "--token", TOKEN])
    s2 = cluster(2, ["--server", join_url(s1), "--token", TOKEN])
    assert s1.api("POST", "/api/v1/namespaces/default/configmaps", configmap("kept", "before"))[0] == 201
    name = SAVED.search(snapshot(k3s_bin, kenv, s1, "save").stderr).group(1)
    assert s2.proc.stop() == 0
    assert s1.proc.stop() == 0
    path = s1.dir / "server" / "db" / "snapshots" / name
    r = run(k3s_bin, s1.args(["--cluster-reset", "--cluster-reset-restore-path", str(path)]), kenv.env)
    assert r.returncode == 0, r.stderr
    s1 = cluster(1, ["--token", TOKEN])

    s2 = cluster(2, ["--server", join_url(s1), "--token", TOKEN], wait=False)
    assert s2.proc.proc.wait(30) == 1
    fatal = [line for line in s2.proc.log().splitlines() if "level=fatal" in line]
    assert fatal and "the member has been permanently removed from the cluster" in fatal[-1], s2.proc.log()

    shutil.rmtree(s2.dir / "server" / "db")
    s2 = cluster(2, ["--server", join_url(s1), "--token", TOKEN])
    assert s2.api("GET", "/api/v1/namespaces/default/configmaps/kept")[1]["data"] == {"v": "before"}
    members = json.loads((s1.dir / "server" / "db" / "etcd" / "member.json").read_text())["members"]
    assert len(members) == 2


# -- restoring a snapshot to new hosts (K3s docs cli/etcd-snapshot.md: the original token, a data dir without etcd) --

def new_host(cluster, kenv, i):  # noqa: F811
    """Server i of the cluster fixture, not started: a host where K3s is installed but has never run."""
    while len(cluster.nodes) < i:
        cluster.nodes.append(Node(kenv, len(cluster.nodes) + 1))
    return cluster.nodes[i - 1]


def cluster_a(k3s_bin, kenv, cluster, tmp_path):  # noqa: F811
    """Cluster A (server 1): a ConfigMap, a snapshot copied off the host, then the host is gone (stopped).
    Returns the copy and A's server dir."""
    a = cluster(1, ["--cluster-init", "--token", TOKEN])
    assert a.api("POST", "/api/v1/namespaces/default/configmaps", configmap("kept", "from-a"))[0] == 201
    name = SAVED.search(snapshot(k3s_bin, kenv, a, "save").stderr).group(1)
    copy = tmp_path / "offsite" / name
    copy.parent.mkdir()
    shutil.copyfile(a.dir / "server" / "db" / "snapshots" / name, copy)
    assert a.proc.stop() == 0
    return copy, a.dir / "server"


def bootstrap_keys(server_dir):
    db = sqlite3.connect("file:%s?mode=ro" % (server_dir / "db" / "etcd" / "member" / "snap" / "db"), uri=True)
    try:
        return [r[0] for r in db.execute("SELECT name FROM objects WHERE name LIKE '/bootstrap/%'")]
    finally:
        db.close()


def test_restore_on_a_new_host_with_the_original_token_brings_back_the_cluster_ca(k3s_bin, kenv, cluster,  # noqa: F811
                                                                                   tmp_path):
    snap, a = cluster_a(k3s_bin, kenv, cluster, tmp_path)
    a_token = (a / "token").read_text()
    b = new_host(cluster, kenv, 2)
    r = run(k3s_bin, b.args(["--cluster-init", "--cluster-reset", "--cluster-reset-restore-path", str(snap),
                             "--token", a_token.strip()]), kenv.env)
    assert r.returncode == 0, r.stderr
    assert "Managed etcd cluster membership has been reset" in r.stderr
    assert "Pre-restore etcd database moved" not in r.stderr  # nothing to move aside
    assert not [d for d in os.listdir(b.dir / "server" / "db") if d.startswith("etcd-old-")]
    assert "Reconciling bootstrap data between datastore and disk" in r.stderr
    assert "backing up certificates directory" not in r.stderr  # no certificates on the new host yet

    # then started normally, with the bare password: the only member, A's objects, A's CAs and token file
    b = cluster(2, ["--cluster-init", "--token", TOKEN])
    assert "Starting etcd for new cluster" in b.proc.log()
    assert b.api("GET", "/api/v1/namespaces/default/configmaps/kept")[1]["data"] == {"v": "from-a"}
    for f in ("server-ca.crt", "server-ca.key", "client-ca.crt", "request-header-ca.key", "etcd/peer-ca.crt",
              "etcd/server-ca.key"):
        assert (b.dir / "server" / "tls" / f).read_bytes() == (a / "tls" / f).read_bytes(), f
    assert (b.dir / "server" / "token").read_text() == a_token
    members = json.loads((b.dir / "server" / "db" / "etcd" / "member.json").read_text())["members"]
    assert [m["name"].rsplit("-", 1)[0] for m in members] == ["srv2"]
    assert not (b.dir / "server" / "db" / "reset-flag").exists()
    assert "Saved bootstrap data to the datastore" not in b.proc.log()

    # another new host joins it with A's token: the CA from /v1-k3s/server-bootstrap, the bootstrap data replicated
    c = cluster(3, ["--server", join_url(b), "--token", a_token.strip()])
    assert (c.dir / "server" / "tls" / "server-ca.crt").read_bytes() == (a / "tls" / "server-ca.crt").read_bytes()
    assert c.api("GET", "/api/v1/namespaces/default/configmaps/kept")[1]["data"] == {"v": "from-a"}
    assert len(json.loads((b.dir / "server" / "db" / "etcd" / "member.json").read_text())["members"]) == 2
    assert bootstrap_keys(c.dir / "server") == bootstrap_keys(b.dir / "server") == bootstrap_keys(a)
    assert len(bootstrap_keys(a)) == 1


def test_restore_on_a_new_host_with_another_token_is_refused(k3s_bin, kenv, cluster, tmp_path):  # noqa: F811
    snap, a = cluster_a(k3s_bin, kenv, cluster, tmp_path)
    b = new_host(cluster, kenv, 2)
    r = run(k3s_bin, b.args(["--cluster-init", "--cluster-reset", "--cluster-reset-restore-path", str(snap),
                             "--token", "another"]), kenv.env)
    assert r.returncode == 1, r.stderr
    fatal = [line for line in r.stderr.splitlines() if "level=fatal" in line]
    assert fatal and 'msg="bootstrap data already found and encrypted with different token"' in fatal[-1], r.stderr
    # K3s wrote reset-flag before etcd came up; the next start reconciles again and fails the same way
    b = cluster(2, ["--cluster-init", "--token", "another"], wait=False)
    assert b.proc.proc.wait(30) == 1
    fatal = [line for line in b.proc.log().splitlines() if "level=fatal" in line]
    assert fatal and "Failed to reconcile with temporary etcd: bootstrap data already found and encrypted with " \
        "different token" in fatal[-1], b.proc.log()
    assert "k3s is up and running" not in b.proc.log()
    assert not (b.dir / "server" / "tls" / "server-ca.crt").exists()


def test_restore_on_a_new_host_needs_a_token_and_a_plain_reset_needs_etcd(k3s_bin, kenv, cluster,  # noqa: F811
                                                                           tmp_path):
    snap, _ = cluster_a(k3s_bin, kenv, cluster, tmp_path)
    b = new_host(cluster, kenv, 2)
    r = run(k3s_bin, b.args(["--cluster-init", "--cluster-reset", "--cluster-reset-restore-path", str(snap)]),
            kenv.env)
    assert r.returncode == 1
    assert "%s does not exist, please pass --token to complete the restoration" % (b.dir / "server" / "token") \
        in r.stderr
    r = run(k3s_bin, b.args(["--cluster-init", "--cluster-reset", "--token", TOKEN]), kenv.env)
    assert r.returncode == 1
    assert "cluster-reset requires embedded etcd" in r.stderr
    assert not (b.dir / "server" / "db" / "etcd").exists()
    assert not (b.dir / "server" / "db" / "reset-flag").exists()


def test_restore_of_a_snapshot_without_bootstrap_data_saves_it_at_the_next_start(k3s_bin, kenv, cluster,  # noqa: F811
                                                                                 tmp_path):
    """A snapshot taken before the double kept bootstrap data in etcd: nothing to reconcile; the next start
    stores the CAs on disk."""
    snap, a = cluster_a(k3s_bin, kenv, cluster, tmp_path)
    db = sqlite3.connect(str(snap))
    db.execute("DELETE FROM objects WHERE name LIKE '/bootstrap/%'")
    db.commit()
    db.close()
    r = run(k3s_bin, cluster.nodes[0].args(["--cluster-reset", "--cluster-reset-restore-path", str(snap)]), kenv.env)
    assert r.returncode == 0, r.stderr
    assert "Reconciling bootstrap data" not in r.stderr
    ca = (a / "tls" / "server-ca.crt").read_bytes()
    s1 = cluster(1, ["--token", TOKEN])
    assert "Saved bootstrap data to the datastore" in s1.proc.log()
    assert (a / "tls" / "server-ca.crt").read_bytes() == ca
    assert s1.api("GET", "/api/v1/namespaces/default/configmaps/kept")[1]["data"] == {"v": "from-a"}
    assert len(bootstrap_keys(a)) == 1
