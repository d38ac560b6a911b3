"""X.509 helpers: shell out to the openssl CLI (EC P-256 keys, OpenSSL 3)."""
import hashlib
import ipaddress
import os
import subprocess
import tempfile
import time

OPENSSL = "openssl"


class PKIError(Exception):
    pass


def _run(args):
    p = subprocess.run([OPENSSL] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise PKIError("openssl %s failed: %s" % (args[0], p.stderr.decode(errors="replace").strip()))
    return p.stdout


def _umask_write_prep(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)


def make_ca(crt, key, cn_prefix, days=3650):
    """Self-signed CA like K3s: CN=<prefix>@<unix ts>."""
    _umask_write_prep(crt)
    _run(["req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes", "-keyout", key, "-out", crt, "-days", str(days),
          "-subj", "/CN=%s@%d" % (cn_prefix, int(time.time())),
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign"])
    os.chmod(key, 0o600)


def san_string(dns_names, ips):
    parts = ["DNS:%s" % d for d in dns_names] + ["IP:%s" % i for i in ips]
    return ",".join(parts)


def split_sans(values):
    """Split SAN candidates into (dns, ips) preserving order, de-duplicated."""
    dns, ips = [], []
    for v in values:
        if not v:
            continue
        try:
            ip = str(ipaddress.ip_address(v))
            if ip not in ips:
                ips.append(ip)
        except ValueError:
            if v not in dns:
                dns.append(v)
    return dns, ips


def make_leaf(crt, key, ca_crt, ca_key, subject, dns=(), ips=(), client=False, server=False, days=365):
    _umask_write_prep(crt)
    ext_usage = []
    if server:
        ext_usage.append("serverAuth")
    if client:
        ext_usage.append("clientAuth")
    args = ["req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", key, "-out", crt, "-days", str(days), "-subj", subject,
            "-CA", ca_crt, "-CAkey", ca_key,
            "-addext", "basicConstraints=critical,CA:FALSE",
            "-addext", "keyUsage=critical,digitalSignature,keyEncipherment"]
    if ext_usage:
        args += ["-addext", "extendedKeyUsage=" + ",".join(ext_usage)]
    san = san_string(dns, ips)
    if san:
        args += ["-addext", "subjectAltName=" + san]
    _run(args)
    os.chmod(key, 0o600)


def file_sha256(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def cert_sans(crt):
    """Return the subjectAltName extension text of a certificate."""
    out = _run(["x509", "-in", crt, "-noout", "-ext", "subjectAltName"]).decode()
    lines = [l.strip() for l in out.splitlines()[1:] if l.strip()]
    return ", ".join(lines)
