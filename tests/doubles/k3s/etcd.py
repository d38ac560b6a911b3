"""Simulated embedded etcd for the kubeforge K3s test double (HA servers).

Not raft.  Every server keeps a full copy of the state in its own SQLite file
(``server/db/etcd/member/snap/db``, where real etcd keeps its bbolt file).

* Writes: the writer allocates the next revision, sends the op to every other
  member over the peer port and commits only when a majority of members
  (itself included) acknowledged; otherwise the API answers
  ``etcdserver: request timed out`` (500).  Members apply ops with per-object
  last-writer-wins by revision.
* Membership: a joining server POSTs itself to an existing member's
  ``/members/add``; the member list change needs a quorum of the old list and
  the answer carries a full-state snapshot.  ``remove_member`` (K3s's
  RemovePeer + etcd's MemberRemove, run when a server's Node is deleted)
  sends the shorter list to every old member, the removed one included, and
  also needs a quorum of the old list.  A member that learns it is no longer
  in the list (a members op without itself, a snapshot without itself, or its
  own removal) stops acting as a member: it refuses peer ops and its writes
  fail with etcd's ``etcdserver: the member has been permanently removed from
  the cluster``; the others no longer count it for quorum.
* Restart: a member with existing data pulls the newest snapshot from a
  reachable peer and waits until a quorum of members is reachable.
* Versions: the K3s double records its embedded etcd's server version in
  ``member/version`` (a file the double owns) when the member starts, keeping
  the newest version that ever ran on this data.  A start with an older
  major.minor than the recorded one is refused as etcd refuses a downgrade
  (``check_downgrade``).  Real etcd decides the cluster version through raft,
  as the lowest version of all members, and raises it once every member runs
  the newer minor; the double decides it per member, so it refuses the
  rollback of a member that already ran the newer minor.

Peer protocol: plain HTTP + JSON on the peer port (default 2380, bound to
0.0.0.0), authenticated by header ``X-Kubeforge-Etcd-Auth`` =
sha256("kubeforge-etcd:" + server token password).  Client port (default 2379):
GET ``/health`` and ``/version``, and two calls of etcd's gRPC gateway (JSON
over HTTP/1.1 on the client port, as real etcd serves it beside gRPC): POST
``/v3/maintenance/snapshot`` (the member's data as a stream of
``{"result": {"blob", "remaining_bytes", "version"}}`` lines, the data followed
by its sha256 as etcd's Snapshot RPC sends it) and POST
``/v3/cluster/member/list``.  Plain HTTP unless ``serve`` gets ``client_tls``
(kubeadm's etcd.yaml: --cert-file/--key-file, and with --client-cert-auth a
client certificate signed by --trusted-ca-file is required, as etcd does).
TEST HOOKS ONLY: KUBEFORGE_DOUBLE_ETCD_PEER_PORT, KUBEFORGE_DOUBLE_ETCD_CLIENT_PORT.
"""
import base64
import copy
import hashlib
import http.client
import json
import os
import secrets
import ssl
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from common import wire

from . import klog
from .state import RAW_KEYS, Conflict, Unavailable, now_rfc3339

PEER_PORT_ENV = "KUBEFORGE_DOUBLE_ETCD_PEER_PORT"
CLIENT_PORT_ENV = "KUBEFORGE_DOUBLE_ETCD_CLIENT_PORT"
AUTH_HEADER = "X-Kubeforge-Etcd-Auth"
PEER_TIMEOUT = 2.0
ETCD_VERSION = "3.5.21"   # the default; the K3s double passes the version of its build (version.etcd_version)
# the member's version record (owned by the double; real etcd keeps the cluster version in its backend)
VERSION_FILE = os.path.join("member", "version")
# etcd's fatal for a start on data of a newer cluster version (mustDetectDowngrade, membership/downgrade.go in
# etcd 3.5; the line number of the caller is not verified against 3.5.21)
ERR_INVALID_DOWNGRADE = "invalid downgrade; server version is lower than determined cluster version"
DOWNGRADE_CALLER = "membership/downgrade.go:69"
# etcd rafthttp errMemberRemoved / the error etcdserver stops with, as etcd logs it ("etcdserver: " + text)
ERR_MEMBER_REMOVED = "etcdserver: the member has been permanently removed from the cluster"


def peer_secret(password):
    return hashlib.sha256(("kubeforge-etcd:" + password).encode()).hexdigest()


