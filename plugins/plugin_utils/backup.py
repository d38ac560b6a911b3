# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups of the collection's clusters: the manifest, its checks before a restore, and retention.

Pure logic, no I/O: the roles hand in what they read (file checksums and sizes, the running version, the
fingerprint of the token a cluster uses) and get back a manifest, a list of problems or the folders to delete.
"""
from __future__ import annotations

import re
from typing import Any

FORMAT = 1
# A backup folder's name: the UTC time it was taken, e.g. 20261204T170102Z. Retention deletes only such folders.
STAMP = re.compile(r"^[0-9]{8}T[0-9]{6}Z$")
# What each file of a backup is for: the datastore; K3s's token and certificates; kubeadm's PKI, its CA certificate
# and its configuration. A restore needs the datastore and the file that identifies the cluster (token or ca).
ROLES = ("datastore", "token", "tls", "pki", "ca", "config")
REQUIRED = {"k3s": ("datastore", "token"), "kubeadm": ("datastore", "pki", "ca")}
REQUIRED_ROLES = REQUIRED["k3s"]
# The distributions and datastores whose backup and restore the collection carries out; an external datastore only
# with one of ENGINES on a host of the inventory's datastores group (the datastore role's), which dumps it. A kubeadm
# cluster's datastore is its stacked etcd, whatever cluster_datastore (K3s's variable) says.
KUBEADM_DATASTORE = "stacked-etcd"
SUPPORTED = (("k3s", "sqlite"), ("k3s", "etcd"), ("k3s", "external"), ("kubeadm", KUBEADM_DATASTORE))
ENGINES = ("postgresql", "mysql", "etcd")
_VERSION = re.compile(r"^v?([0-9]+)\.([0-9]+)\.[0-9]+")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BackupError(ValueError):
    """Input the backup helpers cannot work with (a programming error of the caller, not a bad backup)."""


def _minor(version: str) -> tuple[int, int] | None:
    match = _VERSION.match(str(version or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def datastore_of(cluster: dict[str, Any]) -> str:
    """The datastore a backup of the cluster holds: K3s's cluster_datastore, or a kubeadm cluster's stacked etcd."""
    if cluster.get("distribution") == "kubeadm":
        return KUBEADM_DATASTORE
    return str(cluster.get("datastore") or "")


def unsupported(cluster: dict[str, Any], engine: str = "") -> str:
    """Why the cluster's datastore cannot be backed up or restored by the collection; empty when it can.

    ``engine``: the external datastore's engine (``postgresql``, ``mysql``, ``etcd``), from its endpoint."""
    kind = (cluster.get("distribution"), datastore_of(cluster))
    supported = ("K3s with SQLite, embedded etcd, or PostgreSQL, MariaDB or etcd on the inventory's datastore hosts, "
                 "and kubeadm with its stacked etcd")
    if kind not in SUPPORTED:
        return ("cluster '%s' is a %s cluster with datastore %s, and this version of kubeforge.cluster backs up and "
                "restores %s only; leave it out of the run (--limit)" % (cluster.get("name"), kind[0], kind[1], supported))
    if kind[1] == "external" and engine not in ENGINES:
        return ("cluster '%s' keeps its data in an external %s datastore, and this version of kubeforge.cluster backs "
                "up and restores %s only; leave it out of the run (--limit)"
                % (cluster.get("name"), engine or "unknown", supported))
    if kind[1] == "external" and not cluster.get("datastores"):
        return ("cluster '%s' keeps its data in an external %s datastore that no host of the run provides (the "
                "datastores group): the backup is taken on that host with the datastore's own tools; add it to the "
                "run, or back the datastore up yourself" % (cluster.get("name"), engine))
    return ""


def build_manifest(files: list[dict[str, Any]], cluster: dict[str, Any], version: str, created: str,
                   source: str, engine: str = "") -> dict[str, Any]:
    """The manifest of a backup.

    ``files``: ``{"name", "role", "sha256", "size"}`` per file of the backup folder (``role`` one of ROLES);
    ``cluster``: the cluster's plan (``name``, ``distribution``, ``datastore``); ``version``: the version that
    runs; ``created``: the UTC time (RFC 3339); ``source``: the host the backup was taken on; ``engine``: an
    external datastore's engine (``postgresql``, ``mysql``), empty for the others.
    """
    entries = []
    for item in files:
        name, role = str(item.get("name") or ""), item.get("role")
        if not name or "/" in name or name in (".", "..", "manifest.json"):
            raise BackupError("a backup file needs a plain file name, not %r" % name)
        if role not in ROLES:
            raise BackupError("backup file %s: role %r is not one of %s" % (name, role, ", ".join(ROLES)))
        sha = str(item.get("sha256") or "")
        if not _SHA256.match(sha):
            raise BackupError("backup file %s: %r is not a sha256 digest" % (name, sha))
        entries.append({"name": name, "role": role, "sha256": sha, "size": int(item.get("size") or 0)})
    missing = [r for r in REQUIRED.get(cluster["distribution"], REQUIRED_ROLES) if r not in {e["role"] for e in entries}]
    if missing:
        raise BackupError("a backup needs a %s file" % " and a ".join(missing))
    return {
        "format": FORMAT,
        "cluster": cluster["name"],
        "distribution": cluster["distribution"],
        "datastore": datastore_of(cluster),
        "engine": engine,
        "version": version,
        "created": created,
        "source": source,
        "files": sorted(entries, key=lambda e: e["name"]),
    }


