"""Minimal MySQL/MariaDB client (protocol 4.1, handshake v10), stdlib only.

mysql_native_password (also after an AuthSwitchRequest), COM_QUERY text
protocol (column definitions, text rows, OK/ERR/EOF), COM_INIT_DB, COM_QUIT.
No TLS, no caching_sha2_password full authentication.
Error text like go-sql-driver: ``Error 1045 (28000): Access denied ...``.
"""
import hashlib
import socket
import struct

from common import wire

CLIENT_LONG_PASSWORD = 0x1
CLIENT_FOUND_ROWS = 0x2
CLIENT_LONG_FLAG = 0x4
CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_PROTOCOL_41 = 0x200
CLIENT_TRANSACTIONS = 0x2000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_MULTI_RESULTS = 0x20000
CLIENT_PLUGIN_AUTH = 0x80000
CLIENT_PLUGIN_AUTH_LENENC = 0x200000

COM_QUIT, COM_INIT_DB, COM_QUERY = 0x01, 0x02, 0x03
NATIVE = "mysql_native_password"


class MyError(Exception):
    def __init__(self, code, state, message):
        self.code, self.state, self.message = code, state, message
        super().__init__("Error %d (%s): %s" % (code, state, message) if state else "Error %d: %s" % (code, message))


def native_scramble(password, salt):
    if not password:
        return b""
    h1 = hashlib.sha1(password.encode("utf-8")).digest()
    h2 = hashlib.sha1(h1).digest()
    h3 = hashlib.sha1(salt + h2).digest()
    return bytes(a ^ b for a, b in zip(h1, h3))


def lenenc_int(buf, off):
    b = buf[off]
    if b < 0xfb:
        return b, off + 1
    if b == 0xfb:
        return None, off + 1
    if b == 0xfc:
        return struct.unpack("<H", buf[off + 1:off + 3])[0], off + 3
    if b == 0xfd:
        return struct.unpack("<I", buf[off + 1:off + 4] + b"\0")[0], off + 4
    return struct.unpack("<Q", buf[off + 1:off + 9])[0], off + 9


def lenenc_str(buf, off):
    n, off = lenenc_int(buf, off)
    if n is None:
        return None, off
    return buf[off:off + n], off + n


def enc_lenenc_int(n):
    if n < 0xfb:
        return bytes([n])
    if n < 1 << 16:
        return b"\xfc" + struct.pack("<H", n)
    if n < 1 << 24:
        return b"\xfd" + struct.pack("<I", n)[:3]
    return b"\xfe" + struct.pack("<Q", n)


def parse_err(p):
    code = struct.unpack("<H", p[1:3])[0]
    if p[3:4] == b"#":
        return MyError(code, p[4:9].decode(), p[9:].decode("utf-8", "replace"))
    return MyError(code, "", p[3:].decode("utf-8", "replace"))


