"""etcdctl (3.6): ``version``, ``snapshot save <file>``, ``member list``.

Talks to the member's client URL through etcd's gRPC gateway (JSON over HTTP/1.1 on the client port, which real
etcd serves beside gRPC): POST /v3/maintenance/snapshot and /v3/cluster/member/list. TLS as etcdctl does it: an
https endpoint (or a scheme-less one with --cacert/--cert/--key) is TLS, the server's certificate checked against
--cacert (else the system's CAs) and the endpoint's host, the client certificate sent when given. Flags may come
from ETCDCTL_<FLAG> variables. A member that cannot be reached, or refuses the handshake, ends in etcdctl's
"context deadline exceeded" after a warning line that names the cause.
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import sys
import time
from urllib.parse import urlsplit

from . import buildinfo
from .cli import EXIT_BAD_ARGS, EXIT_ERROR, EXIT_INTERRUPTED, Exit, parse, zap

GLOBAL = {"endpoints": "127.0.0.1:2379", "cacert": "", "cert": "", "key": "", "dial-timeout": "2s",
          "command-timeout": "5s", "write-out": "simple", "insecure-skip-tls-verify": False,
          "insecure-transport": True, "debug": False, "hex": False}
SHORT = {"w": "write-out"}


def version() -> str:
    v = buildinfo.VERSION.lstrip("v")
    return "%s.%s" % tuple(v.split(".")[:2])


def seconds(text: str) -> float:
    """A Go duration such as 2s, 500ms, 1m."""
    t = str(text).strip()
    for suffix, mul in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if t.endswith(suffix):
            try:
                return float(t[:-len(suffix)]) * mul
            except ValueError:
                break
    raise Exit(EXIT_ERROR, 'invalid argument "%s": time: invalid duration "%s"' % (t, t))


def client_for(endpoint: str, o: dict, timeout: float):
    """An HTTP(S) connection to one endpoint."""
    tls = endpoint.startswith("https://") or (
        "://" not in endpoint and any(o[k] for k in ("cacert", "cert", "key")))
    u = urlsplit(endpoint if "://" in endpoint else "//" + endpoint)
    host, port = u.hostname, u.port or 2379
    if not tls:
        return http.client.HTTPConnection(host, port, timeout=timeout)
    if bool(o["cert"]) != bool(o["key"]):
        raise Exit(EXIT_ERROR, "KeyFile and CertFile must both be present[key: %s, cert: %s]" % (o["key"], o["cert"]))
    for f in (o["cacert"], o["cert"], o["key"]):
        if f and not os.path.exists(f):
            raise Exit(EXIT_ERROR, "open %s: no such file or directory" % f)
    ctx = ssl.create_default_context(cafile=o["cacert"] or None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if o["insecure-skip-tls-verify"]:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if o["cert"]:
        try:
            ctx.load_cert_chain(o["cert"], o["key"])
        except ssl.SSLError:
            raise Exit(EXIT_ERROR, "tls: private key does not match public key")
    return http.client.HTTPSConnection(host, port, timeout=timeout, context=ctx)


def call(endpoint: str, path: str, o: dict, timeout: float) -> bytes:
    """POST {} to a gateway path of one endpoint; raises OSError (unreachable, handshake refused) or Exit."""
    conn = client_for(endpoint, o, timeout)
    try:
        conn.request("POST", path, body=b"{}", headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        raw = r.read()
    except http.client.HTTPException as e:
        raise OSError(str(e) or e.__class__.__name__)
    finally:
        conn.close()
    if r.status != 200:
        try:
            msg = json.loads(raw.decode()).get("message") or raw.decode()
        except ValueError:
            msg = raw.decode(errors="replace")
        raise Exit(EXIT_ERROR, msg.strip())
    return raw


def unreachable(endpoint: str, err: Exception, code: int) -> Exit:
    zap("warn", "v3@v3.6.5/retry_interceptor.go:65", "retrying of unary invoker failed",
        target="etcd-endpoints://0xc000/%s" % endpoint, attempt=0,
        error="rpc error: code = DeadlineExceeded desc = latest balancer error: last connection error: "
              "connection error: desc = \"transport: %s\"" % err)
    return Exit(code, "context deadline exceeded")


def snapshot_save(args: list[str], o: dict) -> int:
    if len(args) != 1:
        raise Exit(EXIT_BAD_ARGS, "snapshot save expects one argument")
    endpoints = [e for e in o["endpoints"].split(",") if e]
    if len(endpoints) != 1:
        raise Exit(EXIT_INTERRUPTED, "snapshot must be requested to one selected node, not multiple [%s]"
                   % " ".join(endpoints))
    path = args[0]
    part = path + ".part"
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as e:
        raise Exit(EXIT_INTERRUPTED, "could not open %s (open %s: %s)" % (part, part, (e.strerror or "").lower()))
    zap("info", "snapshot/v3_snapshot.go:83", "created temporary db file", path=part)
    start = time.time()
    try:
        try:
            zap("info", "v3@v3.6.5/maintenance.go:236", "opened snapshot stream; downloading")
            raw = call(endpoints[0], "/v3/maintenance/snapshot", o, seconds(o["dial-timeout"]) + 30)
        except OSError as e:
            raise unreachable(endpoints[0], e, EXIT_INTERRUPTED)
        size, server_version = 0, ""
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            for line in raw.decode().splitlines():
                if not line.strip():
                    continue
                res = json.loads(line).get("result") or {}
                server_version = server_version or res.get("version", "")
                blob = base64.b64decode(res.get("blob") or "")
                fh.write(blob)
                size += len(blob)
            fh.flush()
            os.fsync(fh.fileno())
        zap("info", "v3@v3.6.5/maintenance.go:302", "completed snapshot read; closing")
        zap("info", "snapshot/v3_snapshot.go:98", "fetched snapshot", endpoint=endpoints[0],
            size="%d kB" % (size // 1000), took="%.3fs" % (time.time() - start), **{"etcd-version": server_version})
        os.rename(part, path)
        zap("info", "snapshot/v3_snapshot.go:108", "saved", path=path)
    finally:
        if fd != -1:
            os.close(fd)
        if os.path.exists(part):
            os.unlink(part)
    sys.stdout.write("Snapshot saved at %s\n" % path)
    if server_version:
        sys.stdout.write("Server version %s\n" % server_version)
    return 0


def member_list(args: list[str], o: dict) -> int:
    endpoints = [e for e in o["endpoints"].split(",") if e]
    last = None
    for ep in endpoints:
        try:
            doc = json.loads(call(ep, "/v3/cluster/member/list", o, seconds(o["dial-timeout"])).decode())
            break
        except OSError as e:
            last = (ep, e)
    else:
        raise unreachable(last[0], last[1], EXIT_ERROR)
    if o["write-out"] == "json":
        sys.stdout.write(json.dumps(doc) + "\n")
    elif o["write-out"] == "simple":
        for m in doc.get("members") or []:
            sys.stdout.write("%x, started, %s, %s, %s, false\n" % (
                int(m["ID"]), m.get("name", ""), ",".join(m.get("peerURLs") or []),
                ",".join(m.get("clientURLs") or [])))
    else:
        raise Exit(EXIT_BAD_ARGS, "unsupported output format %s by the kubeforge etcdctl double (simple, json)"
                   % o["write-out"])
    return 0


def main(argv: list[str], env) -> int:
    o, pos, _ = parse(argv, GLOBAL, SHORT, env, "ETCDCTL_")
    if not pos:
        raise Exit(EXIT_ERROR, "a command is required (version, snapshot save, member list)")
    if pos[0] == "version":
        sys.stdout.write("etcdctl version: %s\nAPI version: %s\n" % (buildinfo.VERSION.lstrip("v"), version()))
        return 0
    if pos[0] == "snapshot" and pos[1:2] == ["save"]:
        return snapshot_save(pos[2:], o)
    if pos[0] == "snapshot" and len(pos) > 1:
        raise Exit(EXIT_ERROR, 'unknown command "%s" for "etcdctl snapshot"' % pos[1])
    if pos[0] == "member" and pos[1:2] == ["list"]:
        return member_list(pos[2:], o)
    raise Exit(EXIT_ERROR, 'unknown command "%s" for "etcdctl"' % " ".join(pos[:2]))
