"""kubeadm-style PKI through the openssl CLI (the K3s double's runner).

Key types follow ClusterConfiguration.encryptionAlgorithm: RSA-2048 (kubeadm's
default), RSA-3072, RSA-4096, ECDSA-P256, ECDSA-P384.
"""
import ipaddress
import os
import secrets
import shutil
import tempfile

from . import paths
from .k3slib import pki

ALGORITHMS = ("RSA-2048", "RSA-3072", "RSA-4096", "ECDSA-P256", "ECDSA-P384")


def newkey_args(algo):
    if algo.startswith("RSA-"):
        return ["-newkey", "rsa:%s" % algo[4:]]
    curve = {"ECDSA-P256": "prime256v1", "ECDSA-P384": "secp384r1"}[algo]
    return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:%s" % curve]


def _days(hours):
    return str(max(1, int(round(hours / 24.0))))


def make_ca(crt, key, cn, algo="RSA-2048", hours=87600):
    """Self-signed CA (kubeadm: CN=kubernetes, etcd-ca, front-proxy-ca)."""
    hc, hk = paths.host(crt), paths.host(key)
    os.makedirs(os.path.dirname(hc), exist_ok=True)
    pki._run(["req", "-x509", "-new"] + newkey_args(algo) +
             ["-nodes", "-keyout", hk, "-out", hc, "-days", _days(hours), "-subj", "/CN=%s" % cn,
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
              "-addext", "subjectKeyIdentifier=hash"])
    os.chmod(hk, 0o600)
    os.chmod(hc, 0o644)


def subject(cn, orgs=()):
    return "".join("/O=%s" % o for o in orgs) + "/CN=%s" % cn


def make_leaf(crt, key, ca_crt, ca_key, cn, orgs=(), dns=(), ips=(), client=False, server=False,
              algo="RSA-2048", hours=8760):
    """A leaf certificate; all paths are logical (rerooted by paths.host)."""
    leaf_raw(paths.host(crt), paths.host(key), paths.host(ca_crt), paths.host(ca_key), cn, orgs, dns, ips,
             client, server, algo, hours)


def leaf_raw(hc, hk, hca, hcakey, cn, orgs=(), dns=(), ips=(), client=False, server=False, algo="RSA-2048",
             hours=8760):
    os.makedirs(os.path.dirname(hc), exist_ok=True)
    usage = [u for u, on in (("serverAuth", server), ("clientAuth", client)) if on]
    args = ["req", "-x509", "-new"] + newkey_args(algo) + [
        "-nodes", "-keyout", hk, "-out", hc, "-days", _days(hours), "-subj", subject(cn, orgs),
        "-CA", hca, "-CAkey", hcakey,
        "-addext", "basicConstraints=critical,CA:FALSE",
        "-addext", "keyUsage=critical,digitalSignature,keyEncipherment"]
    if usage:
        args += ["-addext", "extendedKeyUsage=" + ",".join(usage)]
    san = pki.san_string(dns, ips)
    if san:
        args += ["-addext", "subjectAltName=" + san]
    pki._run(args)
    os.chmod(hk, 0o600)
    os.chmod(hc, 0o644)


