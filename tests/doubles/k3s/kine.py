"""External datastore for the K3s double, kine-like (PostgreSQL, MySQL/MariaDB),
and external etcd (``http(s)://h1:2379,https://h2:2379``), stdlib only.

SQL layout follows kine: one table ``kine`` (id = revision, name = key,
created, deleted, create_revision, prev_revision, lease, value, old_value)
with a unique index on (name, prev_revision), so concurrent writers of one
key conflict.  Keys: ``/registry/<resource>/[<namespace>/]<name>`` for API
objects (JSON without resourceVersion; the row id is the resourceVersion),
``/bootstrap/<sha256(token password)[:12]>`` for the encrypted bootstrap data
(cluster CAs and keys, agent token password), ``/kubeforge/meta/<key>`` for
small settings.  Superseded rows of a key are deleted right after a newer row
is written (kine compacts later).
External etcd (``EtcdStore``, through ``etcdv3.Client``, the v3 JSON gateway):
the same keys, stored as plain etcd keys; the resourceVersion is the key's
mod_revision, creates are a txn on create_revision == 0, updates a txn on
the mod_revision read before, deletes a deleterange.  Several endpoints fail
over; TLS from datastore-cafile/-certfile/-keyfile (system CAs without a CA file).
No local cache: every API read is a query, so a write through one server is
visible through every other server at once.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import socket
import threading
import time
import uuid
from urllib.parse import parse_qs, unquote, urlsplit

from common import keystream

from . import etcdv3, klog, mywire, pgwire
from .state import Conflict, Unavailable, now_rfc3339

TIMEOUT_ENV = "KUBEFORGE_DOUBLE_DATASTORE_TIMEOUT"  # TEST HOOK ONLY: seconds of connect retries (default 30)
DEFAULT_DB = "kubernetes"


class DatastoreError(Exception):
    pass


class AuthError(DatastoreError):
    """Credentials refused: not retried."""


# ---------------------------------------------------------------------------
# DSN parsing

def parse_endpoint(ds):
    """-> dict(kind=postgres|mysql|etcd|sqlite, ...)."""
    if ds.startswith("sqlite://"):
        return {"kind": "sqlite", "path": ds[len("sqlite://"):]}
    if ds.startswith(("postgres://", "postgresql://")):
        u = urlsplit(ds)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        return {"kind": "postgres", "host": u.hostname or "localhost", "port": u.port or 5432,
                "user": unquote(u.username or "postgres"), "password": unquote(u.password or ""),
                "database": unquote(u.path.lstrip("/")) or DEFAULT_DB, "sslmode": q.get("sslmode", "prefer")}
    if ds.startswith("mysql://"):
        rest = ds[len("mysql://"):]
        userinfo, at, hostpart = rest.rpartition("@")
        if not at:
            userinfo, hostpart = "", rest
        user, _, password = userinfo.partition(":")
        m = re.match(r"^(?:tcp\((?P<a>[^)]*)\)|(?P<b>[^/]*))(?:/(?P<db>[^?]*))?(?:\?(?P<q>.*))?$", hostpart)
        if not m:
            raise DatastoreError("invalid DSN: %s" % redact(ds))
        addr = m.group("a") if m.group("a") is not None else m.group("b")
        host, _, port = addr.rpartition(":") if ":" in addr else (addr, "", "")
        host = host.strip("[]") or "127.0.0.1"
        return {"kind": "mysql", "host": host, "port": int(port or 3306), "user": unquote(user or "root"),
                "password": unquote(password), "database": unquote(m.group("db") or "") or DEFAULT_DB}
    if ds.startswith(("http://", "https://")):
        return {"kind": "etcd", "endpoints": [e.strip() for e in ds.split(",") if e.strip()]}
    raise DatastoreError("unsupported datastore endpoint %s" % redact(ds))


def redact(ds):
    """Hide the password of a DSN (for logs)."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1********@", ds)


def go_dial_error(host, port, e):
    addr = "%s:%d" % ("[%s]" % host if ":" in host else host, port)
    if isinstance(e, socket.gaierror):
        return "dial tcp: lookup %s: no such host" % host
    if isinstance(e, (socket.timeout, TimeoutError)):
        return "dial tcp %s: i/o timeout" % addr
    if isinstance(e, OSError) and e.errno:
        return "dial tcp %s: connect: %s" % (addr, (os.strerror(e.errno) or str(e)).lower())
    return "dial tcp %s: %s" % (addr, e)


# ---------------------------------------------------------------------------
# SQL dialects