def parse_version(v):
    """"3.6.7" -> (3, 6, 7); ValueError when it is not MAJOR.MINOR.PATCH."""
    parts = v.split(".")
    if len(parts) != 3:
        raise ValueError("invalid etcd version %r" % v)
    return tuple(int(p) for p in parts)


def cluster_version(v):
    """etcd's version.Cluster: the MAJOR.MINOR of a version ("3.6.7" -> "3.6")."""
    return "%d.%d" % parse_version(v)[:2]


def recorded_version(etcd_dir):
    """The newest etcd version that ran on this member's data, or None (no record, or not readable)."""
    try:
        with open(os.path.join(etcd_dir, VERSION_FILE)) as fh:
            v = fh.read().strip()
        parse_version(v)
    except (OSError, ValueError):
        return None
    return v


def check_downgrade(etcd_dir, server_version):
    """Before the member opens its data: exit 1 with etcd's fatal line (zap JSON) when the recorded version's
    major.minor, the determined cluster version, is newer than this server's; the data stay as they were."""
    have = recorded_version(etcd_dir)
    if have is not None and parse_version(have)[:2] > parse_version(server_version)[:2]:
        klog.zap_fatal(DOWNGRADE_CALLER, ERR_INVALID_DOWNGRADE,
                       {"current-server-version": server_version, "determined-cluster-version": cluster_version(have)})


