from __future__ import annotations

import re
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeforge.cluster.plugins.filter.backup import FilterModule
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.backup import (
    BackupError,
    build_manifest,
    cron_problem,
    expired_backups,
    restore_problems,
    snapshot_problem,
    snapshot_settings,
    unsupported,
)

EDGE = {"name": "edge", "distribution": "k3s", "datastore": "etcd"}
SHA = {"snap": "a" * 64, "token": "b" * 64, "tls": "c" * 64}
FILES = [
    {"name": "token", "role": "token", "sha256": SHA["token"], "size": 108},
    {"name": "kubeforge-edge-1-1700000000", "role": "datastore", "sha256": SHA["snap"], "size": 4096},
]
WHERE = "/b/edge/20261204T170102Z"
# The sha256 of the password of the backup's token: what a restore compares with the password of server/token now.
PASSWORD = "9" * 64


def manifest(**over: Any) -> dict[str, Any]:
    m = build_manifest(FILES, EDGE, "v1.35.1+k3s1", "2026-12-04T17:01:02Z", "edge-1")
    m.update(over)
    return m


def found(m: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: {"sha256": e["sha256"], "size": e["size"]} for e in m["files"]}


def problems(m: Any = None, f: dict[str, Any] | None = None, cluster: dict[str, Any] = EDGE,
             version: str = "v1.35.3+k3s1", token: str | None = PASSWORD, confirm: tuple[str, ...] = ("edge",)) -> list[str]:
    m = manifest() if m is None else m
    return restore_problems(m, found(m) if f is None else f, cluster, version, token, list(confirm), WHERE,
                            backup_token_sha256=PASSWORD)


def test_manifest_names_the_cluster_and_every_file_sorted() -> None:
    m = manifest()
    assert m["format"] == 1
    assert (m["cluster"], m["distribution"], m["datastore"], m["version"], m["source"]) == (
        "edge", "k3s", "etcd", "v1.35.1+k3s1", "edge-1")
    assert [e["name"] for e in m["files"]] == ["kubeforge-edge-1-1700000000", "token"]
    assert m["files"][1] == {"name": "token", "role": "token", "sha256": SHA["token"], "size": 108}


@pytest.mark.parametrize("bad, text", [
    ({"name": "a/b"}, "plain file name"),
    ({"name": "manifest.json"}, "plain file name"),
    ({"role": "other"}, "role 'other'"),
    ({"sha256": "xyz"}, "not a sha256"),
])
def test_manifest_refuses_bad_entries(bad: dict[str, Any], text: str) -> None:
    entry = dict(FILES[1], **bad)
    with pytest.raises(BackupError, match=text):
        build_manifest([FILES[0], entry], EDGE, "v1.35.1+k3s1", "t", "h")


def test_manifest_needs_the_datastore_and_the_token() -> None:
    with pytest.raises(BackupError, match="needs a datastore file"):
        build_manifest([FILES[0]], EDGE, "v1", "t", "h")
    with pytest.raises(BackupError, match="needs a token file"):
        build_manifest([FILES[1]], EDGE, "v1", "t", "h")


def test_a_good_backup_of_the_same_minor_restores() -> None:
    assert problems() == []
    # servers rebuilt without a token yet: nothing to compare
    assert problems(token=None) == []


def test_restore_needs_the_cluster_named() -> None:
    (p,) = problems(confirm=())
    assert "-e restore_confirm=edge" in p and "names no cluster" in p
    (p,) = problems(confirm=("lab",))
    assert "it names lab" in p


def test_a_backup_of_another_cluster_is_refused() -> None:
    (p,) = problems(manifest(cluster="lab"))
    assert "holds a backup of cluster 'lab', not of 'edge'" in p


def test_another_datastore_or_distribution_is_refused() -> None:
    (p,) = problems(manifest(datastore="sqlite"))
    assert "datastore sqlite" in p and "datastore etcd" in p
    (p,) = problems(manifest(distribution="kubeadm"))
    assert "distribution kubeadm" in p


@pytest.mark.parametrize("version", ["v1.34.9+k3s1", "v1.36.0+k3s1", "", "stable"])
def test_another_minor_is_refused(version: str) -> None:
    (p,) = problems(version=version)
    assert "same minor release" in p and "v1.35" in p


def test_a_changed_file_is_refused_with_both_digests() -> None:
    m = manifest()
    f = found(m)
    f["token"] = {"sha256": "d" * 64, "size": 108}
    (p,) = problems(m, f)
    assert p.startswith(WHERE + "/token does not match manifest.json") and "d" * 64 in p and SHA["token"] in p


def test_a_truncated_file_is_refused() -> None:
    m = manifest()
    f = found(m)
    f["kubeforge-edge-1-1700000000"]["size"] = 10
    (p,) = problems(m, f)
    assert "does not match manifest.json" in p


def test_a_missing_file_is_refused() -> None:
    m = manifest()
    f = found(m)
    del f["token"]
    (p,) = problems(m, f)
    assert "token is listed in manifest.json but missing" in p


