"""Embedded etcd snapshots: the server's /db/snapshot handler, `k3s etcd-snapshot`, and the restore of
`k3s server --cluster-reset --cluster-reset-restore-path` (K3s pkg/etcd/snapshot*.go, pkg/cli/etcdsnapshot).

As in newer K3s, the CLI does not open the database: it posts a request ``{"operation": "save"|"list"|"delete"|
"prune", "name": [...], "dir": ..., "compress": ..., "retention": ...}`` to the running local server's supervisor
API (``--server``, default https://127.0.0.1:6443), as the user ``server`` with the token (``--token``, else
``<data-dir>/server/token``). The server saves ``<name>-<node name>-<unix seconds>`` in its snapshot directory
(``<data-dir>/server/db/snapshots`` unless ``dir`` is set, made 0700 when missing; another directory must exist),
zipped to ``<file>.zip`` when ``compress`` is set, and answers ``{"created": [...], "deleted": [...]}``; a list
answers an ETCDSnapshotFileList. Save from the CLI never prunes; prune keeps the ``retention`` newest files whose
name starts with ``<name>-<node name>`` (none pruned when retention < 1).

The double's snapshot file is a consistent copy of its etcd store (SQLite's online backup), so a restore puts
back exactly the objects (and the member list) of the moment it was taken, and the cluster's bootstrap data:
as in K3s, the server that started the cluster stores its CAs (certificates and keys), encrypted with the token
password, under the key ``/bootstrap/<hash of the password>`` of its etcd (server.py save_bootstrap). The
restore moves ``server/db/etcd`` to ``server/db/etcd-old-<unix seconds>`` when there is one (a new host has
none) and makes a new one from the file, with this server as the only member; the server then writes those
CAs to ``server/tls`` (K3s's rebootstrap), so a snapshot restored on new hosts with the original token brings
back the original cluster CA and token, and one restored with another token is refused (``bootstrap data
already found and encrypted with different token``). Not simulated: S3 (refused by name), ETCDSnapshotFile
objects in the API, the snapshot schedule (``etcd-snapshot-schedule-cron``), the extra-metadata ConfigMap.
"""
import json
import os
import shutil
import sqlite3
import sys
import time
import zipfile

from . import klog

COMPRESSED_EXTENSION = ".zip"


class SnapshotError(Exception):
    """A request the server refuses; the message is K3s's."""

    def __init__(self, message, code=500):
        Exception.__init__(self, message)
        self.code = code


def snapshot_dir(server_dir, configured, create):
    """The snapshot directory; only the default one is made when missing."""
    default = os.path.join(server_dir, "db", "snapshots")
    path = configured or default
    if path != default:
        create = False
    if not os.path.exists(path):
        if not create:
            raise SnapshotError("failed to get etcd-snapshot-dir: stat %s: no such file or directory" % path)
        os.makedirs(path, 0o700)
        os.chmod(path, 0o700)
        return path
    if not os.path.isdir(path):
        raise SnapshotError("failed to get etcd-snapshot-dir: %s is not a directory" % path)
    return path


def _timestamp(filename):
    """The unix seconds a snapshot's name ends with, or None."""
    base = filename[:-len(COMPRESSED_EXTENSION)] if filename.endswith(COMPRESSED_EXTENSION) else filename
    tail = base.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None


def save(store, server_dir, node_name, request, now=None):
    """Write a snapshot of ``store``; returns the SnapshotResult."""
    name = (request.get("name") or ["on-demand"])[0]
    directory = snapshot_dir(server_dir, request.get("dir"), True)
    stamp = int(round(time.time() if now is None else now))
    snap = "%s-%s-%d" % (name, node_name, stamp)
    path = os.path.join(directory, snap)
    klog.info("Saving etcd snapshot to %s", path)
    store.backup(path)
    os.chmod(path, 0o600)
    if request.get("compress"):
        klog.info("Compressing etcd snapshot file: %s", snap)
        zpath = path + COMPRESSED_EXTENSION
        try:
            with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.write(path, snap)
        finally:
            os.remove(path)
        os.chmod(zpath, 0o600)
        path = zpath
        klog.info("Compressed snapshot: %s", path)
    result = {"created": [os.path.basename(path)]}
    deleted = retention(directory, name, node_name, request.get("retention", 0))
    if deleted:
        result["deleted"] = deleted
    return result


def retention(directory, name, node_name, keep):
    """Remove the oldest snapshots named ``<name>-<node name>...`` beyond ``keep``; returns their names."""
    if keep is None or keep < 1:
        return []
    prefix = "%s-%s" % (name, node_name)
    klog.info("Applying local snapshot retention policy: retention: %d, snapshotPrefix: %s, directory: %s",
              keep, prefix, directory)
    files = [f for f in os.listdir(directory)
             if f.startswith(prefix) and os.path.isfile(os.path.join(directory, f))]
    files.sort(key=lambda f: (_timestamp(f) or int(os.path.getmtime(os.path.join(directory, f))), f))
    doomed = files[:max(0, len(files) - keep)]
    for f in doomed:
        klog.info("Removing local snapshot %s", os.path.join(directory, f))
        os.remove(os.path.join(directory, f))
    return doomed


def listing(server_dir, node_name, request):
    """The snapshots on this node as an ETCDSnapshotFileList."""
    directory = snapshot_dir(server_dir, request.get("dir"), True)
    items = []
    for f in sorted(os.listdir(directory)):
        path = os.path.join(directory, f)
        if not os.path.isfile(path):
            continue
        stamp = _timestamp(f) or int(os.path.getmtime(path))
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
        items.append({
            "apiVersion": "k3s.cattle.io/v1", "kind": "ETCDSnapshotFile",
            "metadata": {"name": f},
            "spec": {"snapshotName": f, "nodeName": node_name, "location": "file://" + path},
            "status": {"size": str(os.path.getsize(path)), "creationTime": created, "readyToUse": True},
        })
    return {"apiVersion": "k3s.cattle.io/v1", "kind": "ETCDSnapshotFileList", "metadata": {}, "items": items}


