"""Minimal PostgreSQL client (frontend/backend protocol 3.0), stdlib only.

Startup, optional SSLRequest (sslmode disable/prefer/require/verify-ca/
verify-full), authentication cleartext / MD5 / SCRAM-SHA-256 (RFC 5802 and
7677, server signature verified), simple query protocol only.
Result values are text-format strings; bytea columns (type oid 17) are
decoded to bytes.
"""
import base64
import hashlib
import hmac
import secrets
import socket
import ssl
import struct

from common import wire

PROTOCOL_3 = 196608
SSL_REQUEST = 80877103
BYTEA_OID = 17


class PgError(Exception):
    """A server ErrorResponse (fields: S, C, M, ...) or a protocol failure."""

    def __init__(self, fields, prefix=""):
        self.fields = dict(fields)
        self.code = self.fields.get("C", "")
        self.severity = self.fields.get("V") or self.fields.get("S") or "ERROR"
        self.message = self.fields.get("M", "")
        text = "%s: %s (SQLSTATE %s)" % (self.severity, self.message, self.code) if self.code else self.message
        super().__init__(prefix + text)


class ScramClient:
    """Client side of SCRAM-SHA-256 (no channel binding: gs2 header "n,,")."""

    def __init__(self, password, nonce=None):
        self.password = password.encode("utf-8")
        self.nonce = nonce or base64.b64encode(secrets.token_bytes(18)).decode()
        self.first_bare = "n=,r=" + self.nonce
        self.server_signature = None

    def first(self):
        return ("n,," + self.first_bare).encode()

    def final(self, server_first):
        server_first = server_first.decode()
        attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
        rnonce, salt, iters = attrs.get("r", ""), attrs.get("s", ""), attrs.get("i", "")
        if not rnonce.startswith(self.nonce) or len(rnonce) <= len(self.nonce):
            raise PgError({"M": "SCRAM: server nonce does not extend the client nonce"})
        try:
            salt_b = base64.b64decode(salt, validate=True)
            n = int(iters)
        except (ValueError, TypeError):
            raise PgError({"M": "SCRAM: invalid salt or iteration count"})
        salted = hashlib.pbkdf2_hmac("sha256", self.password, salt_b, n)
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = "c=biws,r=" + rnonce
        auth_msg = ",".join((self.first_bare, server_first, without_proof)).encode()
        client_sig = hmac.new(stored_key, auth_msg, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, client_sig))
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        self.server_signature = hmac.new(server_key, auth_msg, hashlib.sha256).digest()
        return (without_proof + ",p=" + base64.b64encode(proof).decode()).encode()

    def verify(self, server_final):
        attrs = dict(kv.split("=", 1) for kv in server_final.decode().split(",") if "=" in kv)
        if "e" in attrs:
            raise PgError({"M": "SCRAM: server error: " + attrs["e"]})
        try:
            sig = base64.b64decode(attrs.get("v", ""), validate=True)
        except ValueError:
            sig = b""
        if not hmac.compare_digest(sig, self.server_signature or b"\0"):
            raise PgError({"M": "SCRAM: invalid server signature"})


def md5_password(user, password, salt):
    inner = hashlib.md5((password + user).encode()).hexdigest()
    return "md5" + hashlib.md5(inner.encode() + salt).hexdigest()


