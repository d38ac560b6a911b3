"""common.keystream: the key stream both doubles seal blobs with."""
from __future__ import annotations

import hashlib
import hmac

import pytest

from common import keystream
from k3s import kine
from kubeadm.commands import upload_certs


def test_keystream_is_hmac_sha256_in_counter_mode() -> None:
    key, nonce = b"k" * 32, b"n" * 12
    blocks = b"".join(hmac.new(key, nonce + i.to_bytes(8, "big"), hashlib.sha256).digest() for i in range(3))
    assert keystream.keystream(key, nonce, 70) == blocks[:70]
    assert keystream.keystream(key, nonce, 0) == b""


def test_xor_round_trip() -> None:
    key, nonce, data = b"key", b"nonce", bytes(range(256)) * 3
    sealed = keystream.xor(key, nonce, data)
    assert sealed != data and len(sealed) == len(data)
    assert keystream.xor(key, nonce, sealed) == data


def test_k3s_bootstrap_data_round_trip() -> None:
    blob = kine.encrypt("token", b"bootstrap data")
    assert blob.startswith(b"kfb1:")
    assert kine.decrypt("token", blob) == b"bootstrap data"
    with pytest.raises(ValueError, match="message authentication failed"):
        kine.decrypt("other", blob)


def test_kubeadm_certs_round_trip() -> None:
    key = "ab" * 32
    blob = upload_certs.seal(key, b"-----BEGIN CERTIFICATE-----")
    assert upload_certs.unseal(key, blob) == b"-----BEGIN CERTIFICATE-----"
    with pytest.raises(ValueError, match="message authentication failed"):
        upload_certs.unseal("cd" * 32, blob)