class _SQL:
    """One connection, serialized by a lock, reconnected once on I/O errors."""

    def __init__(self, ep, tls):
        self.ep = ep
        self.tls = tls
        self.lock = threading.RLock()
        self.conn = None

    def describe(self):
        return "%s:%d" % (self.ep["host"], self.ep["port"])

    def run(self, sql):
        with self.lock:
            for attempt in (0, 1):
                try:
                    if self.conn is None:
                        self.conn = self.connect(self.ep["database"])
                    return self._run(sql)
                except (OSError, ConnectionError) as e:
                    self._drop()
                    if attempt:
                        raise DatastoreError(go_dial_error(self.ep["host"], self.ep["port"], e))

    def _drop(self):
        if self.conn is not None:
            try:
                self.conn.sock.close()
            except OSError:
                pass
        self.conn = None

    def close(self):
        with self.lock:
            if self.conn is not None:
                self.conn.close()
            self.conn = None


class Postgres(_SQL):
    name = "postgres"
    SCHEMA = [
        "CREATE TABLE IF NOT EXISTS kine (id BIGSERIAL PRIMARY KEY, name text COLLATE \"C\", created INTEGER, "
        "deleted INTEGER, create_revision BIGINT, prev_revision BIGINT, lease INTEGER, value bytea, old_value bytea)",
        "CREATE INDEX IF NOT EXISTS kine_name_index ON kine (name)",
        "CREATE INDEX IF NOT EXISTS kine_name_id_index ON kine (name, id)",
        "CREATE UNIQUE INDEX IF NOT EXISTS kine_name_prev_revision_uindex ON kine (name, prev_revision)",
    ]
    quote = staticmethod(pgwire.quote_literal)
    blob = staticmethod(pgwire.bytea_literal)

    def connect(self, database):
        ep, t = self.ep, self.tls
        return pgwire.Connection(ep["host"], ep["port"], ep["user"], ep["password"], database,
                                 sslmode=ep.get("sslmode", "prefer"), cafile=t.get("cafile"),
                                 certfile=t.get("certfile"), keyfile=t.get("keyfile"))

    def _run(self, sql):
        return self.conn.query(sql)[1]

    def open(self):
        """Connect, creating the database if missing.  Raises AuthError,
        DatastoreError or OSError."""
        ep = self.ep
        try:
            try:
                self.conn = self.connect(ep["database"])
            except pgwire.PgError as e:
                if e.code != "3D000":
                    raise
                klog.info("Database %s does not exist; creating it", ep["database"])
                admin = self.connect("postgres")
                try:
                    admin.query("CREATE DATABASE " + pgwire.quote_ident(ep["database"]))
                except pgwire.PgError as e2:
                    if e2.code != "42P04":
                        raise
                finally:
                    admin.close()
                self.conn = self.connect(ep["database"])
            for stmt in self.SCHEMA:
                self.conn.query(stmt)
        except pgwire.PgError as e:
            self._drop()
            msg = "failed to connect to `host=%s user=%s database=%s`: server error (%s)" % (
                ep["host"], ep["user"], ep["database"], e)
            if e.code.startswith("28"):
                raise AuthError(msg)
            raise DatastoreError(msg)

    def insert(self, sql_values):
        rows = self.run("INSERT INTO kine(name, created, deleted, create_revision, prev_revision, lease, value, "
                        "old_value) VALUES (%s) RETURNING id" % sql_values)
        return int(rows[0][0])

    def is_unique_violation(self, e):
        return isinstance(e, pgwire.PgError) and e.code == "23505"

    def errors(self):
        return (pgwire.PgError,)