def delete(server_dir, request):
    names = request.get("name") or []
    for n in names:
        if os.path.basename(n) != n:
            raise SnapshotError("invalid snapshot name: path traversal not allowed", 400)
    directory = snapshot_dir(server_dir, request.get("dir"), False)
    deleted = []
    for n in names:
        path = os.path.join(directory, n)
        if os.path.isfile(path):
            klog.info("Removing local snapshot %s", path)
            os.remove(path)
            deleted.append(n)
    return {"deleted": deleted} if deleted else {}


def prune(server_dir, node_name, request):
    directory = snapshot_dir(server_dir, request.get("dir"), False)
    name = (request.get("name") or ["on-demand"])[0]
    deleted = retention(directory, name, node_name, request.get("retention", 5))
    return {"deleted": deleted} if deleted else {}


def handle(store, server_dir, node_name, request):
    """One /db/snapshot request (a dict) -> (status code, JSON-able body)."""
    if request.get("s3"):
        raise SnapshotError("etcd snapshots on S3 are not implemented by the kubeforge K3s test double", 400)
    op = request.get("operation")
    if op == "save":
        return save(store, server_dir, node_name, request)
    if op == "list":
        return listing(server_dir, node_name, request)
    if op == "delete":
        return delete(server_dir, request)
    if op == "prune":
        return prune(server_dir, node_name, request)
    raise SnapshotError("invalid snapshot operation", 400)


# -- restore (k3s server --cluster-reset --cluster-reset-restore-path) ------------------------------------

def restore(restore_path, etcd_dir, etcd_db, server_dir, now=None):
    """Move the etcd directory aside, when there is one (a new host has none), and make a new one from the
    snapshot file; the caller then resets the membership as a plain --cluster-reset does and reconciles the
    bootstrap data. Returns the directory the old data moved to, or None. Raises SnapshotError with K3s's
    message."""
    if not os.path.exists(restore_path):
        raise SnapshotError("stat %s: no such file or directory" % restore_path)
    source = restore_path
    unzipped = None
    if restore_path.endswith(COMPRESSED_EXTENSION):
        directory = snapshot_dir(server_dir, "", True)
        klog.info("Decompressing etcd snapshot file: %s", restore_path)
        with zipfile.ZipFile(restore_path) as zf:
            member = zf.namelist()[0]
            unzipped = os.path.join(directory, member[:-len(COMPRESSED_EXTENSION)]
                                    if member.endswith(COMPRESSED_EXTENSION) else member)
            with zf.open(member) as src, open(unzipped, "wb") as dst:
                shutil.copyfileobj(src, dst)
        source = unzipped
    try:
        probe = sqlite3.connect("file:%s?mode=ro" % source, uri=True)
        try:
            probe.execute("SELECT count(*) FROM objects").fetchone()
        finally:
            probe.close()
    except sqlite3.DatabaseError:
        raise SnapshotError("snapshot file %s is not an etcd snapshot: database disk image is malformed" % source)
    old = None
    if os.path.lexists(etcd_dir):
        old = "%s-old-%d" % (etcd_dir, int(time.time() if now is None else now))
        os.rename(etcd_dir, old)
        klog.info("Pre-restore etcd database moved to %s", old)
    os.makedirs(os.path.dirname(etcd_db), 0o700)
    os.chmod(etcd_dir, 0o700)
    shutil.copyfile(source, etcd_db)
    os.chmod(etcd_db, 0o600)
    # etcd's own line (a zap JSON log line, as K3s lets etcd print it)
    sys.stderr.write(json.dumps({"level": "info", "msg": "restored snapshot", "path": source,
                                 "wal-dir": os.path.join(etcd_dir, "member", "wal"), "data-dir": etcd_dir,
                                 "snap-dir": os.path.join(etcd_dir, "member", "snap")}) + "\n")
    sys.stderr.flush()
    return old


# -- the CLI ----------------------------------------------------------------------------------------------

def request_body(op, o, positional, set_flags):
    """The SnapshotRequest the CLI posts for operation ``op`` (save, list, delete, prune): dir, compress and
    retention only when given (the server's own settings apply otherwise); save never prunes."""
    body = {"operation": op}
    if op == "delete":
        body["name"] = list(positional)
    elif op in ("save", "prune"):
        body["name"] = [o["name"]]
    if "dir" in set_flags:
        body["dir"] = o["dir"]
    if "snapshot-compress" in set_flags:
        body["compress"] = bool(o["snapshot-compress"])
    if op == "save":
        body["retention"] = 0
    elif op == "prune":
        body["retention"] = o["snapshot-retention"]
    return body


def table(snapshot_list):
    """``k3s etcd-snapshot ls``: Name, Location, Size, Created, oldest first, columns padded by one space."""
    items = sorted(snapshot_list.get("items") or [],
                   key=lambda i: (i["status"].get("creationTime", ""), i["spec"]["snapshotName"]))
    rows = [("Name", "Location", "Size", "Created")]
    rows += [(i["spec"]["snapshotName"], i["spec"]["location"], str(i["status"].get("size", "0")),
              i["status"].get("creationTime", "")) for i in items]
    widths = [max(len(r[c]) for r in rows) for c in range(3)]
    return "".join("%s %s %s %s\n" % (r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].ljust(widths[2]), r[3])
                   for r in rows)


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"))