class Connection:
    def __init__(self, host, port, user, password, database=None, timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.seq = 0
        self.server_version = ""
        self.last_insert_id = 0
        self.affected_rows = 0
        try:
            self._handshake(user, password, database)
        except BaseException:
            self.sock.close()
            raise

    # -- framing ---------------------------------------------------------------
    def _recv_exact(self, n):
        return wire.recv_exact(self.sock, n, "MySQL")

    def _read(self):
        payload = b""
        while True:
            hdr = self._recv_exact(4)
            ln = hdr[0] | hdr[1] << 8 | hdr[2] << 16
            self.seq = (hdr[3] + 1) & 0xff
            payload += self._recv_exact(ln)
            if ln < 0xffffff:
                return payload

    def _write(self, payload):
        while True:
            chunk, payload = payload[:0xffffff], payload[0xffffff:]
            self.sock.sendall(struct.pack("<I", len(chunk))[:3] + bytes([self.seq]) + chunk)
            self.seq = (self.seq + 1) & 0xff
            if len(chunk) < 0xffffff:
                return

    # -- handshake ---------------------------------------------------------------
    def _handshake(self, user, password, database):
        p = self._read()
        if p[:1] == b"\xff":
            raise parse_err(p)
        if p[0] != 10:
            raise MyError(2027, "HY000", "unsupported protocol version %d" % p[0])
        end = p.index(b"\0", 1)
        self.server_version = p[1:end].decode("utf-8", "replace")
        off = end + 1 + 4
        salt = p[off:off + 8]
        off += 9
        caps = struct.unpack("<H", p[off:off + 2])[0]
        off += 2
        plugin = NATIVE
        if len(p) > off:
            off += 3  # charset, status
            caps |= struct.unpack("<H", p[off:off + 2])[0] << 16
            off += 2
            alen = p[off]
            off += 11
            if caps & CLIENT_SECURE_CONNECTION:
                n = max(13, alen - 8)
                salt += p[off:off + n].rstrip(b"\0")
                off += n
            if caps & CLIENT_PLUGIN_AUTH:
                plugin = p[off:].split(b"\0", 1)[0].decode() or NATIVE
        if not caps & CLIENT_PROTOCOL_41:
            raise MyError(2027, "HY000", "server does not support protocol 4.1")
        auth = native_scramble(password, salt[:20])
        mine = (CLIENT_LONG_PASSWORD | CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG | CLIENT_PROTOCOL_41 |
                CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_RESULTS | CLIENT_PLUGIN_AUTH)
        if caps & CLIENT_PLUGIN_AUTH_LENENC:
            mine |= CLIENT_PLUGIN_AUTH_LENENC
        if database:
            mine |= CLIENT_CONNECT_WITH_DB
        out = struct.pack("<IIB", mine, 1 << 24, 45) + b"\0" * 23 + user.encode() + b"\0"
        if mine & CLIENT_PLUGIN_AUTH_LENENC:
            out += enc_lenenc_int(len(auth)) + auth
        else:
            out += bytes([len(auth)]) + auth
        if database:
            out += database.encode() + b"\0"
        out += NATIVE.encode() + b"\0"
        del plugin  # we always answer with mysql_native_password first
        self._write(out)
        while True:
            p = self._read()
            if p[:1] == b"\x00":
                return
            if p[:1] == b"\xff":
                raise parse_err(p)
            if p[:1] == b"\xfe":  # AuthSwitchRequest
                name, _, data = p[1:].partition(b"\0")
                if name.decode() != NATIVE:
                    raise MyError(2059, "HY000", "authentication plugin '%s' is not supported" % name.decode())
                self._write(native_scramble(password, data.rstrip(b"\0")[:20]))
                continue
            if p[:1] == b"\x01":
                raise MyError(2059, "HY000", "authentication plugin requires more data (caching_sha2_password "
                                             "full authentication is not supported)")
            raise MyError(2027, "HY000", "malformed packet during authentication")

    # -- commands ------------------------------------------------------------------
    def _ok(self, p):
        self.affected_rows, off = lenenc_int(p, 1)
        self.last_insert_id, off = lenenc_int(p, off)

    def command(self, cmd, arg=b""):
        self.seq = 0
        self._write(bytes([cmd]) + arg)

    def query(self, sql):
        """Returns (columns, rows, affected_rows).  Values are bytes or None."""
        self.command(COM_QUERY, sql.encode("utf-8"))
        p = self._read()
        if p[:1] == b"\xff":
            raise parse_err(p)
        if p[:1] == b"\x00":
            self._ok(p)
            return [], [], self.affected_rows
        ncol, _ = lenenc_int(p, 0)
        cols = []
        for _ in range(ncol):
            d = self._read()
            off = 0
            vals = []
            for _i in range(6):
                v, off = lenenc_str(d, off)
                vals.append(v)
            cols.append((vals[4] or b"").decode())
        p = self._read()
        if not (p[:1] == b"\xfe" and len(p) < 9):
            raise MyError(2027, "HY000", "expected EOF after column definitions")
        rows = []
        while True:
            p = self._read()
            if p[:1] == b"\xfe" and len(p) < 9:
                return cols, rows, 0
            if p[:1] == b"\xff":
                raise parse_err(p)
            off, row = 0, []
            for _ in range(ncol):
                v, off = lenenc_str(p, off)
                row.append(v)
            rows.append(row)

    def init_db(self, name):
        self.command(COM_INIT_DB, name.encode())
        p = self._read()
        if p[:1] == b"\xff":
            raise parse_err(p)

    def close(self):
        try:
            self.command(COM_QUIT)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


def quote_literal(s):
    rep = {"\\": "\\\\", "'": "\\'", "\0": "\\0", "\n": "\\n", "\r": "\\r", "\x1a": "\\Z"}
    return "'" + "".join(rep.get(c, c) for c in s) + "'"


def blob_literal(b):
    return "X'%s'" % bytes(b).hex() if b else "''"


def quote_ident(s):
    return "`" + s.replace("`", "``") + "`"