class Connection:
    def __init__(self, host, port, user, password, database, sslmode="prefer", cafile=None, certfile=None,
                 keyfile=None, timeout=10):
        self.user, self.database = user, database
        self.params = {}
        raw = socket.create_connection((host, port), timeout=timeout)
        self.sock = raw
        try:
            if sslmode != "disable":
                self._negotiate_ssl(host, sslmode, cafile, certfile, keyfile)
            self._startup(password)
        except BaseException:
            self.sock.close()
            raise

    # -- framing -----------------------------------------------------------
    def _recv_exact(self, n):
        return wire.recv_exact(self.sock, n, "PostgreSQL")

    def _read(self):
        hdr = self._recv_exact(5)
        typ, ln = hdr[:1], struct.unpack("!I", hdr[1:])[0]
        return typ, self._recv_exact(ln - 4)

    def _send(self, typ, payload):
        self.sock.sendall(typ + struct.pack("!I", len(payload) + 4) + payload)

    @staticmethod
    def _fields(payload):
        out = {}
        for part in payload.split(b"\0"):
            if part:
                out[part[:1].decode()] = part[1:].decode("utf-8", "replace")
        return out

    # -- startup -------------------------------------------------------------
    def _negotiate_ssl(self, host, sslmode, cafile, certfile, keyfile):
        self.sock.sendall(struct.pack("!II", 8, SSL_REQUEST))
        ans = self._recv_exact(1)
        if ans == b"N":
            if sslmode in ("require", "verify-ca", "verify-full"):
                raise PgError({"M": "server refused TLS connection"})
            return
        if ans != b"S":
            raise PgError({"M": "unexpected answer to SSLRequest: %r" % ans})
        if sslmode in ("verify-ca", "verify-full"):
            ctx = ssl.create_default_context(cafile=cafile)
            ctx.check_hostname = sslmode == "verify-full"
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if certfile:
            ctx.load_cert_chain(certfile, keyfile)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=host)

    def _startup(self, password):
        body = b""
        for k, v in (("user", self.user), ("database", self.database), ("application_name", "k3s"),
                     ("client_encoding", "UTF8")):
            body += k.encode() + b"\0" + v.encode() + b"\0"
        body += b"\0"
        payload = struct.pack("!I", PROTOCOL_3) + body
        self.sock.sendall(struct.pack("!I", len(payload) + 4) + payload)
        scram = None
        while True:
            typ, p = self._read()
            if typ == b"E":
                raise PgError(self._fields(p))
            if typ == b"R":
                code = struct.unpack("!I", p[:4])[0]
                if code == 0:
                    continue
                if code == 3:
                    self._send(b"p", password.encode() + b"\0")
                elif code == 5:
                    self._send(b"p", md5_password(self.user, password, p[4:8]).encode() + b"\0")
                elif code == 10:
                    mechs = [m.decode() for m in p[4:].split(b"\0") if m]
                    if "SCRAM-SHA-256" not in mechs:
                        raise PgError({"M": "unsupported SASL mechanisms: %s" % ",".join(mechs)})
                    scram = ScramClient(password)
                    first = scram.first()
                    self._send(b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", len(first)) + first)
                elif code == 11:
                    if scram is None:
                        raise PgError({"M": "unexpected SASLContinue"})
                    self._send(b"p", scram.final(p[4:]))
                elif code == 12:
                    if scram is None:
                        raise PgError({"M": "unexpected SASLFinal"})
                    scram.verify(p[4:])
                else:
                    raise PgError({"M": "unsupported authentication method %d" % code})
            elif typ == b"S":
                k, _, v = p.rstrip(b"\0").partition(b"\0")
                self.params[k.decode()] = v.decode()
            elif typ == b"Z":
                return
            # 'K' BackendKeyData, 'N' notices: ignored

    # -- queries -------------------------------------------------------------
    def query(self, sql):
        """Run one simple-query string; returns (columns, rows, tag) of the
        last statement.  Raises PgError on an ErrorResponse (after ReadyForQuery)."""
        self._send(b"Q", sql.encode("utf-8") + b"\0")
        cols, types, rows, tag, err = [], [], [], "", None
        while True:
            typ, p = self._read()
            if typ == b"T":
                n = struct.unpack("!H", p[:2])[0]
                off, cols, types, rows = 2, [], [], []
                for _ in range(n):
                    end = p.index(b"\0", off)
                    cols.append(p[off:end].decode())
                    off = end + 1
                    types.append(struct.unpack("!I", p[off + 6:off + 10])[0])
                    off += 18
            elif typ == b"D":
                n = struct.unpack("!H", p[:2])[0]
                off, row = 2, []
                for i in range(n):
                    ln = struct.unpack("!i", p[off:off + 4])[0]
                    off += 4
                    if ln < 0:
                        row.append(None)
                        continue
                    v = p[off:off + ln]
                    off += ln
                    if i < len(types) and types[i] == BYTEA_OID:
                        row.append(bytes.fromhex(v[2:].decode()) if v.startswith(b"\\x") else v)
                    else:
                        row.append(v.decode("utf-8"))
                rows.append(row)
            elif typ == b"C":
                tag = p.rstrip(b"\0").decode()
            elif typ == b"E":
                err = PgError(self._fields(p))
            elif typ == b"Z":
                if err:
                    raise err
                return cols, rows, tag
            # 'I' empty query, 'N' notice, 'S' parameter status: ignored

    def close(self):
        try:
            self._send(b"X", b"")
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


def quote_literal(s):
    if "\0" in s:
        raise ValueError("NUL in SQL literal")
    return "'" + s.replace("'", "''") + "'"


def bytea_literal(b):
    return "'\\x%s'::bytea" % bytes(b).hex()


def quote_ident(s):
    return '"' + s.replace('"', '""') + '"'
