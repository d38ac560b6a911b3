# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm discovery hash (the CA public key pin), checked against the openssl CLI."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import textwrap

import pytest

from ansible_collections.kubeforge.cluster.plugins.module_utils.kubeadm_discovery import (
    KubeadmDiscoveryError,
    ca_cert_hash_from_der,
    kubeadm_ca_cert_hash,
    subject_public_key_info_der,
)

OPENSSL = shutil.which('openssl')
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason='the openssl CLI is not installed')


def openssl(*args: str, data: bytes | None = None) -> bytes:
    return subprocess.run([OPENSSL, *args], input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          check=True).stdout


def openssl_pin(cert_path: str) -> str:
    """The documented pipeline: x509 -pubkey | pkey -pubin -outform der | sha256sum."""
    pubkey = openssl('x509', '-pubkey', '-noout', '-in', cert_path)
    der = openssl('pkey', '-pubin', '-outform', 'der', data=pubkey)
    return 'sha256:' + hashlib.sha256(der).hexdigest()


def self_signed(directory, name: str, *key_args: str) -> str:
    key, crt = str(directory / (name + '.key')), str(directory / (name + '.crt'))
    openssl('req', '-x509', '-new', '-nodes', *key_args, '-keyout', key, '-out', crt,
            '-subj', '/CN=%s' % name, '-days', '2')
    return crt


