"""Rolling upgrades and rollbacks: K3s double builds of different minors started on one data dir.

Embedded etcd records the newest etcd version that ran on a member (server/db/etcd/member/version) and refuses,
as etcd does, a start with an older etcd minor (1.33 embeds etcd 3.5, 1.34 and 1.35 etcd 3.6); SQLite servers
have no such check. A server or agent restarted with a newer build reports the new version on its Node.
Servers on loopback with free high ports, as in test_ha.py."""
import json
import urllib.request

import pytest

from k3s_double_helpers import OLD, OLDEST, run
from test_agent import Proc
from test_build_mirror import tree_digest  # path -> (sha256, permission bits) of every file
from test_ha import cluster  # noqa: F401  (fixture)
from test_server import request

from k3s import etcd, klog, version  # noqa: E402  (tests/doubles is on sys.path via k3s_double_helpers)

TOKEN = "upgradesecret"
DOWNGRADE = "invalid downgrade; server version is lower than determined cluster version"


def etcd_dir(n):
    return n.dir / "server" / "db" / "etcd"


def recorded(n):
    return (etcd_dir(n) / "member" / "version").read_text().strip()


def etcd_client_version(n):
    with urllib.request.urlopen("http://127.0.0.1:%d/version" % n.client, timeout=5) as r:
        return json.loads(r.read())


def node_info(n):
    return n.api("GET", "/api/v1/nodes/srv%d" % n.i)[1]["status"]["nodeInfo"]


def configmap(name):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"},
            "data": {"v": name}}


def zap_fatal(log):
    """etcd's fatal lines (zap JSON) in a log."""
    out = []
    for line in log.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("level") == "fatal":
                out.append(entry)
    return out


def assert_refused(n, server_version, cluster_version):
    assert n.proc.proc.wait(30) == 1, n.proc.log()
    fatal = zap_fatal(n.proc.log())
    assert len(fatal) == 1, n.proc.log()
    assert fatal[0]["msg"] == DOWNGRADE
    assert fatal[0]["current-server-version"] == server_version
    assert fatal[0]["determined-cluster-version"] == cluster_version
    assert "k3s is up and running" not in n.proc.log()


# -- in process: the version table and the record -------------------------------------------------------------

@pytest.mark.parametrize("minor,want", [(30, "3.5.21"), (33, "3.5.21"), (34, "3.6.5"), (35, "3.6.7"), (36, "3.6.7")])
def test_embedded_etcd_version_per_minor(minor, want):
    assert version.etcd_version(minor) == want


def test_the_record_keeps_the_newest_version_and_refuses_an_older_minor(tmp_path, capsys):
    d = str(tmp_path)
    assert etcd.recorded_version(d) is None
    etcd.check_downgrade(d, "3.5.21")  # no record: nothing to refuse
    assert etcd.record_version(d, "3.6.7") == "3.6.7"
    assert etcd.record_version(d, "3.6.5") == "3.6.7"  # a patch rollback does not lower the record
    assert (tmp_path / "member" / "version").read_text() == "3.6.7\n"
    etcd.check_downgrade(d, "3.6.5")
    assert capsys.readouterr().err == ""
    with pytest.raises(klog.Fatal) as e:
        etcd.check_downgrade(d, "3.5.21")
    assert e.value.code == 1
    line = json.loads(capsys.readouterr().err)
    assert list(line)[:4] == ["level", "ts", "caller", "msg"]
    assert {k: line[k] for k in ("level", "msg", "current-server-version", "determined-cluster-version")} == {
        "level": "fatal", "msg": DOWNGRADE, "current-server-version": "3.5.21", "determined-cluster-version": "3.6"}


# -- embedded etcd ---------------------------------------------------------------------------------------------