class MySQL(_SQL):
    name = "mysql"
    SCHEMA = [
        "CREATE TABLE IF NOT EXISTS kine (id BIGINT UNSIGNED AUTO_INCREMENT, name VARCHAR(630) CHARACTER SET ascii, "
        "created INTEGER, deleted INTEGER, create_revision BIGINT UNSIGNED, prev_revision BIGINT UNSIGNED, "
        "lease INTEGER, value MEDIUMBLOB, old_value MEDIUMBLOB, PRIMARY KEY (id), "
        "KEY kine_name_index (name), KEY kine_name_id_index (name, id), "
        "UNIQUE KEY kine_name_prev_revision_uindex (name, prev_revision))",
    ]
    quote = staticmethod(mywire.quote_literal)
    blob = staticmethod(mywire.blob_literal)

    def connect(self, database):
        ep = self.ep
        return mywire.Connection(ep["host"], ep["port"], ep["user"], ep["password"], database)

    def _run(self, sql):
        return self.conn.query(sql)[1]

    def open(self):
        ep = self.ep
        try:
            try:
                self.conn = self.connect(ep["database"])
            except mywire.MyError as e:
                if e.code != 1049:  # ER_BAD_DB_ERROR
                    raise
                klog.info("Database %s does not exist; creating it", ep["database"])
                admin = self.connect(None)
                try:
                    admin.query("CREATE DATABASE IF NOT EXISTS " + mywire.quote_ident(ep["database"]))
                finally:
                    admin.close()
                self.conn = self.connect(ep["database"])
            for stmt in self.SCHEMA:
                self.conn.query(stmt)
        except mywire.MyError as e:
            self._drop()
            if e.code in (1044, 1045, 1698, 2059):
                raise AuthError(str(e))
            raise DatastoreError(str(e))

    def insert(self, sql_values):
        with self.lock:
            self.run("INSERT INTO kine(name, created, deleted, create_revision, prev_revision, lease, value, "
                     "old_value) VALUES (%s)" % sql_values)
            return int(self.conn.last_insert_id)

    def is_unique_violation(self, e):
        return isinstance(e, mywire.MyError) and e.code == 1062

    def errors(self):
        return (mywire.MyError,)


def _int(v):
    return int(v.decode() if isinstance(v, bytes) else v)


def _bytes(v):
    if v is None:
        return b""
    return v if isinstance(v, bytes) else v.encode()


# ---------------------------------------------------------------------------
# store facade (same interface as state.Store)

# The apiserver's storage prefixes where they differ from the resource name.
STORAGE_PREFIX = {"nodes": "minions"}


def registry_key(resource, name, namespace=""):
    return "/registry/%s/%s%s" % (STORAGE_PREFIX.get(resource, resource), namespace + "/" if namespace else "", name)


class KineStore:
    def __init__(self, db):
        self.db = db
        self.wlock = threading.Lock()

    # raw key/value ------------------------------------------------------------
    def latest(self, key):
        rows = self.db.run("SELECT id, deleted, value FROM kine WHERE name = %s ORDER BY id DESC LIMIT 1"
                           % self.db.quote(key))
        if not rows:
            return None
        return _int(rows[0][0]), bool(_int(rows[0][1])), _bytes(rows[0][2])

    def prefix(self, prefix):
        rows = self.db.run("SELECT id, name, deleted, value FROM kine WHERE name LIKE %s ORDER BY id"
                           % self.db.quote(prefix + "%"))
        out = {}
        for rid, name, deleted, value in rows:
            name = name.decode() if isinstance(name, bytes) else name
            if name.startswith(prefix):
                out[name] = (_int(rid), bool(_int(deleted)), _bytes(value))
        return {k: v for k, v in out.items() if not v[1]}

    def _insert(self, key, value, prev, created, deleted):
        vals = ", ".join([self.db.quote(key), str(int(created)), str(int(deleted)), "0", str(prev), "0",
                          self.db.blob(value), self.db.blob(b"")])
        return self.db.insert(vals)

    def _compact(self, key, rid):
        try:
            self.db.run("DELETE FROM kine WHERE name = %s AND id < %d" % (self.db.quote(key), rid))
        except self.db.errors() + (DatastoreError,) as e:
            klog.debug("kine: compaction of %s failed: %s", key, e)

    def put_new(self, key, value):
        """Create key; raises Conflict if it exists (also on a concurrent create)."""
        cur = self.latest(key)
        if cur and not cur[1]:
            raise Conflict(key)
        try:
            rid = self._insert(key, value, cur[0] if cur else 0, True, False)
        except self.db.errors() as e:
            if self.db.is_unique_violation(e):
                raise Conflict(key)
            raise
        if cur:
            self._compact(key, rid)
        return rid

    def put(self, key, value, must_exist=True, deleted=False):
        for _ in range(20):
            cur = self.latest(key)
            if (cur is None or cur[1]) and must_exist:
                raise KeyError(key)
            try:
                rid = self._insert(key, value, cur[0] if cur else 0, cur is None or cur[1], deleted)
            except self.db.errors() as e:
                if self.db.is_unique_violation(e):
                    time.sleep(0.01 * secrets.randbelow(10))
                    continue
                raise
            self._compact(key, rid)
            return rid
        raise Conflict(key)

    # Store interface ------------------------------------------------------------
    @staticmethod
    def _decode(rid, value):
        obj = json.loads(value.decode())
        obj.setdefault("metadata", {})["resourceVersion"] = str(rid)
        return obj

    @staticmethod
    def _encode(obj):
        o = dict(obj)
        md = dict(o.get("metadata") or {})
        md.pop("resourceVersion", None)
        o["metadata"] = md
        return json.dumps(o, sort_keys=True).encode()

    def get(self, resource, name, namespace=""):
        cur = self.latest(registry_key(resource, name, namespace))
        if cur is None or cur[1]:
            return None
        return self._decode(cur[0], cur[2])

    def list(self, resource, namespace=None):
        pre = "/registry/%s/" % STORAGE_PREFIX.get(resource, resource) + (namespace + "/" if namespace else "")
        items = self.prefix(pre)
        out = []
        for key in sorted(items):
            rest = key[len(pre):]
            if namespace and "/" in rest:
                continue
            rid, _, value = items[key]
            out.append(self._decode(rid, value))
        return out

    def current_rv(self):
        rows = self.db.run("SELECT MAX(id) FROM kine")
        return _int(rows[0][0]) if rows and rows[0][0] is not None else 1

    def create(self, resource, obj, namespace=""):
        md = obj.setdefault("metadata", {})
        md.setdefault("uid", str(uuid.uuid4()))
        md.setdefault("creationTimestamp", now_rfc3339())
        rid = self.put_new(registry_key(resource, md["name"], namespace), self._encode(obj))
        md["resourceVersion"] = str(rid)
        return obj

    def update(self, resource, obj, namespace=""):
        md = obj["metadata"]
        rid = self.put(registry_key(resource, md["name"], namespace), self._encode(obj))
        md["resourceVersion"] = str(rid)
        return obj

    def delete(self, resource, name, namespace=""):
        try:
            self.put(registry_key(resource, name, namespace), b"", must_exist=True, deleted=True)
        except KeyError:
            return False
        return True

    def get_meta(self, key, default=None):
        cur = self.latest("/kubeforge/meta/" + key)
        return cur[2].decode() if cur and not cur[1] else default

    def set_meta(self, key, value):
        self.put("/kubeforge/meta/" + key, str(value).encode(), must_exist=False)

    def close(self):
        self.db.close()


