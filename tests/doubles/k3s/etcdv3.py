"""Stdlib client for etcd's v3 API through its gRPC gateway, for the K3s
double's external etcd datastore (``datastore-endpoint: https://a:2379,...``).

The gateway speaks JSON over HTTP/1.1 on the client port (the same port as
gRPC): POST ``/v3/kv/range``, ``/v3/kv/put``, ``/v3/kv/txn``,
``/v3/kv/deleterange``, ``/v3/maintenance/status`` (etcd 3.4 serves ``/v3``
and still ``/v3beta``; 3.5 and later only ``/v3``).  Keys and values are
base64 in JSON; int64 fields come back as strings and fields holding their
zero value are left out.  Errors come back as a non-200 answer with
``{"error", "message", "code"}`` (code = gRPC status code).

Several comma-separated endpoints: requests go to the endpoint that answered
last; when it is unreachable (connect, TLS or read failure, or gRPC code 14
Unavailable) the next one is tried, so the cluster keeps working while one
etcd member is down.  TLS like the Go client: the CA file from
``datastore-cafile`` (otherwise the system CA store), the client certificate
and key from ``datastore-certfile``/``-keyfile`` (both or neither), host
names checked, TLS 1.2 or later.  Problems with these files raise
``TLSConfigError`` at once; verification is never switched off.
"""
import base64
import http.client
import json
import socket
import ssl
import threading
import time
from collections import namedtuple
from urllib.parse import urlsplit

API = "/v3"
CONNECT_TIMEOUT = 5.0
REQUEST_TIMEOUT = 15.0
GRPC_UNAVAILABLE = 14
ELECTION_GRACE = 3.0  # seconds of extra rounds while members answer Unavailable

Endpoint = namedtuple("Endpoint", "url tls host port")


class EtcdError(Exception):
    """An error answered by etcd (or no usable answer at all)."""

    def __init__(self, message, code=None):
        Exception.__init__(self, message)
        self.code = code


class EtcdUnavailable(EtcdError):
    """No endpoint could serve the request; the message names every endpoint
    with its cause."""


class TLSConfigError(EtcdError):
    """The CA, certificate or key file cannot be used (not retried)."""


class _EndpointDown(Exception):
    def __init__(self, message, reachable=False):
        Exception.__init__(self, message)
        self.reachable = reachable  # etcd answered (Unavailable: no leader, election, timeout)


# ---------------------------------------------------------------------------
# helpers

def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode("ascii")


def unb64(s):
    return base64.b64decode(s or "")


def prefix_end(prefix):
    """range_end for "every key starting with prefix" (etcd's rule: bump the
    last byte below 0xff, dropping trailing 0xff bytes; b"\\0" = no end)."""
    if isinstance(prefix, str):
        prefix = prefix.encode()
    end = bytearray(prefix)
    for i in range(len(end) - 1, -1, -1):
        if end[i] < 0xFF:
            end[i] += 1
            return bytes(end[:i + 1])
    return b"\0"


