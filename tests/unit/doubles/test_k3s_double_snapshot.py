"""`k3s etcd-snapshot` against a running server on embedded etcd, and the restore of
`k3s server --cluster-reset --cluster-reset-restore-path` (K3s pkg/etcd/snapshot*.go, pkg/cli/etcdsnapshot).
Servers on loopback with free high ports, as in test_ha.py."""
import json
import os
import re
import shutil
import stat
import zipfile

import pytest

from k3s_double_helpers import run
from test_ha import cluster, join_url  # noqa: F401  (fixture)

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
    assert s1.api("POST", "/api/v1/namespaces/default/configmaps", configmap("kept", "before"))[0] == 201
    name = SAVED.search(snapshot(k3s_bin, kenv, s1, "save").stderr).group(1)
    path = s1.dir / "server" / "db" / "snapshots" / name
    assert s1.api("POST", "/api/v1/namespaces/default/configmaps", configmap("after", "x"))[0] == 201
    s1.proc.stop()

    r = run(k3s_bin, s1.args(["--cluster-reset", "--cluster-reset-restore-path", str(path)]), kenv.env)
    assert r.returncode == 0, r.stderr
    assert "Managed etcd cluster membership has been reset, restart without --cluster-reset flag now." in r.stderr
    old = re.search(r"Pre-restore etcd database moved to ([^\s\"]+)", r.stderr).group(1)
    assert re.fullmatch(re.escape(str(s1.dir / "server" / "db" / "etcd")) + r"-old-\d+", old)
    assert (s1.dir / "server" / "db" / "reset-flag").exists()

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