def record_version(etcd_dir, server_version):
    """Record this server's version unless a newer one is recorded; returns the recorded version."""
    have = recorded_version(etcd_dir)
    if have is not None and parse_version(have) >= parse_version(server_version):
        return have
    path = os.path.join(etcd_dir, VERSION_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as fh:
        fh.write(server_version + "\n")
    os.chmod(path + ".tmp", 0o600)
    os.replace(path + ".tmp", path)
    return server_version


def peer_call(peer_url, method, path, secret, body=None, timeout=PEER_TIMEOUT):
    u = urlsplit(peer_url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        c.request(method, path, body=data, headers={AUTH_HEADER: secret, "Content-Type": "application/json"})
        r = c.getresponse()
        raw = r.read()
    finally:
        c.close()
    if r.status != 200:
        raise OSError("peer %s%s: %d %s" % (peer_url, path, r.status, raw[:200].decode(errors="replace")))
    return json.loads(raw.decode() or "null")


class Cluster:
    def __init__(self, store, etcd_dir, node_name, peer_url, password, version=ETCD_VERSION):
        self.store = store
        self.etcd_dir = etcd_dir
        self.version = version     # the etcd server version this member runs (GET /version on the client port)
        self.secret = peer_secret(password)
        self.peer_url = peer_url
        self.wlock = threading.Lock()      # serializes local writers (never held by peer handlers)
        self.mlock = threading.Lock()
        self.members = self._load_members()
        me = [m for m in self.members if m["peerURL"] == peer_url]
        self.name = me[0]["name"] if me else "%s-%s" % (node_name, secrets.token_hex(4))
        # a member list without this member (persisted after a removal) means it was removed
        self.removed = bool(self.members) and not me
        self.servers = []

    # -- membership persistence ----------------------------------------------
    def _load_members(self):
        raw = self.store.get_meta("etcd-members")
        return json.loads(raw) if raw else []

    def set_members(self, members):
        with self.mlock:
            self.members = [dict(m) for m in members]
            self.store.set_meta("etcd-members", json.dumps(self.members))
            tmp = os.path.join(self.etcd_dir, "member.json.tmp")
            with open(tmp, "w") as fh:
                json.dump({"name": self.name, "peerURL": self.peer_url, "members": self.members}, fh, indent=1)
            os.replace(tmp, os.path.join(self.etcd_dir, "member.json"))

    def is_listed(self, members):
        return any(m["peerURL"] == self.peer_url or m["name"] == self.name for m in members)

    def learn_members(self, members):
        """A member list from a peer (members op or snapshot): a list without
        this member means that it has been removed from the cluster."""
        self.set_members(members)
        if members and not self.is_listed(members) and not self.removed:
            self.removed = True
            klog.error("%s", ERR_MEMBER_REMOVED)

    @staticmethod
    def member_id(m):
        """A stable stand-in for etcd's uint64 member ID (etcd hashes the peer URLs)."""
        return int(hashlib.sha256(("%s|%s" % (m["name"], m["peerURL"])).encode()).hexdigest()[:16], 16)

    def peers(self, members=None):
        return [m for m in (members if members is not None else self.members) if m["peerURL"] != self.peer_url]

    @staticmethod
    def quorum(n):
        return n // 2 + 1

    # -- replication -----------------------------------------------------------
    def broadcast(self, ops, targets, count_in):
        """Send ops to targets in parallel; return the number of acks from
        members whose peerURL is in count_in."""
        acks = []
        lock = threading.Lock()

        def send(m):
            try:
                peer_call(m["peerURL"], "POST", "/ops", self.secret, {"ops": ops, "from": self.name})
                with lock:
                    acks.append(m["peerURL"])
            except (OSError, ValueError, http.client.HTTPException) as e:
                klog.debug("etcd: replication to %s failed: %s", m["peerURL"], e)
        threads = [threading.Thread(target=send, args=(m,), daemon=True) for m in targets]
        for t in threads:
            t.start()
        for t in threads:
            t.join(PEER_TIMEOUT + 1)
        with lock:
            return len([a for a in acks if a in count_in])

    def replicate(self, ops):
        if self.removed:
            raise Unavailable(ERR_MEMBER_REMOVED)
        members = list(self.members) or [{"name": self.name, "peerURL": self.peer_url}]
        need = self.quorum(len(members))
        acks = 1 + self.broadcast(ops, self.peers(members), {m["peerURL"] for m in members})
        if acks < need:
            raise Unavailable("etcdserver: request timed out")

    def apply(self, ops):
        for op in ops:
            if op.get("type") == "members":
                self.learn_members(op["members"])
            else:
                self.store.apply_op(op)

    def _commit_members(self, old, new, send_to):
        """Send the member list ``new`` to the members of ``send_to``; committed once a quorum of ``old`` (this
        member included) acknowledged, else Unavailable(``etcdserver: request timed out``)."""
        op = {"type": "members", "members": new}
        targets = [m for m in send_to if m["peerURL"] != self.peer_url]
        acks = 1 + self.broadcast([op], targets, {m["peerURL"] for m in old})
        if acks < self.quorum(len(old)):
            raise Unavailable("etcdserver: request timed out")

    def add_member(self, name, peer_url):
        with self.wlock:
            if self.removed:
                raise Unavailable(ERR_MEMBER_REMOVED)
            old = list(self.members)
            new = [m for m in old if m["peerURL"] != peer_url and m["name"] != name]
            new.append({"name": name, "peerURL": peer_url})
            self._commit_members(old, new, new)
            self.set_members(new)
            klog.info("Added etcd member %s %s; cluster has %d members", name, peer_url, len(new))
            return {"members": new, "snapshot": self.store.dump()}

    def remove_member(self, name, address):
        """K3s RemovePeer (pkg/etcd/etcd.go): find the member with this name
        whose peer URL host is ``address`` and remove it (etcd MemberRemove,
        committed by a quorum of the old member list; the removed member is
        sent the new list too, so it learns its removal).  No matching member:
        nothing to do, as in K3s.  Returns the removed member or None; raises
        Unavailable(``etcdserver: request timed out``) without a quorum."""
        with self.wlock:
            if self.removed:
                raise Unavailable(ERR_MEMBER_REMOVED)
            old = list(self.members)
            victim = None
            for m in old:
                if m["name"] == name and urlsplit(m["peerURL"]).hostname == address:
                    victim = m
                    break
            if victim is None:
                return None
            klog.info("Removing name=%s id=%d address=%s from etcd", name, self.member_id(victim), address)
            new = [m for m in old if m is not victim]
            self._commit_members(old, new, old)
            self.learn_members(new)
            klog.info("Removed etcd member %s %s; cluster has %d members", name, victim["peerURL"], len(new))
            return victim

    # -- start-up ----------------------------------------------------------------
    def reachable(self):
        up = []
        for m in self.peers():
            try:
                peer_call(m["peerURL"], "GET", "/health", self.secret, timeout=1.0)
                up.append(m)
            except (OSError, ValueError, http.client.HTTPException):
                pass
        return up

    def sync_from_peers(self):
        best = None
        for m in self.peers():
            try:
                snap = peer_call(m["peerURL"], "GET", "/snapshot", self.secret, timeout=5)
            except (OSError, ValueError, http.client.HTTPException):
                continue
            if best is None or snap["rv"] > best["rv"]:
                best = snap
        if best is not None:
            self.store.load(best)
            if best.get("members"):
                self.learn_members(best["members"])
            klog.info("etcd: synced state from peers at revision %d", best["rv"])
        return best is not None

    def wait_quorum(self, stop):
        last = 0
        while True:
            up = self.reachable()
            n = len(self.members) or 1
            if 1 + len(up) >= self.quorum(n):
                return True
            if time.time() - last > 5:
                klog.info("Waiting for etcd quorum: %d of %d members reachable (need %d)", 1 + len(up), n,
                          self.quorum(n))
                last = time.time()
            if stop.wait(1):
                return False

    # -- listeners -------------------------------------------------------------
    def snapshot_bytes(self):
        """What etcd's Snapshot RPC streams: a consistent copy of the member's data, then its sha256 (32 bytes)."""
        fd, tmp = tempfile.mkstemp(prefix=".snapshot-", dir=self.etcd_dir)
        os.close(fd)
        try:
            self.store.backup(tmp)
            with open(tmp, "rb") as fh:
                data = fh.read()
        finally:
            os.unlink(tmp)
        return data + hashlib.sha256(data).digest()

    def member_list(self):
        """The gateway's MemberListResponse (uint64 fields as strings, as the gateway writes them)."""
        me = [m for m in self.members if m["peerURL"] == self.peer_url]
        return {"header": {"cluster_id": str(self.member_id({"name": "cluster", "peerURL": ",".join(
                    sorted(m["peerURL"] for m in self.members))})),
                           "member_id": str(self.member_id(me[0]) if me else 0),
                           "revision": str(self.store.current_rv())},
                "members": [{"ID": str(self.member_id(m)), "name": m["name"], "peerURLs": [m["peerURL"]]}
                            for m in self.members]}

    def serve(self, bind, peer_port, client_port, client_tls=None):
        """Listen on the peer and client ports. client_tls: None (plain HTTP) or {"cert", "key", "ca",
        "client_auth"} (host paths; client_auth: a client certificate signed by ca is required)."""
        cluster = self

        class Srv(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        class Peer(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *a):
                klog.debug("etcd peer: " + fmt, *a)

            def reply(self, code, obj):
                wire.reply(self, code, json.dumps(obj).encode(), "application/json")

            def body(self):
                n = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(n).decode() or "null") if n else None

            def authed(self):
                if secrets.compare_digest(self.headers.get(AUTH_HEADER) or "", cluster.secret):
                    return True
                self.reply(401, {"error": "unauthorized"})
                return False

            def do_GET(self):
                if not self.authed():
                    return
                if self.path == "/health":
                    return self.reply(200, {"health": "true", "name": cluster.name, "rv": cluster.store.current_rv()})
                if self.path == "/snapshot":
                    snap = cluster.store.dump()
                    snap["members"] = cluster.members
                    return self.reply(200, snap)
                if self.path == "/members":
                    return self.reply(200, {"members": cluster.members})
                self.reply(404, {"error": "not found"})

            def do_POST(self):
                if not self.authed():
                    return
                try:
                    b = self.body() or {}
                except ValueError:
                    return self.reply(400, {"error": "bad json"})
                if self.path == "/ops":
                    if cluster.removed:
                        # a removed etcd member has stopped; it takes no part in the cluster anymore
                        return self.reply(403, {"error": ERR_MEMBER_REMOVED})
                    cluster.apply(b.get("ops") or [])
                    return self.reply(200, {"ok": True})
                if self.path == "/members/add":
                    try:
                        return self.reply(200, cluster.add_member(b["name"], b["peerURL"]))
                    except Unavailable as e:
                        return self.reply(503, {"error": str(e)})
                self.reply(404, {"error": "not found"})

        class Client(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *a):
                klog.debug("etcd client: " + fmt, *a)

            def do_GET(self):
                code = 200
                if self.path == "/health":
                    obj = {"health": "true", "reason": ""}
                elif self.path == "/version":
                    obj = {"etcdserver": cluster.version, "etcdcluster": cluster_version(cluster.version) + ".0"}
                else:
                    obj, code = {"error": "not found"}, 404
                wire.reply(self, code, json.dumps(obj).encode(), "application/json")

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                if cluster.removed:
                    # a removed member has stopped serving (gRPC code 14, Unavailable, through the gateway)
                    return wire.reply(self, 503, {"error": ERR_MEMBER_REMOVED, "code": 14,
                                                  "message": ERR_MEMBER_REMOVED}, "application/json")
                if self.path == "/v3/maintenance/snapshot":
                    data = cluster.snapshot_bytes()
                    lines, chunk = [], 32 * 1024
                    for i in range(0, len(data), chunk):
                        part = data[i:i + chunk]
                        res = {"remaining_bytes": str(len(data) - i - len(part)),
                               "blob": base64.b64encode(part).decode()}
                        if i == 0:
                            res["version"] = cluster.version
                        lines.append(json.dumps({"result": res}))
                    return wire.reply(self, 200, ("\n".join(lines) + "\n").encode(), "application/json")
                if self.path == "/v3/cluster/member/list":
                    return wire.reply(self, 200, cluster.member_list(), "application/json")
                wire.reply(self, 404, {"error": "Not Found", "code": 5, "message": "Not Found"}, "application/json")

        for port, handler in ((peer_port, Peer), (client_port, Client)):
            srv = Srv((bind, port), handler) if handler is Peer or client_tls is None else \
                _tls_server(Srv, (bind, port), handler, client_tls)
            threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
            self.servers.append(srv)

    def close(self):
        for s in self.servers:
            s.shutdown()
            s.server_close()


def _tls_server(base, address, handler, tls):
    """A ``base`` server whose connections are TLS with the member's certificate; with ``client_auth`` a client
    certificate signed by ``ca`` is required (a handshake without one fails, as etcd's does)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(tls["cert"], tls["key"])
    if tls.get("client_auth"):
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(tls["ca"])

    class TLSServer(base):
        def get_request(self):
            sock, addr = self.socket.accept()
            sock.settimeout(10)
            return ctx.wrap_socket(sock, server_side=True), addr

        def handle_error(self, request, client_address):
            pass  # a failed handshake (no or a wrong client certificate) closes that connection only

    return TLSServer(address, handler)


class ReplicatedStore:
    """Store facade: reads are local, writes need an etcd quorum."""

    def __init__(self, store, cluster):
        self.local = store
        self.cluster = cluster

    def get(self, *a, **k):
        return self.local.get(*a, **k)

    def list(self, *a, **k):
        return self.local.list(*a, **k)

    def current_rv(self):
        return self.local.current_rv()

    def get_meta(self, *a):
        return self.local.get_meta(*a)

    def set_meta(self, *a):
        return self.local.set_meta(*a)

    def backup(self, path):
        self.local.backup(path)

    def close(self):
        self.local.close()

    # raw keys (K3s's /bootstrap/<hash>): kine.KineStore's interface; reads are local, a create needs a quorum
    def prefix(self, prefix):
        return self.local.prefix(prefix)

    def latest(self, key):
        return self.local.latest(key)

    def put_new(self, key, value):
        """Create a raw key on every member (quorum, as any write); Conflict if this member already has it.  Like
        the objects' creates, the check is this member's copy: two members creating one key at once both
        succeed, the higher revision wins (etcd's create txn would refuse the second)."""
        with self.cluster.wlock:
            if self.local.latest(key) is not None:
                raise Conflict(key)
            rv = self.local.reserve_rv()
            self._commit(RAW_KEYS, "", key, rv, value.decode())
        return rv

    def _commit(self, resource, namespace, name, rv, obj):
        op = {"rv": rv, "resource": resource, "namespace": namespace, "name": name,
              "body": None if obj is None else json.dumps(obj, sort_keys=True)}
        self.cluster.replicate([op])
        self.local.apply_op(op)

    def create(self, resource, obj, namespace=""):
        md = obj.setdefault("metadata", {})
        with self.cluster.wlock:
            if self.local.get(resource, md["name"], namespace) is not None:
                raise Conflict(md["name"])
            rv = self.local.reserve_rv()
            md.setdefault("uid", str(uuid.uuid4()))
            md.setdefault("creationTimestamp", now_rfc3339())
            md["resourceVersion"] = str(rv)
            self._commit(resource, namespace, md["name"], rv, obj)
        return obj

    def update(self, resource, obj, namespace=""):
        md = obj["metadata"]
        with self.cluster.wlock:
            if self.local.get(resource, md["name"], namespace) is None:
                raise KeyError(md["name"])
            rv = self.local.reserve_rv()
            md["resourceVersion"] = str(rv)
            self._commit(resource, namespace, md["name"], rv, copy.deepcopy(obj))
        return obj

    def delete(self, resource, name, namespace=""):
        with self.cluster.wlock:
            if self.local.get(resource, name, namespace) is None:
                return False
            rv = self.local.reserve_rv()
            self._commit(resource, namespace, name, rv, None)
        return True
