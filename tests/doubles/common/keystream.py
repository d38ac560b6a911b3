"""The stream cipher of the doubles' sealed blobs (K3s bootstrap data, kubeadm's ``kubeadm-certs``).

Real K3s and kubeadm use AES-GCM; the stdlib has no AES, so both doubles use
HMAC-SHA256 in counter mode as the key stream and an HMAC tag of their own.
"""
from __future__ import annotations

import hashlib
import hmac


def keystream(key: bytes, nonce: bytes, n: int) -> bytes:
    """n bytes of HMAC-SHA256(key, nonce || 8-byte big-endian counter), counter from 0."""
    out, i = b"", 0
    while len(out) < n:
        out += hmac.new(key, nonce + i.to_bytes(8, "big"), hashlib.sha256).digest()
        i += 1
    return out[:n]


def xor(key: bytes, nonce: bytes, data: bytes) -> bytes:
    """data XOR the key stream: encrypts and decrypts alike."""
    return bytes(a ^ b for a, b in zip(data, keystream(key, nonce, len(data))))
