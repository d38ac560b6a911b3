"""The double's snapshot files and data directories.

A snapshot is what the simulated member (tests/doubles/k3s/etcd.py) streams from POST /v3/maintenance/snapshot:
its SQLite data file (where real etcd has its bbolt file) followed by the data's sha256, the integrity hash
etcd's Snapshot RPC appends. As in etcd (etcdutl/snapshot/v3_snapshot.go), a file has that hash when its size
modulo 512 is 32. A restore makes ``<data-dir>/member/snap/db`` from the data and ``<data-dir>/member/wal/``, and
replaces the member list kept in the data with the members of ``--initial-cluster``, as etcd does.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import zlib

from .cli import EXIT_ERROR, Exit, go_bytes

HASH_SIZE = 32
MEMBERS_KEY = "etcd-members"   # the simulated member's list, a meta row of its data (k3s/etcd.py)
STORAGE_VERSION = "3.6.0"


def split(raw: bytes) -> tuple[bytes, bytes | None]:
    """(data, appended sha256 or None)."""
    if len(raw) % 512 == HASH_SIZE:
        return raw[:-HASH_SIZE], raw[-HASH_SIZE:]
    return raw, None


def read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise Exit(EXIT_ERROR, "open %s: no such file or directory" % path)
    except OSError as e:
        raise Exit(EXIT_ERROR, "open %s: %s" % (path, (e.strerror or str(e)).lower()))


def _open_db(path: str) -> sqlite3.Connection:
    """The data as a database; bbolt's "invalid database" for anything that is not one of the double's."""
    try:
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        db.execute("SELECT count(*) FROM objects").fetchone()
        db.execute("SELECT count(*) FROM meta").fetchone()
        return db
    except sqlite3.DatabaseError:
        raise Exit(EXIT_ERROR, "invalid database")


def status(path: str) -> dict[str, object]:
    """etcdutl snapshot status: the data's hash (crc32 here), revision, key count, size and storage version."""
    data, _ = split(read(path))
    tmp = path + ".status-%d" % os.getpid()
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        db = _open_db(tmp)
        try:
            keys = db.execute("SELECT count(*) FROM objects").fetchone()[0]
            rv = int((db.execute("SELECT value FROM meta WHERE key='rv'").fetchone() or ["1"])[0])
        finally:
            db.close()
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return {"hash": zlib.crc32(data), "revision": rv, "totalKey": keys, "totalSize": len(data),
            "version": STORAGE_VERSION}


def parse_initial_cluster(text: str) -> list[tuple[str, str]]:
    out = []
    for item in [i for i in text.split(",") if i]:
        name, sep, url = item.partition("=")
        if not sep or not name or not url:
            raise Exit(EXIT_ERROR, "URL address does not have the form \"host:port\": %s" % item)
        out.append((name, url))
    return out


def restore(path: str, data_dir: str, wal_dir: str, name: str, initial_cluster: str, peer_urls: str,
            skip_hash_check: bool, log=None) -> None:
    """etcdutl snapshot restore; raises Exit with etcd's message."""
    members = parse_initial_cluster(initial_cluster)
    mine = [u for n, u in members if n == name]
    if not mine:
        raise Exit(EXIT_ERROR, "couldn't find local name %s in the initial cluster configuration" % json.dumps(name))
    advertised = sorted(u for u in peer_urls.split(",") if u)
    if sorted(mine) != advertised:
        raise Exit(EXIT_ERROR, "--initial-cluster has %s=%s but missing from --initial-advertise-peer-urls=%s"
                   % (name, ",".join(sorted(mine)), ",".join(advertised)))
    data_dir = data_dir or name + ".etcd"
    if os.path.exists(data_dir) and (not os.path.isdir(data_dir) or os.listdir(data_dir)):
        raise Exit(EXIT_ERROR, "data-dir %s not empty or could not be read" % json.dumps(data_dir))
    wal = wal_dir or os.path.join(data_dir, "member", "wal")
    if wal_dir and os.path.exists(wal_dir):
        raise Exit(EXIT_ERROR, "wal-dir %s exists" % json.dumps(wal_dir))
    snap_dir = os.path.join(data_dir, "member", "snap")
    if log:
        log("info", "snapshot/v3_snapshot.go:305", "restoring snapshot", path=path, **{"wal-dir": wal,
            "data-dir": data_dir, "snap-dir": snap_dir})
    data, sha = split(read(path))
    if sha is None and not skip_hash_check:
        raise Exit(EXIT_ERROR, "snapshot missing hash but --skip-hash-check=false")
    if sha is not None and not skip_hash_check:
        got = hashlib.sha256(data).digest()
        if got != sha:
            raise Exit(EXIT_ERROR, "expected sha256 %s, got %s" % (go_bytes(sha), go_bytes(got)))
    os.makedirs(snap_dir, 0o700, exist_ok=True)
    os.makedirs(wal, 0o700, exist_ok=True)
    for d in (data_dir, os.path.join(data_dir, "member"), snap_dir, wal):
        os.chmod(d, 0o700)
    db_path = os.path.join(snap_dir, "db")
    with open(db_path, "wb") as fh:
        fh.write(data)
    os.chmod(db_path, 0o600)
    try:
        db = _open_db(db_path)
        db.close()
        db = sqlite3.connect(db_path)
        try:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                       (MEMBERS_KEY, json.dumps([{"name": n, "peerURL": u} for n, u in members])))
            db.commit()
        finally:
            db.close()
    except Exit:
        os.unlink(db_path)
        raise
    with open(os.path.join(wal, "0000000000000000-0000000000000000.wal"), "wb") as fh:
        fh.write(b"kubeforge etcd double: the member list of the restore is in member/snap/db\n")
    os.chmod(os.path.join(wal, "0000000000000000-0000000000000000.wal"), 0o600)
    if log:
        log("info", "snapshot/v3_snapshot.go:333", "restored snapshot", path=path, **{"wal-dir": wal,
            "data-dir": data_dir, "snap-dir": snap_dir})
