"""``kubeadm init phase upload-certs`` and the encrypted ``kubeadm-certs`` Secret (see README)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from common import keystream

from .. import paths, tokens, yamlk
from .apiclient import admin_client, apply_object
from .base import Fail, out, parse


CERT_FILES = ("ca.crt", "ca.key", "sa.key", "sa.pub", "front-proxy-ca.crt", "front-proxy-ca.key", "etcd/ca.crt",
              "etcd/ca.key")


def seal(key_hex, data):
    key = bytes.fromhex(key_hex)
    nonce = secrets.token_bytes(12)
    ct = keystream.xor(key, nonce, data)
    tag = hmac.new(key, b"tag" + nonce + ct, hashlib.sha256).digest()[:16]
    return nonce + ct + tag


def unseal(key_hex, blob):
    key = bytes.fromhex(key_hex)
    nonce, ct, tag = blob[:12], blob[12:-16], blob[-16:]
    if not hmac.compare_digest(tag, hmac.new(key, b"tag" + nonce + ct, hashlib.sha256).digest()[:16]):
        raise ValueError("cipher: message authentication failed")
    return keystream.xor(key, nonce, ct)


def upload_certs(client, c, key, print_key=True):
    out('[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace')
    data = {}
    for f in CERT_FILES:
        p = c.p(f)
        if paths.exists(p):
            data[f.replace("/", "-")] = base64.b64encode(seal(key, paths.read_bytes(p))).decode()
    apply_object(client, "/api/v1/namespaces/kube-system/secrets", "kubeadm-certs",
                 {"metadata": {"name": "kubeadm-certs", "namespace": "kube-system",
                               "annotations": {"kubeforge.io/expires": tokens.rfc3339(time.time() + 7200)}},
                  "type": "Opaque", "data": data})
    out("[upload-certs] Using certificate key:")
    out(key if print_key else "<value withheld>")


def cmd_init_phase(args):
    if not args:
        raise Fail('"kubeadm init phase" requires a phase name')
    name, rest = args[0], args[1:]
    if name != "upload-certs":
        raise Fail('"kubeadm init phase %s" is not implemented by the kubeforge kubeadm test double' % name)
    vals, pos, _ = parse(rest, {"upload-certs": "bool", "config": "str", "certificate-key": "str",
                                "kubeconfig": "str", "skip-certificate-key-print": "bool", "dry-run": "bool"})
    if not vals.get("upload-certs"):
        out("[upload-certs] Skipping phase. Please see --upload-certs")
        return 0
    client, _ = admin_client(vals.get("kubeconfig") or paths.ADMIN_CONF)
    pki = paths.PKI_DIR
    code, cm = client.get("/api/v1/namespaces/kube-system/configmaps/kubeadm-config")
    if code == 200:
        try:
            pki = (yamlk.safe_load(cm["data"]["ClusterConfiguration"]) or {}).get("certificatesDir") or pki
        except (KeyError, yamlk.YamlError):
            pass
    key = vals.get("certificate-key") or secrets.token_hex(32)

    class _C:
        def p(self, n):
            return "%s/%s" % (pki, n)
    try:
        upload_certs(client, _C(), key, not vals.get("skip-certificate-key-print"))
    except Fail as e:
        e.phase = "upload-certs"
        raise
    return 0