def test_another_token_is_refused() -> None:
    (p,) = problems(token="e" * 64)
    assert "not the token of cluster 'edge'" in p
    assert "playbooks/reset.yml" in p
    assert "e" * 64 not in p and PASSWORD not in p


def test_the_token_is_compared_by_its_password_not_its_ca_hash() -> None:
    # The file's sha256 (SHA["token"]) is not what counts: new hosts write another CA hash until the restore is done.
    assert problems(token=PASSWORD) == []
    assert problems(token=SHA["token"]) != []


def test_new_hosts_without_a_token_are_built_with_the_backups() -> None:
    assert problems(token=None) == []


@pytest.mark.parametrize("bad", [None, [], {"format": 2, "files": []}, {"format": 1, "files": "x"}])
def test_not_a_manifest(bad: Any) -> None:
    (p,) = restore_problems(bad, {}, EDGE, "v1.35.1", None, ["edge"], WHERE)
    assert "is not a kubeforge backup manifest" in p


def test_a_manifest_without_a_token_file_is_refused() -> None:
    m = manifest()
    m["files"] = [e for e in m["files"] if e["role"] != "token"]
    assert problems(m) == [WHERE + "/manifest.json lists no token file: the backup cannot be restored"]


def test_several_problems_are_all_reported() -> None:
    assert len(problems(manifest(cluster="lab", datastore="sqlite"), confirm=(), version="v1.34.0")) == 4


def test_retention_keeps_the_newest_and_touches_only_time_stamps() -> None:
    names = ["20261203T000000Z", "notes", "20261201T000000Z", "20261204T000000Z", "2026-12-02", "20261202T000000Z"]
    assert expired_backups(names, 2) == ["20261201T000000Z", "20261202T000000Z"]
    assert expired_backups(names, 4) == []
    assert expired_backups([], 1) == []
    with pytest.raises(BackupError, match="backup_keep must be 1 or more"):
        expired_backups(names, 0)


def test_filters_turn_errors_into_filter_errors() -> None:
    f = FilterModule().filters()
    assert f["backup_expired"](["20261201T000000Z"], 1) == []
    with pytest.raises(AnsibleFilterError, match="backup_keep"):
        f["backup_expired"]([], 0)
    with pytest.raises(AnsibleFilterError, match="needs a"):
        f["backup_manifest"]([], EDGE, "v", "t", "h")


HUB = {"name": "hub", "distribution": "kubeadm", "datastore": "sqlite"}
HUB_FILES = [
    {"name": "etcd-snapshot.db", "role": "datastore", "sha256": "d" * 64, "size": 8224},
    {"name": "pki.tar.gz", "role": "pki", "sha256": "e" * 64, "size": 9000},
    {"name": "ca.crt", "role": "ca", "sha256": "f" * 64, "size": 1100},
    {"name": "kubeadm-config.yaml", "role": "config", "sha256": "0" * 64, "size": 700},
]
HUB_WHERE = "/b/hub/20261205T030000Z"


def hub_problems(ca: str | None = "f" * 64, cluster: dict[str, Any] = HUB, **over: Any) -> list[str]:
    m = build_manifest(HUB_FILES, HUB, "v1.35.2", "2026-12-05T03:00:00Z", "hub-cp")
    m.update(over)
    return restore_problems(m, found(m), cluster, "v1.35.3", ca, ["hub"], HUB_WHERE)


def test_kubeadm_backs_up_its_stacked_etcd_whatever_cluster_datastore_says() -> None:
    assert unsupported(HUB) == unsupported(dict(HUB, datastore="etcd")) == ""
    m = build_manifest(HUB_FILES, HUB, "v1.35.2", "2026-12-05T03:00:00Z", "hub-cp")
    assert (m["distribution"], m["datastore"]) == ("kubeadm", "stacked-etcd")
    assert hub_problems() == []


def test_a_kubeadm_backup_needs_its_snapshot_pki_and_ca() -> None:
    for role in ("datastore", "pki", "ca"):
        with pytest.raises(BackupError, match="a backup needs a %s file" % role):
            build_manifest([f for f in HUB_FILES if f["role"] != role], HUB, "v1.35.2", "t", "hub-cp")
    # the K3s token is no part of it
    build_manifest(HUB_FILES, HUB, "v1.35.2", "t", "hub-cp")


def test_a_kubeadm_backup_is_restored_onto_the_cluster_of_its_ca_or_new_hosts() -> None:
    other = hub_problems(ca="9" * 64)
    assert len(other) == 1 and "the cluster CA in %s is not the CA of cluster 'hub'" % HUB_WHERE in other[0]
    # New hosts (no ca.crt yet) get the backup's PKI before kubeadm init.
    assert hub_problems(ca=None) == []