class EtcdStore(KineStore):
    """KineStore's interface on an external etcd (an etcdv3.Client).  Only the
    raw key/value layer differs; the object layer (get, list, create, update,
    get_meta, set_meta) is KineStore's.  Deleted keys are gone (no tombstones),
    so the ``deleted`` flag of latest()/prefix() is always False.  etcd errors
    surface as state.Unavailable (the API answers 500 with the message)."""

    def __init__(self, client):
        self.client = client
        self.db = None

    def _do(self, fn, *args):
        try:
            return fn(*args)
        except etcdv3.EtcdError as e:
            raise Unavailable(str(e))

    # raw key/value ------------------------------------------------------------
    def latest(self, key):
        kv = self._do(self.client.get, key)
        return None if kv is None else (kv["mod_revision"], False, kv["value"])

    def prefix(self, prefix):
        _, kvs, _ = self._do(self.client.range, prefix, etcdv3.prefix_end(prefix))
        return {kv["key"].decode(): (kv["mod_revision"], False, kv["value"]) for kv in kvs}

    def put_new(self, key, value):
        """Create key; raises Conflict if it exists (also on a concurrent create)."""
        ok, rev, _ = self._do(self.client.txn, [etcdv3.cmp(key, "CREATE", 0)], [etcdv3.op_put(key, value)])
        if not ok:
            raise Conflict(key)
        return rev

    def put(self, key, value, must_exist=True, deleted=False):
        for _ in range(20):
            cur = self.latest(key)
            if cur is None and must_exist:
                raise KeyError(key)
            guard = etcdv3.cmp(key, "MOD", cur[0]) if cur else etcdv3.cmp(key, "CREATE", 0)
            op = etcdv3.op_delete(key) if deleted else etcdv3.op_put(key, value)
            ok, rev, _ = self._do(self.client.txn, [guard], [op])
            if ok:
                return rev
            time.sleep(0.01 * secrets.randbelow(10))  # a concurrent writer won: read again
        raise Conflict(key)

    # Store interface ------------------------------------------------------------
    def current_rv(self):
        rev, _, _ = self._do(self.client.range, "/registry/", None, 0, True)
        return rev or 1

    def delete(self, resource, name, namespace=""):
        deleted, _ = self._do(self.client.delete_range, registry_key(resource, name, namespace))
        return deleted > 0

    def close(self):
        self.client.close()