def restore_problems(manifest: Any, found: dict[str, dict[str, Any]], cluster: dict[str, Any], version: str,
                     token_sha256: str | None, confirm: list[str], where: str, engine: str = "",
                     backup_token_sha256: str | None = None) -> list[str]:
    """What stops the restore of the backup at ``where`` into ``cluster``; empty when it may go ahead.

    ``found``: per file name of the folder, ``{"sha256", "size"}`` as read now; ``version``: the version that runs
    on the cluster's servers (on new hosts, the version the restore builds them at); ``token_sha256``: what
    identifies the cluster now, the sha256 of K3s's token password (``server/token`` without its CA hash, which a
    restore on new hosts changes back) or of kubeadm's ``/etc/kubernetes/pki/ca.crt``; None when the first server
    has none, as on new hosts, which the restore builds with the backup's token or CA first; ``confirm``: the
    cluster names of ``restore_confirm``; ``engine``: the external datastore's engine now;
    ``backup_token_sha256``: the sha256 of the password of the backup's K3s token (the caller reads the file).
    """
    name = cluster["name"]
    kubeadm = cluster.get("distribution") == "kubeadm"
    problems: list[str] = []
    reason = unsupported(cluster, engine)
    if reason:
        return [reason]
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), list):
        return ["%s/manifest.json is not a kubeforge backup manifest (format %s): restore_from must name a folder that "
                "playbooks/backup.yml wrote" % (where, FORMAT)]
    if name not in confirm:
        problems.append("restore_confirm must name the cluster a restore replaces: run again with "
                        "-e restore_confirm=%s (it names %s)" % (name, ", ".join(confirm) or "no cluster"))
    if manifest.get("cluster") != name:
        problems.append("%s holds a backup of cluster '%s', not of '%s': restore_from must name one of '%s''s backups"
                        % (where, manifest.get("cluster"), name, name))
    now = {"distribution": cluster.get("distribution"), "datastore": datastore_of(cluster)}
    for key in ("distribution", "datastore"):
        if manifest.get(key) != now[key]:
            problems.append("%s is a backup of a %s %s, and cluster '%s' has %s %s: a backup is restored into the "
                            "same %s" % (where, key, manifest.get(key), name, key, now[key], key))
    if (manifest.get("engine") or "") != (engine or ""):
        problems.append("%s is a dump of a %s database, and cluster '%s' uses %s: a dump is restored into the same "
                        "database engine" % (where, manifest.get("engine") or "no external", name, engine or "none"))
    have, want = _minor(version), _minor(manifest.get("version"))
    if have is None or want is None or have != want:
        problems.append("%s was taken on %s and cluster '%s' runs %s: a backup is restored into the same minor "
                        "release; set the cluster's version to a %s release and run site.yml first"
                        % (where, manifest.get("version"), name, version or "no known version",
                           "v%d.%d" % want if want else "matching"))
    for entry in manifest["files"]:
        file_name = str(entry.get("name"))
        now = found.get(file_name)
        if now is None:
            problems.append("%s/%s is listed in manifest.json but missing: the backup is incomplete; use another one"
                            % (where, file_name))
        elif now.get("sha256") != entry.get("sha256") or int(now.get("size") or 0) != int(entry.get("size") or 0):
            problems.append("%s/%s does not match manifest.json (sha256 %s, size %s; listed %s, %s): the file was "
                            "changed or damaged; use another backup"
                            % (where, file_name, now.get("sha256"), now.get("size"), entry.get("sha256"),
                               entry.get("size")))
        if entry.get("role") == "token" and not kubeadm and token_sha256 is not None \
                and token_sha256 != backup_token_sha256:
            problems.append("the token in %s is not the token of cluster '%s' now (the password in server/token "
                            "differs): restoring it would lock the servers out of their own datastore; restore a "
                            "backup of this cluster, or run playbooks/reset.yml on the cluster first so that the "
                            "restore builds it again with the backup's token" % (where, name))
        if entry.get("role") == "ca" and kubeadm and token_sha256 is not None and token_sha256 != entry.get("sha256"):
            problems.append("the cluster CA in %s is not the CA of cluster '%s' now (/etc/kubernetes/pki/ca.crt "
                            "differs): its control planes, kubelets and kubeconfigs trust the CA they have, and a "
                            "kubeadm backup is restored onto the cluster it was taken of; restore a backup of this "
                            "cluster" % (where, name))
    roles = {e.get("role") for e in manifest["files"]}
    problems.extend("%s/manifest.json lists no %s file: the backup cannot be restored" % (where, r)
                    for r in REQUIRED.get(str(cluster.get("distribution")), REQUIRED_ROLES) if r not in roles)
    return problems