def make_keypair(key, pub, algo="RSA-2048"):
    """sa.key / sa.pub."""
    hk, hp = paths.host(key), paths.host(pub)
    os.makedirs(os.path.dirname(hk), exist_ok=True)
    if algo.startswith("RSA-"):
        pki._run(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:%s" % algo[4:], "-out", hk])
    else:
        curve = {"ECDSA-P256": "P-256", "ECDSA-P384": "P-384"}[algo]
        pki._run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:%s" % curve, "-out", hk])
    os.chmod(hk, 0o600)
    pki._run(["pkey", "-in", hk, "-pubout", "-out", hp])
    os.chmod(hp, 0o644)


def client_cert_pem(ca_crt, ca_key, cn, orgs=(), algo="RSA-2048", hours=8760):
    """(cert PEM, key PEM) of a client certificate, for embedding in a kubeconfig."""
    d = tempfile.mkdtemp(prefix="kubeadm-cert-")
    try:
        c, k = os.path.join(d, "c.crt"), os.path.join(d, "c.key")
        leaf_raw(c, k, paths.host(ca_crt), paths.host(ca_key), cn, orgs, client=True, algo=algo, hours=hours)
        with open(c, "rb") as a, open(k, "rb") as b:
            return a.read(), b.read()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def new_csr(cn, orgs=()):
    """(CSR PEM, key PEM) with an ECDSA P-256 key, like the kubelet's TLS bootstrap."""
    d = tempfile.mkdtemp(prefix="kubelet-csr-")
    try:
        k, r = os.path.join(d, "k.pem"), os.path.join(d, "r.pem")
        pki._run(["req", "-new"] + newkey_args("ECDSA-P256") + ["-nodes", "-keyout", k, "-out", r,
                                                                 "-subj", subject(cn, orgs)])
        with open(r, "rb") as a, open(k, "rb") as b:
            return a.read(), b.read()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def csr_subject(csr_pem):
    """{'CN': [...], 'O': [...]} of a PEM CSR (openssl -nameopt RFC2253)."""
    d = tempfile.mkdtemp(prefix="csr-")
    try:
        r = os.path.join(d, "r.pem")
        with open(r, "wb") as fh:
            fh.write(csr_pem)
        out = pki._run(["req", "-in", r, "-noout", "-verify", "-subject", "-nameopt", "RFC2253"]).decode()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    line = [l for l in out.splitlines() if l.startswith("subject=")]
    subj = {}
    if line:
        for part in line[0][len("subject="):].split(","):
            k, _, v = part.strip().partition("=")
            subj.setdefault(k, []).append(v)
    return subj


def sign_csr(csr_pem, ca_crt, ca_key, hours=8760, client=True, server=False):
    d = tempfile.mkdtemp(prefix="csr-sign-")
    try:
        r, c, ext = os.path.join(d, "r.pem"), os.path.join(d, "c.pem"), os.path.join(d, "ext")
        with open(r, "wb") as fh:
            fh.write(csr_pem)
        usage = [u for u, on in (("serverAuth", server), ("clientAuth", client)) if on]
        with open(ext, "w") as fh:
            fh.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                     "extendedKeyUsage=%s\n" % ",".join(usage))
        pki._run(["x509", "-req", "-in", r, "-CA", paths.host(ca_crt), "-CAkey", paths.host(ca_key),
                  "-days", _days(hours), "-extfile", ext, "-set_serial", "0x" + secrets.token_hex(16), "-out", c])
        with open(c, "rb") as fh:
            return fh.read()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def self_signed(crt, key, cn, dns=(), ips=(), hours=8760):
    """The kubelet's own serving certificate (kubelet.crt, signed by <host>-ca@<ts> in real kubelets)."""
    hc, hk = paths.host(crt), paths.host(key)
    os.makedirs(os.path.dirname(hc), exist_ok=True)
    args = ["req", "-x509", "-new"] + newkey_args("ECDSA-P256") + [
        "-nodes", "-keyout", hk, "-out", hc, "-days", _days(hours), "-subj", "/CN=%s" % cn]
    san = pki.san_string(dns, ips)
    if san:
        args += ["-addext", "subjectAltName=" + san]
    pki._run(args)
    os.chmod(hk, 0o600)


def cert_text(crt):
    return pki._run(["x509", "-in", paths.host(crt), "-noout", "-subject", "-ext", "subjectAltName",
                     "-nameopt", "RFC2253"]).decode()


def cert_info(pem_or_path):
    """{"cn", "orgs", "dns", "ips", "client", "server"} of a certificate (PEM bytes, or a logical path)."""
    d = None
    if isinstance(pem_or_path, bytes):
        d = tempfile.mkdtemp(prefix="kubeadm-cert-")
        path = os.path.join(d, "c.crt")
        with open(path, "wb") as fh:
            fh.write(pem_or_path)
    else:
        path = paths.host(pem_or_path)
    try:
        text = pki._run(["x509", "-in", path, "-noout", "-subject", "-nameopt", "RFC2253",
                         "-ext", "subjectAltName,extendedKeyUsage"]).decode()
    finally:
        if d:
            shutil.rmtree(d, ignore_errors=True)
    info = {"cn": "", "orgs": [], "dns": [], "ips": [], "client": False, "server": False}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("subject="):
            for part in line[len("subject="):].split(","):
                k, _, v = part.strip().partition("=")
                if k == "CN":
                    info["cn"] = v
                elif k == "O":
                    info["orgs"].insert(0, v)  # RFC 2253 lists the RDNs last to first
        elif "Subject Alternative Name" in line and i + 1 < len(lines):
            for item in lines[i + 1].split(","):
                k, _, v = item.strip().partition(":")
                if k == "DNS":
                    info["dns"].append(v)
                elif k == "IP Address":
                    info["ips"].append(str(ipaddress.ip_address(v)))
        elif "Extended Key Usage" in line and i + 1 < len(lines):
            info["server"] = "Server Authentication" in lines[i + 1]
            info["client"] = "Client Authentication" in lines[i + 1]
    return info


def renew_leaf(crt, key, ca_crt, ca_key, algo="RSA-2048", hours=8760):
    """kubeadm's renewal of a certificate signed by a local CA: a new certificate and key with the subject, SANs
    and extended key usages of the one on disk, signed by the same CA, valid for ``hours`` from now."""
    i = cert_info(crt)
    make_leaf(crt, key, ca_crt, ca_key, i["cn"], i["orgs"], i["dns"], i["ips"], client=i["client"],
              server=i["server"], algo=algo, hours=hours)
