"""Polling a health endpoint until it answers, and kubeadm's way of printing how long that took."""
from __future__ import annotations

import time
import urllib.error
import urllib.request

from .. import kconfig


def wait_http(url, timeout_s, insecure_tls=False):
    """Poll url until it answers 200; returns (ok, elapsed, last error)."""
    ctx = None
    if url.startswith("https"):
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    t0 = time.time()
    last = "context deadline exceeded"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2, context=ctx) as r:
                if r.status == 200:
                    return True, time.time() - t0, None
                last = "unexpected status %d" % r.status
        except urllib.error.HTTPError as e:
            last = 'Get "%s": %d %s' % (url, e.code, e.reason)
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            if isinstance(reason, ConnectionRefusedError):
                hp = url.split("://", 1)[1].split("/", 1)[0]
                last = 'Get "%s": dial tcp %s: connect: connection refused' % (url, hp)
            else:
                last = 'Get "%s": %s' % (url, reason)
        if time.time() - t0 >= timeout_s:
            return False, time.time() - t0, last
        time.sleep(0.25)


def fmt_secs(s):
    if s < 1:
        return "%.3fms" % (s * 1000)
    return "%.9fs" % s if s < 60 else kconfig.format_duration(s)