@pytest.fixture(scope='module')
def certs(tmp_path_factory):
    """Real CA certificates made by the openssl CLI: name -> path."""
    if OPENSSL is None:
        pytest.skip('the openssl CLI is not installed')
    directory = tmp_path_factory.mktemp('kubeadm-ca')
    made = {
        'rsa2048': self_signed(directory, 'rsa2048', '-newkey', 'rsa:2048'),
        'ec-p256': self_signed(directory, 'ec-p256', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'),
    }
    try:
        made['ed25519'] = self_signed(directory, 'ed25519', '-newkey', 'ed25519')
    except subprocess.CalledProcessError:
        pass  # an openssl without Ed25519; the other key types still run
    return made


def read(path: str) -> str:
    with open(path, encoding='ascii') as handle:
        return handle.read()


def pem(der: bytes) -> str:
    body = base64.b64encode(der).decode('ascii')
    return '-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n' % '\n'.join(textwrap.wrap(body, 64))


def der_of(pem_text: str) -> bytes:
    body = pem_text.split('-----BEGIN CERTIFICATE-----')[1].split('-----END CERTIFICATE-----')[0]
    return base64.b64decode(''.join(body.split()))


# --------------------------------------------------------------------------- hashing real certificates


@needs_openssl
@pytest.mark.parametrize('name', ['rsa2048', 'ec-p256', 'ed25519'])
def test_hash_matches_openssl_pipeline(certs, name):
    if name not in certs:
        pytest.skip('this openssl cannot make %s keys' % name)
    expected = openssl_pin(certs[name])
    assert kubeadm_ca_cert_hash(read(certs[name])) == expected


@needs_openssl
def test_spki_bytes_are_exactly_openssls(certs):
    spki = subject_public_key_info_der(der_of(read(certs['ec-p256'])))
    pubkey = openssl('x509', '-pubkey', '-noout', '-in', certs['ec-p256'])
    assert spki == openssl('pkey', '-pubin', '-outform', 'der', data=pubkey)
    assert spki[0] == 0x30


@needs_openssl
def test_v1_certificate_without_version_field(tmp_path):
    key, csr, crt = (str(tmp_path / name) for name in ('v1.key', 'v1.csr', 'v1.crt'))
    openssl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=v1-ca')
    openssl('x509', '-req', '-in', csr, '-signkey', key, '-out', crt, '-days', '2', '-set_serial', '7')
    if b'Version: 1 (0x0)' not in openssl('x509', '-in', crt, '-noout', '-text'):
        pytest.skip('this openssl writes v3 certificates from x509 -req')
    der = der_of(read(crt))
    # tbsCertificate (30 82 xx xx) starts at offset 4 and its first element is the INTEGER serial, no [0].
    assert der[4] == 0x30 and der[8] == 0x02
    assert kubeadm_ca_cert_hash(read(crt)) == openssl_pin(crt)


@needs_openssl
def test_bundle_first_certificate_wins(certs):
    first, second = read(certs['ec-p256']), read(certs['rsa2048'])
    bundle = 'subject=CN = ec-p256\n' + first + '\n' + second
    assert kubeadm_ca_cert_hash(bundle) == openssl_pin(certs['ec-p256'])
    assert kubeadm_ca_cert_hash(second + first) == openssl_pin(certs['rsa2048'])


@needs_openssl
def test_pem_variants(certs):
    text = read(certs['rsa2048'])
    expected = openssl_pin(certs['rsa2048'])
    assert kubeadm_ca_cert_hash(text.encode('ascii')) == expected
    assert kubeadm_ca_cert_hash(text.replace('\n', '\r\n')) == expected
    assert kubeadm_ca_cert_hash('  \n' + text.rstrip('\n')) == expected
    # one long base64 line, as in a kubeconfig after base64 -d of certificate-authority-data
    assert kubeadm_ca_cert_hash(pem(der_of(text)).replace('\n', '', 1)) == expected
    # text output in front of the PEM block (openssl x509 -text)
    assert kubeadm_ca_cert_hash(openssl('x509', '-in', certs['rsa2048'], '-text').decode('ascii')) == expected


@needs_openssl
def test_private_key_before_certificate_is_skipped(certs):
    key = read(certs['ec-p256'][:-len('.crt')] + '.key')
    assert kubeadm_ca_cert_hash(key + read(certs['ec-p256'])) == openssl_pin(certs['ec-p256'])


def test_from_der_matches_hashlib():
    # A minimal hand-made structure: only the parts the walker reads need to be there.
    spki = bytes.fromhex('3013' '3009' '0607' '2a8648ce3d0201' '0306' '0004deadbeef')
    tbs_body = (bytes.fromhex('a003020102' '020101' '3000' '3000' '3000' '3000') + spki
                + bytes.fromhex('a3020500'))
    tbs = bytes([0x30, len(tbs_body)]) + tbs_body
    cert_body = tbs + bytes.fromhex('3000' '030100')
    der = bytes([0x30, len(cert_body)]) + cert_body
    assert subject_public_key_info_der(der) == spki
    assert ca_cert_hash_from_der(der) == 'sha256:' + hashlib.sha256(spki).hexdigest()


# --------------------------------------------------------------------------- bad certificate input


@pytest.mark.parametrize('text, message', [
    ('', 'the text is empty'),
    ('   \n', 'the text is empty'),
    ('hello world', "no '-----BEGIN CERTIFICATE-----' line"),
    ('-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n', 'No PEM certificate'),
    ('-----BEGIN CERTIFICATE-----\nMIIB\n', 'looks truncated'),
    ('-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n', 'is empty'),
    ('-----BEGIN CERTIFICATE-----\nMII*B$$$\n-----END CERTIFICATE-----\n', 'not valid base64'),
    ('-----BEGIN CERTIFICATE-----\nMIIB\nMII\n-----END CERTIFICATE-----\n', 'not valid base64'),
])
def test_unusable_pem(text, message):
    with pytest.raises(KubeadmDiscoveryError, match=message):
        kubeadm_ca_cert_hash(text)


@pytest.mark.parametrize('value', [None, 42, ['-----BEGIN CERTIFICATE-----']])
def test_not_text(value):
    with pytest.raises(KubeadmDiscoveryError, match='must be PEM text'):
        kubeadm_ca_cert_hash(value)


def test_binary_der_is_refused_with_a_hint():
    with pytest.raises(KubeadmDiscoveryError, match='openssl x509 -inform der'):
        kubeadm_ca_cert_hash(b'\x30\x82\x01\xff\xfe')


@needs_openssl
def test_truncated_der(certs):
    der = der_of(read(certs['rsa2048']))
    with pytest.raises(KubeadmDiscoveryError, match='truncated or damaged'):
        kubeadm_ca_cert_hash(pem(der[:200]))
    with pytest.raises(KubeadmDiscoveryError, match='ends where'):
        subject_public_key_info_der(b'')


@needs_openssl
def test_trailing_bytes(certs):
    der = der_of(read(certs['ec-p256']))
    with pytest.raises(KubeadmDiscoveryError, match='2 unexpected bytes follow'):
        kubeadm_ca_cert_hash(pem(der + b'\x00\x00'))


@needs_openssl
def test_private_key_labelled_as_certificate(certs):
    key_pem = read(certs['rsa2048'][:-len('.crt')] + '.key')
    body = key_pem.split('-----BEGIN PRIVATE KEY-----')[1].split('-----END PRIVATE KEY-----')[0]
    with pytest.raises(KubeadmDiscoveryError, match='Malformed CA certificate: expected'):
        kubeadm_ca_cert_hash('-----BEGIN CERTIFICATE-----%s-----END CERTIFICATE-----' % body)


@pytest.mark.parametrize('der, message', [
    (b'\x02\x01\x00', r'expected the Certificate SEQUENCE \(SEQUENCE\) but found DER tag 0x02'),
    (b'\x30\x80\x00\x00', 'indefinite length'),
    (b'\x30', 'ends inside the header'),
    (b'\x30\x85\x01\x00\x00\x00\x00', 'length of the Certificate SEQUENCE is invalid'),
    (b'\x30\x02\x30\x00', 'ends where the version or serialNumber was expected'),
    (b'\x30\x04\x30\x02\x1f\x00', 'multi-byte DER tag'),
    (b'\x30\x05\x30\x03\x02\x01\x01', 'ends where the signature algorithm was expected'),
])
def test_malformed_der(der, message):
    with pytest.raises(KubeadmDiscoveryError, match=message):
        subject_public_key_info_der(der)


def test_der_must_be_bytes():
    with pytest.raises(KubeadmDiscoveryError, match='must be bytes'):
        subject_public_key_info_der('3082')

