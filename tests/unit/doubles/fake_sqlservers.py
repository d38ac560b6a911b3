"""Tiny in-process fake database servers for the K3s double's datastore tests.

FakePostgres speaks protocol 3.0 (SSLRequest refused with 'N', SCRAM-SHA-256
server side, MD5, cleartext; simple query) and FakeMySQL speaks protocol 4.1
(handshake v10, mysql_native_password, optional AuthSwitchRequest; COM_QUERY,
COM_INIT_DB).  Both run the statements on an in-memory SQLite database per
database name: the kine DDL is replaced by an equivalent SQLite schema and the
bytea / blob literals are rewritten; everything else is passed through.
They can be told to fail (wrong password, bad server signature).
"""
import base64
import hashlib
import hmac
import re
import secrets
import socket
import sqlite3
import struct
import threading

KINE_SQLITE = """
CREATE TABLE IF NOT EXISTS kine (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, created INTEGER,
  deleted INTEGER, create_revision INTEGER, prev_revision INTEGER, lease INTEGER, value BLOB, old_value BLOB);
CREATE UNIQUE INDEX IF NOT EXISTS kine_name_prev_revision_uindex ON kine (name, prev_revision);
"""


class _Base:
    def __init__(self, users, databases=()):
        self.users = dict(users)
        self.dbs = {}
        self.lock = threading.Lock()
        for d in databases:
            self._db(d)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.port = self.sock.getsockname()[1]
        self.queries = []
        self.connections = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _db(self, name):
        if name not in self.dbs:
            c = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
            self.dbs[name] = c
        return self.dbs[name]

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve_safe, args=(c,), daemon=True).start()

    def _serve_safe(self, c):
        try:
            self.serve(c)
        except (OSError, ConnectionError, struct.error, ValueError, IndexError):
            pass
        finally:
            c.close()

    def close(self):
        self.closed = True
        self.sock.close()

    @staticmethod
    def recv_exact(c, n):
        buf = b""
        while len(buf) < n:
            chunk = c.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("eof")
            buf += chunk
        return buf

    def execute(self, dbname, sql):
        """-> (columns, rows, rowcount, lastrowid); raises sqlite3.Error."""
        self.queries.append(sql)
        if re.match(r"^\s*CREATE TABLE IF NOT EXISTS kine\b", sql, re.I):
            sql = KINE_SQLITE
        elif re.match(r"^\s*CREATE (UNIQUE )?INDEX", sql, re.I):
            return [], [], 0, 0
        sql = re.sub(r"'\\x([0-9a-fA-F]*)'::bytea", r"X'\1'", sql)
        with self.lock:
            db = self._db(dbname)
            if sql is KINE_SQLITE:
                db.executescript(sql)
                return [], [], 0, 0
            cur = db.execute(sql)
            rows = cur.fetchall()
            cols = [d[0] for d in cur.description] if cur.description else []
            return cols, rows, cur.rowcount, cur.lastrowid