def parse_endpoints(spec):
    """"https://a:2379,http://b" (or a list) -> [Endpoint]; ValueError on junk."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out = []
    for raw in items:
        raw = raw.strip()
        if not raw:
            continue
        u = urlsplit(raw)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("invalid etcd endpoint %r: want http(s)://host[:port]" % raw)
        try:
            port = u.port or 2379
        except ValueError:
            raise ValueError("invalid etcd endpoint %r: bad port" % raw)
        out.append(Endpoint(raw, u.scheme == "https", u.hostname, port))
    if not out:
        raise ValueError("no etcd endpoints given")
    return out


def tls_context(cafile="", certfile="", keyfile=""):
    """Client context like Go's etcd client: system roots unless a CA file is
    given, an optional client key pair (both files or neither)."""
    if bool(certfile) != bool(keyfile):
        raise TLSConfigError("KeyFile and CertFile must both be present[key: %s, cert: %s]" % (keyfile, certfile))
    for path in (cafile, certfile, keyfile):
        if path:
            try:
                with open(path, "rb"):
                    pass
            except OSError as e:
                raise TLSConfigError("open %s: %s" % (path, (e.strerror or str(e)).lower()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED + check_hostname
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # Go's x509 does not apply OpenSSL's strict profile (default from Python 3.13)
    if hasattr(ssl, "VERIFY_X509_STRICT"):
        ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT
    if cafile:
        try:
            ctx.load_verify_locations(cafile=cafile)
        except ssl.SSLError as e:
            raise TLSConfigError("failed to load the CA certificates from %s: %s" % (cafile, e.reason or e))
    else:
        ctx.load_default_certs()
    if certfile:
        try:
            ctx.load_cert_chain(certfile, keyfile)
        except ssl.SSLError as e:
            raise TLSConfigError("tls: failed to load the key pair %s, %s: %s" % (certfile, keyfile, e.reason or e))
    return ctx


_UNKNOWN_AUTHORITY = (2, 18, 19, 20, 21)
_TLS_ALERTS = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "remote error: tls: certificate required",
    "SSLV3_ALERT_BAD_CERTIFICATE": "remote error: tls: bad certificate",
    "TLSV1_ALERT_UNKNOWN_CA": "remote error: tls: unknown certificate authority",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "remote error: tls: expired certificate",
    "TLSV1_ALERT_DECRYPT_ERROR": "remote error: tls: error decrypting message",
    "WRONG_VERSION_NUMBER": "tls: first record does not look like a TLS handshake",
}


def _default_dial_error(host, port, e):
    return "dial tcp %s:%d: %s" % (host, port, (getattr(e, "strerror", None) or str(e)).lower())


def describe(ep, e, dial_error=None):
    """Go/gRPC-like text for a failure to talk to endpoint ep."""
    if isinstance(e, ssl.SSLCertVerificationError):
        code = getattr(e, "verify_code", None)
        if code in _UNKNOWN_AUTHORITY:
            why = "x509: certificate signed by unknown authority"
        elif code == 62:
            why = "x509: certificate is not valid for %s" % ep.host
        elif code in (9, 10):
            why = "x509: certificate has expired or is not yet valid"
        else:
            why = "x509: %s" % (getattr(e, "verify_message", None) or e)
        return "authentication handshake failed: tls: failed to verify certificate: " + why
    if isinstance(e, ssl.SSLEOFError):
        return "authentication handshake failed: EOF"
    if isinstance(e, ssl.SSLError):
        reason = getattr(e, "reason", None) or ""
        return "authentication handshake failed: " + _TLS_ALERTS.get(reason, "tls: %s" % (reason.lower() or e))
    if isinstance(e, (http.client.RemoteDisconnected, http.client.IncompleteRead)) or \
            isinstance(e, (ConnectionResetError, BrokenPipeError)):
        return "error reading from server: EOF"
    if isinstance(e, http.client.HTTPException):
        return "malformed HTTP response: %s" % (e.__class__.__name__ if not str(e) else e)
    if isinstance(e, (socket.timeout, TimeoutError)):
        return "context deadline exceeded"
    return (dial_error or _default_dial_error)(ep.host, ep.port, e)


# ---------------------------------------------------------------------------
# client

class Client:
    """Thread-safe: idle keep-alive connections are pooled per endpoint and a
    request uses one exclusively."""

    def __init__(self, endpoints, cafile="", certfile="", keyfile="", dial_error=None,
                 connect_timeout=CONNECT_TIMEOUT, timeout=REQUEST_TIMEOUT):
        self.endpoints = parse_endpoints(endpoints)
        self.ctx = None
        if cafile or certfile or keyfile or any(ep.tls for ep in self.endpoints):
            self.ctx = tls_context(cafile, certfile, keyfile)
        self.dial_error = dial_error
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.lock = threading.Lock()
        self.idle = [[] for _ in self.endpoints]
        self.current = 0  # index of the endpoint that answered last
        self.on_failover = None  # optional callback(old_url, new_url, cause)

    # transport ------------------------------------------------------------------
    def _connect(self, ep):
        try:
            if ep.tls:
                conn = http.client.HTTPSConnection(ep.host, ep.port, timeout=self.connect_timeout, context=self.ctx)
            else:
                conn = http.client.HTTPConnection(ep.host, ep.port, timeout=self.connect_timeout)
            conn.connect()
            conn.sock.settimeout(self.timeout)
        except (OSError, http.client.HTTPException) as e:
            raise _EndpointDown(describe(ep, e, self.dial_error))
        return conn

    def _call_one(self, i, path, payload):
        ep = self.endpoints[i]
        for attempt in (0, 1):
            with self.lock:
                conn = self.idle[i].pop() if self.idle[i] else None
            reused = conn is not None
            if conn is None:
                conn = self._connect(ep)
            try:
                conn.request("POST", path, payload, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException) as e:
                if ep.tls and getattr(e, "reason", None) not in _TLS_ALERTS:
                    e = self._pending_alert(conn) or e
                conn.close()
                if reused and attempt == 0:
                    continue  # a stale keep-alive connection: once more on a fresh one
                raise _EndpointDown(describe(ep, e, self.dial_error))
            if resp.will_close:
                conn.close()
            else:
                with self.lock:
                    self.idle[i].append(conn)
            return self._decode(ep, resp, data)

    @staticmethod
    def _pending_alert(conn):
        """A TLS 1.3 server rejects a client certificate after the client's
        handshake has finished: the write fails first, the alert is still
        waiting to be read.  -> the SSLError carrying it, or None."""
        sock = getattr(conn, "sock", None)
        if not isinstance(sock, ssl.SSLSocket):
            return None
        try:
            sock.settimeout(1)
            sock.recv(1)
        except ssl.SSLError as e:
            if getattr(e, "reason", None) in _TLS_ALERTS:
                return e
        except OSError:
            pass
        return None

    @staticmethod
    def _decode(ep, resp, data):
        try:
            doc = json.loads(data.decode("utf-8")) if data else {}
        except ValueError:
            doc = None
        if resp.status == 200 and isinstance(doc, dict):
            return doc
        if isinstance(doc, dict) and ("error" in doc or "message" in doc):
            msg = doc.get("message") or doc.get("error") or ""
            code = doc.get("code")
            if code == GRPC_UNAVAILABLE:
                raise _EndpointDown("rpc error: code = Unavailable desc = %s" % msg, reachable=True)
            raise EtcdError(msg, code)
        text = data[:200].decode("utf-8", "replace").strip()
        raise _EndpointDown("unexpected answer %d %s%s" % (resp.status, resp.reason, ": " + text if text else ""))

    def call(self, method, body):
        """POST /v3/<method> with a JSON body on the current endpoint, failing
        over to the next ones.  -> decoded JSON answer."""
        payload = json.dumps(body).encode()
        path = API + "/" + method
        n = len(self.endpoints)
        t0 = time.time()
        while True:
            start = self.current
            causes = []
            reachable = False
            for k in range(n):
                i = (start + k) % n
                try:
                    doc = self._call_one(i, path, payload)
                except _EndpointDown as e:
                    causes.append("%s: %s" % (self.endpoints[i].url, e))
                    reachable = reachable or e.reachable
                    continue
                if i != start:
                    self.current = i
                    if self.on_failover is not None:
                        self.on_failover(self.endpoints[start].url, self.endpoints[i].url, causes[0])
                return doc
            # a member answered "Unavailable" (leader election after a member
            # stopped): one more round shortly; unreachable endpoints are not waited for
            if not reachable or time.time() - t0 > ELECTION_GRACE:
                raise EtcdUnavailable("; ".join(causes), GRPC_UNAVAILABLE)
            time.sleep(0.3)

    def close(self):
        with self.lock:
            conns = [c for lst in self.idle for c in lst]
            self.idle = [[] for _ in self.endpoints]
        for c in conns:
            c.close()

    # API ---------------------------------------------------------------------------
    @staticmethod
    def _kv(raw):
        return {"key": unb64(raw.get("key")), "value": unb64(raw.get("value")),
                "create_revision": int(raw.get("create_revision") or 0),
                "mod_revision": int(raw.get("mod_revision") or 0),
                "version": int(raw.get("version") or 0), "lease": int(raw.get("lease") or 0)}

    @staticmethod
    def _revision(doc):
        return int((doc.get("header") or {}).get("revision") or 0)

    def range(self, key, range_end=None, limit=0, count_only=False, keys_only=False, serializable=False):
        """-> (header revision, [kv dict], count)."""
        body = {"key": b64(key)}
        if range_end is not None:
            body["range_end"] = b64(range_end)
        if limit:
            body["limit"] = str(int(limit))
        if count_only:
            body["count_only"] = True
        if keys_only:
            body["keys_only"] = True
        if serializable:
            body["serializable"] = True
        doc = self.call("kv/range", body)
        return self._revision(doc), [self._kv(kv) for kv in doc.get("kvs") or []], int(doc.get("count") or 0)

    def get(self, key):
        """-> kv dict or None."""
        return (self.range(key)[1] or [None])[0]

    def put(self, key, value):
        """-> revision of the write."""
        return self._revision(self.call("kv/put", {"key": b64(key), "value": b64(value)}))

    def delete_range(self, key, range_end=None):
        """-> (number of deleted keys, revision)."""
        body = {"key": b64(key)}
        if range_end is not None:
            body["range_end"] = b64(range_end)
        doc = self.call("kv/deleterange", body)
        return int(doc.get("deleted") or 0), self._revision(doc)

    def txn(self, compare, success, failure=()):
        """-> (succeeded, header revision, responses).  Build the parts with
        cmp(), op_put(), op_get() and op_delete()."""
        doc = self.call("kv/txn", {"compare": list(compare), "success": list(success), "failure": list(failure)})
        return bool(doc.get("succeeded")), self._revision(doc), doc.get("responses") or []

    def status(self):
        """Maintenance status of the current endpoint (version, leader, ...)."""
        return self.call("maintenance/status", {})


_CMP_FIELD = {"CREATE": "create_revision", "MOD": "mod_revision", "VERSION": "version", "VALUE": "value"}


def cmp(key, target, value, result="EQUAL"):
    """Txn compare: target CREATE|MOD|VERSION|VALUE, result EQUAL|GREATER|LESS|NOT_EQUAL."""
    field = _CMP_FIELD[target]
    return {"key": b64(key), "target": target, "result": result,
            field: b64(value) if target == "VALUE" else str(int(value))}


def op_put(key, value):
    return {"request_put": {"key": b64(key), "value": b64(value)}}


def op_get(key):
    return {"request_range": {"key": b64(key)}}


def op_delete(key):
    return {"request_delete_range": {"key": b64(key)}}