def expired_backups(names: list[str], keep: int) -> list[str]:
    """The backup folders to delete so that the ``keep`` newest stay: only names that are backup time stamps."""
    if int(keep) < 1:
        raise BackupError("backup_keep must be 1 or more, not %s" % keep)
    stamps = sorted(n for n in names if STAMP.match(str(n)))
    return stamps[:-int(keep)] if len(stamps) > int(keep) else []


# Scheduled etcd snapshots: K3s's own settings (docs cli/etcd-snapshot.md, cli/server.md), from the collection's variables.
_CRON_FIELD = re.compile(r"^[0-9*/,\-]+$")
_CRON_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_EVERY = re.compile(r"^@every ([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
# The S3 options a user may give, each to its K3s setting; bucket and endpoint are required.
S3_OPTIONS = {
    "bucket": "etcd-s3-bucket", "endpoint": "etcd-s3-endpoint", "region": "etcd-s3-region",
    "folder": "etcd-s3-folder", "access_key": "etcd-s3-access-key", "secret_key": "etcd-s3-secret-key",
    "endpoint_ca": "etcd-s3-endpoint-ca", "skip_ssl_verify": "etcd-s3-skip-ssl-verify", "insecure": "etcd-s3-insecure",
    "timeout": "etcd-s3-timeout", "retention": "etcd-s3-retention",
}
_S3_BOOLS = ("skip_ssl_verify", "insecure")


def cron_problem(schedule: str) -> str:
    """Why ``schedule`` is not a cron schedule K3s accepts (five fields, or a descriptor); empty when it is."""
    text = str(schedule).strip()
    if text in _CRON_DESCRIPTORS or _EVERY.match(text):
        return ""
    fields = text.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        return ("%r is not a cron schedule: give five fields (minute hour day-of-month month day-of-week, e.g. "
                "'0 */6 * * *') or a descriptor such as @daily or '@every 6h'" % text)
    return ""


def snapshot_settings(schedule: str, retention: int, s3: Any, datastore: str) -> dict[str, Any]:
    """The K3s settings of scheduled etcd snapshots; raises BackupError naming the variable and the fix.

    ``schedule`` (empty: K3s's default), ``retention`` (0: K3s's default), ``s3`` (empty: no S3; else the options of
    S3_OPTIONS), ``datastore``: the cluster's (the settings need embedded etcd). The S3 secret never appears in a
    message."""
    settings: dict[str, Any] = {}
    given = bool(str(schedule or "").strip()) or int(retention or 0) != 0 or bool(s3)
    if not given:
        return settings
    if datastore != "etcd":
        raise BackupError("k3s_server_etcd_snapshot_schedule, _retention and _s3 set K3s's scheduled etcd snapshots, "
                          "and this cluster's datastore is %s: set cluster_datastore to etcd, or leave them unset "
                          "(back a %s cluster up with playbooks/backup.yml)" % (datastore, datastore))
    if str(schedule or "").strip():
        problem = cron_problem(schedule)
        if problem:
            raise BackupError("k3s_server_etcd_snapshot_schedule: " + problem)
        settings["etcd-snapshot-schedule-cron"] = str(schedule).strip()
    if int(retention or 0) < 0:
        raise BackupError("k3s_server_etcd_snapshot_retention must be 1 or more (0: K3s's default of 5), not %s" % retention)
    if int(retention or 0) > 0:
        settings["etcd-snapshot-retention"] = int(retention)
    if s3:
        if not isinstance(s3, dict):
            raise BackupError("k3s_server_etcd_snapshot_s3 must be a dict of S3 options (%s)" % ", ".join(S3_OPTIONS))
        unknown = sorted(str(k) for k in s3 if k not in S3_OPTIONS)
        if unknown:
            raise BackupError("k3s_server_etcd_snapshot_s3 has unknown options %s; the options are %s"
                              % (", ".join(unknown), ", ".join(S3_OPTIONS)))
        missing = [k for k in ("bucket", "endpoint") if not str(s3.get(k) or "").strip()]
        if missing:
            raise BackupError("k3s_server_etcd_snapshot_s3 needs %s: the S3 %s K3s uploads the snapshots to"
                              % (" and ".join(missing), " and ".join(missing)))
        if bool(s3.get("access_key")) != bool(s3.get("secret_key")):
            raise BackupError("k3s_server_etcd_snapshot_s3 gives one of access_key and secret_key: give both, or neither "
                              "(K3s then takes the node's IAM role or AWS_* environment)")
        settings["etcd-s3"] = True
        for key, value in s3.items():
            if key in _S3_BOOLS:
                settings[S3_OPTIONS[key]] = bool(value)
            elif key == "retention":
                settings[S3_OPTIONS[key]] = int(value)
            else:
                settings[S3_OPTIONS[key]] = str(value)
    return settings


def snapshot_problem(schedule: str, retention: int, s3: Any, datastore: str) -> str:
    """What is wrong with the scheduled snapshot settings (see snapshot_settings); empty when nothing is."""
    try:
        snapshot_settings(schedule, retention, s3, datastore)
    except (BackupError, TypeError, ValueError) as exc:
        return str(exc)
    return ""