class FakePostgres(_Base):
    """auth: 'scram' | 'md5' | 'password'; bad_server_signature to test the client check."""

    def __init__(self, users, databases=("postgres",), auth="scram", bad_server_signature=False):
        self.auth = auth
        self.bad_server_signature = bad_server_signature
        super().__init__(users, databases)

    def _msg(self, c, typ, payload):
        c.sendall(typ + struct.pack("!I", len(payload) + 4) + payload)

    def _read(self, c):
        hdr = self.recv_exact(c, 5)
        return hdr[:1], self.recv_exact(c, struct.unpack("!I", hdr[1:])[0] - 4)

    def _error(self, c, code, msg, severity="ERROR"):
        f = b"S" + severity.encode() + b"\0V" + severity.encode() + b"\0C" + code.encode() + b"\0M" + \
            msg.encode() + b"\0\0"
        self._msg(c, b"E", f)

    def _auth(self, c, user):
        pw = self.users.get(user)
        if self.auth == "password":
            self._msg(c, b"R", struct.pack("!I", 3))
            _, p = self._read(c)
            return pw is not None and p.rstrip(b"\0").decode() == pw
        if self.auth == "md5":
            salt = secrets.token_bytes(4)
            self._msg(c, b"R", struct.pack("!I", 5) + salt)
            _, p = self._read(c)
            if pw is None:
                return False
            inner = hashlib.md5((pw + user).encode()).hexdigest()
            return p.rstrip(b"\0").decode() == "md5" + hashlib.md5(inner.encode() + salt).hexdigest()
        self._msg(c, b"R", struct.pack("!I", 10) + b"SCRAM-SHA-256\0\0")
        _, p = self._read(c)
        mech, _, rest = p.partition(b"\0")
        if mech != b"SCRAM-SHA-256":
            return False
        n = struct.unpack("!I", rest[:4])[0]
        client_first = rest[4:4 + n].decode()
        assert client_first.startswith("n,,")
        first_bare = client_first[3:]
        cnonce = dict(kv.split("=", 1) for kv in first_bare.split(","))["r"]
        nonce = cnonce + base64.b64encode(secrets.token_bytes(18)).decode()
        salt = secrets.token_bytes(16)
        server_first = "r=%s,s=%s,i=4096" % (nonce, base64.b64encode(salt).decode())
        self._msg(c, b"R", struct.pack("!I", 11) + server_first.encode())
        _, p = self._read(c)
        client_final = p.decode()
        attrs = dict(kv.split("=", 1) for kv in client_final.split(","))
        if attrs.get("r") != nonce or attrs.get("c") != "biws":
            return False
        without_proof = client_final[:client_final.rindex(",p=")]
        auth_msg = ",".join((first_bare, server_first, without_proof)).encode()
        salted = hashlib.pbkdf2_hmac("sha256", (pw or secrets.token_hex(8)).encode(), salt, 4096)
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        client_sig = hmac.new(stored_key, auth_msg, hashlib.sha256).digest()
        proof = base64.b64decode(attrs["p"])
        recovered = bytes(a ^ b for a, b in zip(proof, client_sig))
        if pw is None or hashlib.sha256(recovered).digest() != stored_key:
            return False
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        sig = hmac.new(server_key, auth_msg, hashlib.sha256).digest()
        if self.bad_server_signature:
            sig = bytes(32)
        self._msg(c, b"R", struct.pack("!I", 12) + b"v=" + base64.b64encode(sig))
        return True

    def serve(self, c):
        n = struct.unpack("!I", self.recv_exact(c, 4))[0]
        body = self.recv_exact(c, n - 4)
        if struct.unpack("!I", body[:4])[0] == 80877103:
            c.sendall(b"N")
            n = struct.unpack("!I", self.recv_exact(c, 4))[0]
            body = self.recv_exact(c, n - 4)
        parts = body[4:].split(b"\0")
        params = {parts[i].decode(): parts[i + 1].decode() for i in range(0, len(parts) - 1, 2) if parts[i]}
        user, dbname = params.get("user", ""), params.get("database", "")
        if not self._auth(c, user):
            self._error(c, "28P01", 'password authentication failed for user "%s"' % user, "FATAL")
            return
        self._msg(c, b"R", struct.pack("!I", 0))
        if dbname not in self.dbs:
            self._error(c, "3D000", 'database "%s" does not exist' % dbname, "FATAL")
            return
        for k, v in (("server_version", "15.0 (fake)"), ("standard_conforming_strings", "on")):
            self._msg(c, b"S", k.encode() + b"\0" + v.encode() + b"\0")
        self._msg(c, b"K", struct.pack("!II", 1, 2))
        self._msg(c, b"Z", b"I")
        while True:
            typ, p = self._read(c)
            if typ == b"X":
                return
            if typ != b"Q":
                self._error(c, "08P01", "unsupported message")
                self._msg(c, b"Z", b"I")
                continue
            self._query(c, dbname, p.rstrip(b"\0").decode())
            self._msg(c, b"Z", b"I")

    def _query(self, c, dbname, sql):
        m = re.match(r'^\s*CREATE DATABASE "([^"]+)"\s*$', sql, re.I)
        if m:
            with self.lock:
                if m.group(1) in self.dbs:
                    return self._error(c, "42P04", 'database "%s" already exists' % m.group(1))
                self._db(m.group(1))
            self._msg(c, b"C", b"CREATE DATABASE\0")
            return
        try:
            cols, rows, count, _ = self.execute(dbname, sql)
        except sqlite3.IntegrityError as e:
            return self._error(c, "23505", "duplicate key value violates unique constraint (%s)" % e)
        except sqlite3.Error as e:
            return self._error(c, "42601", str(e))
        if cols:
            types = []
            for i in range(len(cols)):
                vals = [r[i] for r in rows if r[i] is not None]
                types.append(17 if vals and isinstance(vals[0], bytes) else 25)
            desc = struct.pack("!H", len(cols))
            for name, t in zip(cols, types):
                desc += name.encode() + b"\0" + struct.pack("!IHIhih", 0, 0, t, -1, -1, 0)
            self._msg(c, b"T", desc)
            for r in rows:
                d = struct.pack("!H", len(r))
                for v in r:
                    if v is None:
                        d += struct.pack("!i", -1)
                        continue
                    v = b"\\x" + v.hex().encode() if isinstance(v, bytes) else str(v).encode()
                    d += struct.pack("!i", len(v)) + v
                self._msg(c, b"D", d)
        verb = sql.strip().split()[0].upper()
        tag = {"SELECT": "SELECT %d" % len(rows), "INSERT": "INSERT 0 %d" % max(count, len(rows)),
               "DELETE": "DELETE %d" % count}.get(verb, verb)
        self._msg(c, b"C", tag.encode() + b"\0")