# ---------------------------------------------------------------------------
# bootstrap data (K3s: AES-GCM with a pbkdf2 key from the token; here an
# HMAC-SHA256 counter-mode stream cipher + HMAC tag, as the stdlib has no AES)

def bootstrap_key(password):
    return "/bootstrap/" + hashlib.sha256(password.encode()).hexdigest()[:12]


def _keys(password, salt):
    k = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 4096, 64)
    return k[:32], k[32:]


def encrypt(password, plaintext):
    salt, nonce = secrets.token_bytes(8), secrets.token_bytes(16)
    ek, mk = _keys(password, salt)
    ct = keystream.xor(ek, nonce, plaintext)
    tag = hmac.new(mk, salt + nonce + ct, hashlib.sha256).digest()
    return b"kfb1:" + base64.b64encode(salt + nonce + ct + tag)


def decrypt(password, blob):
    if not blob.startswith(b"kfb1:"):
        raise ValueError("unknown bootstrap data format")
    raw = base64.b64decode(blob[5:])
    salt, nonce, ct, tag = raw[:8], raw[8:24], raw[24:-32], raw[-32:]
    ek, mk = _keys(password, salt)
    if not hmac.compare_digest(tag, hmac.new(mk, salt + nonce + ct, hashlib.sha256).digest()):
        raise ValueError("cipher: message authentication failed")
    return keystream.xor(ek, nonce, ct)


# ---------------------------------------------------------------------------
# opening the datastore

def open_store(ds, tls, environ, stop=None):
    """Connect (retrying unreachable hosts), create database and table.
    Returns a KineStore-compatible store.  Fatal like K3s on failure."""
    ep = parse_endpoint(ds)
    kind = ep["kind"]
    pre = "starting kubernetes: preparing server: creating storage endpoint: building kine: "
    try:
        timeout = float(environ.get(TIMEOUT_ENV) or 30)
    except ValueError:
        timeout = 30.0
    if kind == "etcd":
        return open_etcd(ep["endpoints"], tls, timeout, stop)
    backend = (Postgres if kind == "postgres" else MySQL)(ep, tls)
    klog.info("Configuring %s database connection pooling: maxIdleConns=2, maxOpenConns=0, connMaxLifetime=0s",
              kind)
    deadline = time.time() + timeout
    while True:
        try:
            backend.open()
            break
        except AuthError as e:
            klog.error("failed to ping connection: %s", e)
            klog.fatal(pre + "%s", e)
        except (DatastoreError, OSError, ConnectionError) as e:
            msg = str(e) if isinstance(e, DatastoreError) else go_dial_error(
                ep.get("host", "?"), ep.get("port", 0), e)
            klog.error("failed to ping connection: %s", msg)
            if time.time() >= deadline or (stop is not None and stop.is_set()):
                klog.fatal(pre + "failed to create datastore: %s", msg)
            time.sleep(1)
    klog.info("Database tables and indexes are up to date")
    return KineStore(backend)


def open_etcd(endpoints, tls, timeout, stop=None):
    """External etcd: check the TLS files (fatal at once when unusable), then
    retry a linearizable read on the endpoints until one answers or the
    deadline passes (fatal, naming every endpoint with its cause)."""
    pre = "starting kubernetes: preparing server: creating storage endpoint: "
    t = tls or {}
    try:
        client = etcdv3.Client(endpoints, cafile=t.get("cafile") or "", certfile=t.get("certfile") or "",
                               keyfile=t.get("keyfile") or "", dial_error=go_dial_error)
    except ValueError as e:
        klog.fatal(pre + "%s", e)
    except etcdv3.TLSConfigError as e:
        klog.fatal(pre + "failed to create datastore: %s", e)
    client.on_failover = lambda old, new, cause: klog.warn(
        "etcd endpoint failed, switching to %s: %s", new, cause)
    klog.info("Connecting to external etcd datastore at %s", ",".join(ep.url for ep in client.endpoints))
    deadline = time.time() + timeout
    while True:
        try:
            client.range("/registry/", None, 0, True)
            break
        except etcdv3.EtcdError as e:
            klog.error("failed to ping connection: %s", e)
            if time.time() >= deadline or (stop is not None and stop.is_set()):
                client.close()
                klog.fatal(pre + "failed to create datastore: %s", e)
            time.sleep(1)
    try:
        ver = client.status().get("version") or "?"
    except etcdv3.EtcdError:
        ver = "?"
    klog.info("Connected to etcd %s at %s", ver, client.endpoints[client.current].url)
    return EtcdStore(client)
