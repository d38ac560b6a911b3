"""A small Kubernetes API client over HTTPS (client certificate or bearer token)."""
import http.client
import json
import os
import shutil
import socket
import ssl
import tempfile
import time
from urllib.parse import urlsplit


class APIError(Exception):
    """Transport failure, worded like Go's net/http client errors."""

    def __init__(self, msg, retriable=True):
        super().__init__(msg)
        self.retriable = retriable


class Client:
    def __init__(self, server, ca=None, cert=None, key=None, token=None, insecure=False, timeout=10, retry_for=0.0):
        """retry_for: seconds during which transport failures (refused, reset, closed, timed out; not a
        certificate that fails verification) are retried every second, as kubeadm's API calls are retried
        until timeouts.kubernetesAPICall (an API server behind a load balancer that has not marked it up)."""
        u = urlsplit(server)
        self.retry_for = retry_for
        self.server = server.rstrip("/")
        self.host = u.hostname
        self.port = u.port or 443
        self.token = token
        self.timeout = timeout
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if insecure or not ca:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            ctx.load_verify_locations(cadata=ca.decode() if isinstance(ca, bytes) else ca)
        if cert and key:
            d = tempfile.mkdtemp(prefix="kclient-")
            try:
                c, k = os.path.join(d, "c"), os.path.join(d, "k")
                with open(c, "wb") as fh:
                    fh.write(cert)
                with open(k, "wb") as fh:
                    fh.write(key)
                ctx.load_cert_chain(c, k)
            finally:
                shutil.rmtree(d, ignore_errors=True)
        self.ctx = ctx

    @classmethod
    def from_kubeconfig(cls, cluster, user, **kw):
        return cls(cluster["server"], ca=cluster.get("ca"), cert=user.get("cert"), key=user.get("key"),
                   token=user.get("token"), insecure=cluster.get("insecure", False), **kw)

    def request(self, method, path, body=None, ctype="application/json"):
        deadline = time.monotonic() + self.retry_for
        while True:
            try:
                return self._request(method, path, body, ctype)
            except APIError as e:
                if e.retriable and time.monotonic() + 1 < deadline:
                    time.sleep(1)
                    continue
                raise

    def _request(self, method, path, body, ctype):
        url = self.server + path
        verb = method[0] + method[1:].lower()
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=self.timeout)
        headers = {"Accept": "application/json", "User-Agent": "kubeforge-double"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = ctype
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        except ssl.SSLCertVerificationError as e:
            raise APIError('%s "%s": tls: failed to verify certificate: x509: %s' % (verb, url, e.verify_message),
                           retriable=False)
        except ConnectionRefusedError:
            raise APIError('%s "%s": dial tcp %s:%d: connect: connection refused' % (verb, url, self.host, self.port))
        except socket.timeout:
            raise APIError('%s "%s": context deadline exceeded' % (verb, url))
        except (OSError, http.client.HTTPException) as e:
            raise APIError('%s "%s": %s' % (verb, url, e))
        finally:
            conn.close()
        try:
            doc = json.loads(raw.decode() or "null")
        except ValueError:
            doc = raw.decode(errors="replace")
        return resp.status, doc

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body):
        return self.request("POST", path, body)

    def put(self, path, body):
        return self.request("PUT", path, body)

    def patch(self, path, body):
        return self.request("PATCH", path, body, "application/merge-patch+json")

    def delete(self, path):
        return self.request("DELETE", path)


def status_message(doc, code):
    if isinstance(doc, dict) and doc.get("message"):
        return doc["message"]
    return "the server responded with the status code %d" % code
