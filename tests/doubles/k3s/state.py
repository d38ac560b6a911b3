"""A tiny kine-like object store in a real SQLite database.

Objects are Kubernetes-style JSON documents keyed by (resource, namespace,
name).  A single global resourceVersion counter is kept in table ``meta``.
Reused by the API server in api.py (and by a future kubeadm double).
"""
import json
import sqlite3
import threading
import uuid

from common import timestamps


def now_rfc3339():
    return timestamps.format_rfc3339()


class Conflict(Exception):
    pass


class Unavailable(Exception):
    """The datastore cannot commit a write (no etcd quorum).  The API maps it
    to a 500 Status whose message is the exception text."""


# The resource under which raw keys live beside the objects (K3s keeps its bootstrap data at the etcd key
# /bootstrap/<hash>, outside /registry): no API resource has this name.  The body is the value as a JSON string.
RAW_KEYS = "~raw-keys"


class Store:
    def __init__(self, path):
        self.path = path
        self._lock = threading.RLock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript("""
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS objects (
                resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
                rv INTEGER NOT NULL, body TEXT NOT NULL,
                PRIMARY KEY (resource, namespace, name));
        """)
        self.db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('rv', '1')")

    def close(self):
        with self._lock:
            self.db.close()

    def backup(self, path):
        """A consistent copy of the whole store in a new SQLite file at ``path`` (SQLite's online backup)."""
        with self._lock:
            dst = sqlite3.connect(path)
            try:
                self.db.backup(dst)
            finally:
                dst.close()

    # -- meta ------------------------------------------------------------
    def get_meta(self, key, default=None):
        with self._lock:
            row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key, value):
        with self._lock:
            self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, str(value)))

    def current_rv(self):
        return int(self.get_meta("rv", "1"))

    def _next_rv(self):
        rv = int(self.db.execute("SELECT value FROM meta WHERE key='rv'").fetchone()[0]) + 1
        self.db.execute("UPDATE meta SET value=? WHERE key='rv'", (str(rv),))
        return rv

    # -- objects ---------------------------------------------------------
    def get(self, resource, name, namespace=""):
        with self._lock:
            row = self.db.execute("SELECT body FROM objects WHERE resource=? AND namespace=? AND name=?",
                                  (resource, namespace, name)).fetchone()
        return json.loads(row[0]) if row else None

    def list(self, resource, namespace=None):
        with self._lock:
            if namespace is None:
                rows = self.db.execute("SELECT body FROM objects WHERE resource=? ORDER BY namespace, name",
                                       (resource,)).fetchall()
            else:
                rows = self.db.execute("SELECT body FROM objects WHERE resource=? AND namespace=? ORDER BY name",
                                       (resource, namespace)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def create(self, resource, obj, namespace=""):
        md = obj.setdefault("metadata", {})
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                exists = self.db.execute("SELECT 1 FROM objects WHERE resource=? AND namespace=? AND name=?",
                                         (resource, namespace, md["name"])).fetchone()
                if exists:
                    raise Conflict(md["name"])
                rv = self._next_rv()
                md.setdefault("uid", str(uuid.uuid4()))
                md.setdefault("creationTimestamp", now_rfc3339())
                md["resourceVersion"] = str(rv)
                self.db.execute("INSERT INTO objects(resource, namespace, name, rv, body) VALUES (?,?,?,?,?)",
                                (resource, namespace, md["name"], rv, json.dumps(obj, sort_keys=True)))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return obj

    def update(self, resource, obj, namespace=""):
        md = obj["metadata"]
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                rv = self._next_rv()
                md["resourceVersion"] = str(rv)
                cur = self.db.execute("UPDATE objects SET rv=?, body=? WHERE resource=? AND namespace=? AND name=?",
                                      (rv, json.dumps(obj, sort_keys=True), resource, namespace, md["name"]))
                if cur.rowcount == 0:
                    raise KeyError(md["name"])
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return obj

    # -- raw keys (kine.KineStore's interface: K3s's bootstrap data) ---------
    def prefix(self, prefix):
        """{key: (revision, False, value bytes)} of the raw keys starting with ``prefix``."""
        with self._lock:
            rows = self.db.execute("SELECT name, rv, body FROM objects WHERE resource=? AND namespace=''",
                                   (RAW_KEYS,)).fetchall()
        return {name: (rv, False, json.loads(body).encode()) for name, rv, body in rows if name.startswith(prefix)}

    def latest(self, key):
        """(revision, False, value bytes) of a raw key, or None."""
        return self.prefix(key).get(key)

    def put_new(self, key, value):
        """Create a raw key in this store only (etcd.ReplicatedStore replicates); Conflict if it exists."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                if self.db.execute("SELECT 1 FROM objects WHERE resource=? AND namespace='' AND name=?",
                                   (RAW_KEYS, key)).fetchone():
                    raise Conflict(key)
                rv = self._next_rv()
                self.db.execute("INSERT INTO objects(resource, namespace, name, rv, body) VALUES (?,?,?,?,?)",
                                (RAW_KEYS, "", key, rv, json.dumps(value.decode())))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return rv

    # -- replication support (etcd.py) ------------------------------------
    def reserve_rv(self):
        """Allocate the next revision without writing an object."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                rv = self._next_rv()
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return rv

    def apply_op(self, op):
        """Apply a replicated op {rv, resource, namespace, name, body|None}
        with per-object last-writer-wins by revision.  Returns True if applied."""
        rv = int(op["rv"])
        key = (op["resource"], op.get("namespace", ""), op["name"])
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                cur = int(self.db.execute("SELECT value FROM meta WHERE key='rv'").fetchone()[0])
                if rv > cur:
                    self.db.execute("UPDATE meta SET value=? WHERE key='rv'", (str(rv),))
                row = self.db.execute("SELECT rv FROM objects WHERE resource=? AND namespace=? AND name=?",
                                      key).fetchone()
                applied = False
                if row is None or row[0] < rv:
                    if op.get("body") is None:
                        self.db.execute("DELETE FROM objects WHERE resource=? AND namespace=? AND name=?", key)
                    else:
                        self.db.execute("INSERT OR REPLACE INTO objects(resource, namespace, name, rv, body) "
                                        "VALUES (?,?,?,?,?)", key + (rv, op["body"]))
                    applied = True
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return applied

    def dump(self):
        with self._lock:
            rows = self.db.execute("SELECT resource, namespace, name, rv, body FROM objects").fetchall()
            rv = int(self.db.execute("SELECT value FROM meta WHERE key='rv'").fetchone()[0])
        return {"rv": rv, "objects": [list(r) for r in rows]}

    def load(self, snap):
        """Merge a full-state snapshot: newer objects win; local objects that are
        absent from the snapshot and not newer than it are deleted."""
        srv = int(snap["rv"])
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                have = {(r[0], r[1], r[2]): r[3] for r in
                        self.db.execute("SELECT resource, namespace, name, rv FROM objects").fetchall()}
                seen = set()
                for res, ns, name, rv, body in snap["objects"]:
                    seen.add((res, ns, name))
                    if have.get((res, ns, name), -1) < rv:
                        self.db.execute("INSERT OR REPLACE INTO objects(resource, namespace, name, rv, body) "
                                        "VALUES (?,?,?,?,?)", (res, ns, name, rv, body))
                for key, rv in have.items():
                    if key not in seen and rv <= srv:
                        self.db.execute("DELETE FROM objects WHERE resource=? AND namespace=? AND name=?", key)
                cur = int(self.db.execute("SELECT value FROM meta WHERE key='rv'").fetchone()[0])
                if srv > cur:
                    self.db.execute("UPDATE meta SET value=? WHERE key='rv'", (str(srv),))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def delete(self, resource, name, namespace=""):
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self._next_rv()
                cur = self.db.execute("DELETE FROM objects WHERE resource=? AND namespace=? AND name=?",
                                      (resource, namespace, name))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return cur.rowcount > 0