def test_upgrade_133_to_134_then_the_rollback_is_refused(cluster, k3s_bin_oldest, k3s_bin_old):  # noqa: F811
    s = cluster(1, ["--cluster-init", "--token", TOKEN], binary=k3s_bin_oldest)
    assert recorded(s) == "3.5.21"
    assert etcd_client_version(s) == {"etcdserver": "3.5.21", "etcdcluster": "3.5.0"}
    assert node_info(s)["kubeletVersion"] == OLDEST
    assert s.api("POST", "/api/v1/namespaces/default/configmaps", configmap("before-upgrade"))[0] == 201
    assert s.proc.stop() == 0

    # the upgrade: the newer build takes the data over and the Node reports the new version
    s = cluster(1, ["--token", TOKEN], binary=k3s_bin_old)
    assert "Starting etcd for existing cluster member" in s.proc.log()
    assert DOWNGRADE not in s.proc.log()
    assert recorded(s) == "3.6.5"
    assert etcd_client_version(s) == {"etcdserver": "3.6.5", "etcdcluster": "3.6.0"}
    info = node_info(s)
    assert (info["kubeletVersion"], info["kubeProxyVersion"]) == (OLD, OLD)
    assert s.api("GET", "/version")[1]["gitVersion"] == OLD
    assert s.api("GET", "/api/v1/namespaces/default/configmaps/before-upgrade")[0] == 200
    assert s.proc.stop() == 0

    # the rollback: etcd 3.5 on data of cluster version 3.6
    before = tree_digest(etcd_dir(s))
    s = cluster(1, ["--token", TOKEN], wait=False, binary=k3s_bin_oldest)
    assert_refused(s, "3.5.21", "3.6")
    assert tree_digest(etcd_dir(s)) == before


def test_rollback_135_to_133_is_refused_and_leaves_the_data(cluster, kenv, k3s_bin_oldest, k3s_bin_old):  # noqa: F811
    s = cluster(1, ["--cluster-init", "--token", TOKEN])
    assert recorded(s) == "3.6.7"
    assert s.api("POST", "/api/v1/namespaces/default/configmaps", configmap("on-135"))[0] == 201
    assert s.proc.stop() == 0
    before = tree_digest(etcd_dir(s))

    s = cluster(1, ["--token", TOKEN], wait=False, binary=k3s_bin_oldest)
    assert_refused(s, "3.5.21", "3.6")
    assert tree_digest(etcd_dir(s)) == before
    # a cluster-reset starts the member too: refused the same way, and no reset-flag
    r = run(k3s_bin_oldest, s.args(["--cluster-reset"]), kenv.env)
    assert r.returncode == 1 and [e["msg"] for e in zap_fatal(r.stderr)] == [DOWNGRADE], r.stderr
    assert not (s.dir / "server" / "db" / "reset-flag").exists()
    assert tree_digest(etcd_dir(s)) == before

    # 1.34 embeds etcd 3.6 as well: etcd lets a patch release go back; the record keeps the newest version
    s = cluster(1, ["--token", TOKEN], binary=k3s_bin_old)
    assert recorded(s) == "3.6.7"
    assert node_info(s)["kubeletVersion"] == OLD
    assert s.api("GET", "/api/v1/namespaces/default/configmaps/on-135")[0] == 200


# -- SQLite and agents -----------------------------------------------------------------------------------------

def test_sqlite_server_has_no_etcd_version_check(start_server, kenv, k3s_bin_oldest):
    """kine keeps no version; what real K3s does after such a rollback is not the double's to decide: it starts."""
    s = start_server(["--token", TOKEN, "--node-name", "lite"])
    assert s.up, s.log()
    assert s.stop() == 0
    s = start_server(["--token", TOKEN, "--node-name", "lite"], binary=k3s_bin_oldest)
    assert s.up, s.log()
    assert DOWNGRADE not in s.log()
    assert not (kenv.data / "server" / "db" / "etcd").exists()
    info = json.loads(request(kenv, "/api/v1/nodes/lite")[2])["status"]["nodeInfo"]
    assert info["kubeletVersion"] == OLDEST


def test_agent_restarted_with_a_newer_build_reports_its_version(start_server, kenv, k3s_bin_oldest, k3s_bin_old):
    s = start_server(["--token", TOKEN])
    assert s.up, s.log()
    args = ["agent", "-d", str(kenv.tmp / "agent"), "--server", "https://127.0.0.1:%d" % kenv.port,
            "--token", TOKEN, "--node-name", "worker"]
    for i, (binary, tag) in enumerate(((k3s_bin_oldest, OLDEST), (k3s_bin_old, OLD))):
        a = Proc(binary, args, kenv.env, kenv.tmp / ("agent-%d.log" % i))
        try:
            assert a.wait_log("k3s agent is up and running"), a.log()
            info = json.loads(request(kenv, "/api/v1/nodes/worker")[2])["status"]["nodeInfo"]
            assert (info["kubeletVersion"], info["kubeProxyVersion"]) == (tag, tag)
        finally:
            assert a.stop() == 0
    assert "already registered" in a.log()