def _lenenc(n):
    if n < 0xfb:
        return bytes([n])
    if n < 1 << 16:
        return b"\xfc" + struct.pack("<H", n)
    return b"\xfd" + struct.pack("<I", n)[:3]


class FakeMySQL(_Base):
    """auth_switch: first offer another plugin, then switch to mysql_native_password."""

    def __init__(self, users, databases=(), auth_switch=False):
        self.auth_switch = auth_switch
        super().__init__(users, databases)

    def _send(self, c, seq, payload):
        c.sendall(struct.pack("<I", len(payload))[:3] + bytes([seq & 0xff]) + payload)

    def _read(self, c):
        hdr = self.recv_exact(c, 4)
        return hdr[3], self.recv_exact(c, hdr[0] | hdr[1] << 8 | hdr[2] << 16)

    def _err(self, c, seq, code, state, msg):
        self._send(c, seq, b"\xff" + struct.pack("<H", code) + b"#" + state.encode() + msg.encode())

    def _ok(self, c, seq, affected=0, last_id=0):
        self._send(c, seq, b"\x00" + _lenenc(affected) + _lenenc(last_id) + struct.pack("<HH", 2, 0))

    @staticmethod
    def _scramble_ok(pw, salt, resp):
        if pw is None:
            return False
        if not pw:
            return resp == b""
        h1 = hashlib.sha1(pw.encode()).digest()
        h2 = hashlib.sha1(h1).digest()
        h3 = hashlib.sha1(salt + h2).digest()
        return bytes(a ^ b for a, b in zip(resp, h3)) == h1 if len(resp) == 20 else False

    def serve(self, c):
        salt = bytes(secrets.choice(range(33, 127)) for _ in range(20))
        caps = 0x200 | 0x8000 | 0x80000 | 0x200000 | 0x8 | 0x1 | 0x2 | 0x4 | 0x2000 | 0x20000
        plugin = b"client_ed25519" if self.auth_switch else b"mysql_native_password"
        hs = (b"\x0a" + b"10.11.6-MariaDB-fake\0" + struct.pack("<I", 7) + salt[:8] + b"\0" +
              struct.pack("<H", caps & 0xffff) + b"\x2d" + struct.pack("<H", 2) + struct.pack("<H", caps >> 16) +
              bytes([21]) + b"\0" * 10 + salt[8:] + b"\0" + plugin + b"\0")
        self._send(c, 0, hs)
        seq, p = self._read(c)
        ccaps = struct.unpack("<I", p[:4])[0]
        off = 32
        end = p.index(b"\0", off)
        user = p[off:end].decode()
        off = end + 1
        if ccaps & 0x200000:
            n = p[off]
            off += 1
        else:
            n = p[off]
            off += 1
        resp = p[off:off + n]
        off += n
        dbname = None
        if ccaps & 0x8:
            end = p.index(b"\0", off)
            dbname = p[off:end].decode()
            off = end + 1
        pw = self.users.get(user)
        if self.auth_switch:
            salt = bytes(secrets.choice(range(33, 127)) for _ in range(20))
            seq += 1
            self._send(c, seq, b"\xfe" + b"mysql_native_password\0" + salt + b"\0")
            seq, resp = self._read(c)
        seq += 1
        if not self._scramble_ok(pw, salt, resp):
            return self._err(c, seq, 1045, "28000", "Access denied for user '%s'@'127.0.0.1' (using password: %s)"
                             % (user, "YES" if resp else "NO"))
        if dbname and dbname not in self.dbs:
            return self._err(c, seq, 1049, "42000", "Unknown database '%s'" % dbname)
        self._ok(c, seq)
        while True:
            seq, p = self._read(c)
            cmd, arg = p[0], p[1:]
            if cmd == 0x01:
                return
            if cmd == 0x02:
                if arg.decode() not in self.dbs:
                    self._err(c, seq + 1, 1049, "42000", "Unknown database '%s'" % arg.decode())
                else:
                    dbname = arg.decode()
                    self._ok(c, seq + 1)
                continue
            if cmd != 0x03:
                self._err(c, seq + 1, 1047, "08S01", "Unknown command")
                continue
            self._query(c, dbname, arg.decode())

    def _query(self, c, dbname, sql):
        m = re.match(r"^\s*CREATE DATABASE IF NOT EXISTS `([^`]+)`\s*$", sql, re.I)
        if m:
            with self.lock:
                self._db(m.group(1))
            return self._ok(c, 1, 1)
        if dbname is None:
            return self._err(c, 1, 1046, "3D000", "No database selected")
        try:
            cols, rows, count, last = self.execute(dbname, sql)
        except sqlite3.IntegrityError as e:
            return self._err(c, 1, 1062, "23000", "Duplicate entry for key 'kine_name_prev_revision_uindex' (%s)" % e)
        except sqlite3.Error as e:
            return self._err(c, 1, 1064, "42000", str(e))
        if not cols:
            return self._ok(c, 1, max(count, 0), last or 0)
        seq = 1
        self._send(c, seq, _lenenc(len(cols)))
        for name in cols:
            seq += 1
            d = b""
            for s in (b"def", dbname.encode(), b"kine", b"kine", name.encode(), name.encode()):
                d += _lenenc(len(s)) + s
            d += b"\x0c" + struct.pack("<HIBHB", 63, 1024, 0xfc, 0, 0) + b"\0\0"
            self._send(c, seq, d)
        seq += 1
        self._send(c, seq, b"\xfe\0\0\x02\0")
        for r in rows:
            d = b""
            for v in r:
                if v is None:
                    d += b"\xfb"
                    continue
                v = v if isinstance(v, bytes) else str(v).encode()
                d += _lenenc(len(v)) + v
            seq += 1
            self._send(c, seq, d)
        seq += 1
        self._send(c, seq, b"\xfe\0\0\x02\0")