def test_k3s_and_kubeadm_backups_do_not_cross() -> None:
    k3s_into_hub = restore_problems(manifest(cluster="hub"), found(manifest()), HUB, "v1.35.2", "f" * 64, ["hub"],
                                    WHERE)
    assert any("is a backup of a distribution k3s, and cluster 'hub' has distribution kubeadm" in p
               for p in k3s_into_hub)
    hub_into_k3s = restore_problems(
        build_manifest(HUB_FILES, HUB, "v1.35.2", "t", "hub-cp") | {"cluster": "edge"},
        {f["name"]: {"sha256": f["sha256"], "size": f["size"]} for f in HUB_FILES}, EDGE, "v1.35.1+k3s1",
        SHA["token"], ["edge"], WHERE)
    assert any("datastore stacked-etcd, and cluster 'edge' has datastore etcd" in p for p in hub_into_k3s)
    assert any("lists no token file" in p for p in hub_into_k3s)


def test_an_external_database_needs_its_engine_supported_and_its_host_in_the_run() -> None:
    external = dict(EDGE, datastore="external", datastores=["db-1"])
    assert unsupported(external, "postgresql") == unsupported(external, "mysql") == unsupported(external, "etcd") == ""
    assert "an external nats datastore" in unsupported(external, "nats")
    assert "no host of the run provides" in unsupported(dict(external, datastores=[]), "postgresql")


def test_a_dump_is_restored_into_the_same_engine() -> None:
    external = dict(EDGE, datastore="external", datastores=["db-1"])
    m = build_manifest(FILES, external, "v1.35.1+k3s1", "t", "s1", "mysql")
    assert m["engine"] == "mysql"
    assert restore_problems(m, found(m), external, "v1.35.1+k3s1", PASSWORD, ["edge"], WHERE, "mysql", PASSWORD) == []
    (p,) = restore_problems(m, found(m), external, "v1.35.1+k3s1", PASSWORD, ["edge"], WHERE, "postgresql", PASSWORD)
    assert "a dump of a mysql database" in p and "uses postgresql" in p


@pytest.mark.parametrize("schedule", ["0 */6 * * *", "*/5 1-3 1,15 * 0", "@daily", "@every 6h", "@every 1h30m"])
def test_cron_schedules_k3s_takes(schedule: str) -> None:
    assert cron_problem(schedule) == ""


@pytest.mark.parametrize("schedule", ["0 */6 * *", "every day", "0 6 * * * *", "@sometimes", "@every 6"])
def test_what_is_not_a_cron_schedule(schedule: str) -> None:
    assert "is not a cron schedule: give five fields" in cron_problem(schedule)


def test_snapshot_settings_only_what_is_set() -> None:
    assert snapshot_settings("", 0, {}, "sqlite") == {}
    assert snapshot_settings("@daily", 0, {}, "etcd") == {"etcd-snapshot-schedule-cron": "@daily"}
    assert snapshot_settings("", 10, None, "etcd") == {"etcd-snapshot-retention": 10}
    s3 = {"bucket": "snaps", "endpoint": "minio:9000", "access_key": "AK", "secret_key": "very-secret",
          "insecure": "yes", "retention": "7", "folder": "edge"}
    assert snapshot_settings("", 0, s3, "etcd") == {
        "etcd-s3": True, "etcd-s3-bucket": "snaps", "etcd-s3-endpoint": "minio:9000", "etcd-s3-access-key": "AK",
        "etcd-s3-secret-key": "very-secret", "etcd-s3-insecure": True, "etcd-s3-retention": 7, "etcd-s3-folder": "edge"}


@pytest.mark.parametrize("args, text", [
    (("@daily", 0, {}, "sqlite"), "this cluster's datastore is sqlite: set cluster_datastore to etcd"),
    (("0 6 * *", 0, {}, "etcd"), "k3s_server_etcd_snapshot_schedule: '0 6 * *' is not a cron schedule"),
    (("", -1, {}, "etcd"), "k3s_server_etcd_snapshot_retention must be 1 or more"),
    (("", 0, {"bucket": "b"}, "etcd"), "k3s_server_etcd_snapshot_s3 needs endpoint"),
    (("", 0, {"endpoint": "e"}, "etcd"), "needs bucket:"),
    (("", 0, {"bucket": "b", "endpoint": "e", "acces_key": "x"}, "etcd"), "unknown options acces_key"),
    (("", 0, {"bucket": "b", "endpoint": "e", "secret_key": "very-secret"}, "etcd"), "give both, or neither"),
    (("", 0, "bucket=b", "etcd"), "must be a dict of S3 options"),
])
def test_snapshot_settings_refused_with_the_fix(args: tuple, text: str) -> None:
    with pytest.raises(BackupError, match=re.escape(text)):
        snapshot_settings(*args)
    problem = snapshot_problem(*args)
    assert text in problem and "very-secret" not in problem


def test_snapshot_problem_is_empty_when_valid() -> None:
    assert snapshot_problem("@hourly", 3, {"bucket": "b", "endpoint": "e"}, "etcd") == ""
