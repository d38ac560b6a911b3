"""Join verification and supervisor requests (K3s pkg/clientaccess).

Used by `k3s agent` and by a joining `k3s server`:

1. GET /cacerts without TLS verification (the cluster CA is self-signed, so
   the system-trust attempt of real K3s is skipped), then GET it again
   verifying the chain against the downloaded bundle (hostname not checked:
   real K3s's dynamiclistener adds requested names to its serving cert).
2. Compare sha256(bundle bytes) with the token's CA hash.
3. Authenticated requests use Basic auth ``node:<pw>`` or ``server:<pw>``.
"""
import base64
import hashlib
import http.client
import socket
import ssl
from urllib.parse import urlsplit

from . import tokens


class AccessError(Exception):
    pass


class HTTPStatusError(AccessError):
    def __init__(self, url, code, reason):
        AccessError.__init__(self, "%s: %d %s" % (url, code, reason))
        self.code = code


def _split(url):
    u = urlsplit(url)
    if u.scheme != "https":
        raise AccessError("only https:// URLs are supported, invalid scheme: %s" % url)
    return u.hostname, u.port or 443


def _ctx(cadata=None, cert=None):
    if cadata is None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=cadata.decode() if isinstance(cadata, bytes) else cadata)
    if cert:
        ctx.load_cert_chain(cert[0], cert[1])
    return ctx


def request(base, path, method="GET", cadata=None, basic=None, cert=None, body=None, headers=None,
            timeout=10, ok=(200,)):
    """Return (status, body bytes); raise AccessError on transport errors and
    HTTPStatusError when the status is not in ``ok``."""
    host, port = _split(base)
    url = base.rstrip("/") + path
    hdrs = dict(headers or {})
    if basic:
        hdrs["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % basic).encode()).decode()
    if body is not None and not isinstance(body, bytes):
        body = body.encode()
    try:
        c = http.client.HTTPSConnection(host, port, context=_ctx(cadata, cert), timeout=timeout)
        try:
            c.request(method, path, body=body, headers=hdrs)
            r = c.getresponse()
            data = r.read()
        finally:
            c.close()
    except ssl.SSLError as e:
        raise AccessError('%s "%s": tls: %s' % (method.capitalize(), url, e.reason or e))
    except (OSError, http.client.HTTPException) as e:
        msg = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        if isinstance(e, socket.timeout):
            msg = "i/o timeout"
        raise AccessError('%s "%s": dial tcp %s:%d: connect: %s' % (method.capitalize(), url, host, port,
                                                                   msg.lower()))
    if r.status not in ok:
        raise HTTPStatusError(url, r.status, r.reason)
    return r.status, data


def get_cacerts(base):
    """Insecure fetch, then a verified re-fetch against the downloaded bundle."""
    _, bundle = request(base, "/cacerts")
    if b"-----BEGIN CERTIFICATE-----" not in bundle:
        raise AccessError("failed to parse CA certificates from %s/cacerts" % base.rstrip("/"))
    _, again = request(base, "/cacerts", cadata=bundle)
    return again


def ca_hash(bundle):
    return hashlib.sha256(bundle).hexdigest()


def validate(base, raw_token):
    """Return (Token, cacerts bytes) or raise AccessError (hash mismatch etc.)."""
    tok = tokens.parse(raw_token)
    bundle = get_cacerts(base)
    got = ca_hash(bundle)
    if tok.ca_hash and tok.ca_hash != got:
        raise AccessError("token CA hash does not match the Cluster CA certificate hash: %s != %s"
                          % (tok.ca_hash, got))
    return tok, bundle
