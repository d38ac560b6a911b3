# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm token discovery: the CA public key pin of a cluster CA certificate.

``kubeadm join`` trusts the cluster CA it fetches during token discovery only when
the SHA-256 of that CA certificate's DER-encoded SubjectPublicKeyInfo matches one of
the pins given with ``--discovery-token-ca-cert-hash`` (JoinConfiguration
``discovery.bootstrapToken.caCertHashes``), written ``sha256:<hex>`` in the style of
RFC 7469. The same value comes out of
``openssl x509 -pubkey -noout -in ca.crt | openssl pkey -pubin -outform der | sha256sum``.

The certificate is read with a minimal DER walker from the standard library, so
that this works on any Python the controller runs, without ``cryptography``.
Pure functions only: no file or network access.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

HASH_FORMAT = 'sha256'
PEM_BEGIN = '-----BEGIN CERTIFICATE-----'
PEM_END = '-----END CERTIFICATE-----'

_TAG_NAMES = {
    0x02: 'INTEGER',
    0x03: 'BIT STRING',
    0x30: 'SEQUENCE',
    0xA0: '[0] (version)',
}


class KubeadmDiscoveryError(ValueError):
    """Raised when a CA certificate is not usable."""


def _pem_certificate_der(pem: str | bytes) -> bytes:
    """Return the DER bytes of the first ``CERTIFICATE`` PEM block in ``pem``."""
    if isinstance(pem, bytes):
        try:
            pem = pem.decode('ascii')
        except UnicodeDecodeError as exc:
            raise KubeadmDiscoveryError(
                'The CA certificate is not PEM text (it holds non-ASCII bytes); pass the content of '
                'the PEM file such as /etc/kubernetes/pki/ca.crt, not a DER file. Convert DER with '
                '"openssl x509 -inform der -in ca.der -out ca.crt".'
            ) from exc
    if not isinstance(pem, str):
        raise KubeadmDiscoveryError(
            'The CA certificate must be PEM text, got %s.' % type(pem).__name__
        )
    start = pem.find(PEM_BEGIN)
    if start < 0:
        if not pem.strip():
            found = 'the text is empty'
        else:
            found = "no '%s' line was found" % PEM_BEGIN
        raise KubeadmDiscoveryError(
            'No PEM certificate in the CA certificate text: %s. Pass the content of the cluster CA '
            'certificate (for kubeadm /etc/kubernetes/pki/ca.crt), for example read with '
            'ansible.builtin.slurp and b64decode.' % found
        )
    body_start = start + len(PEM_BEGIN)
    end = pem.find(PEM_END, body_start)
    if end < 0:
        raise KubeadmDiscoveryError(
            "The first PEM certificate has no '%s' line; the CA certificate text looks truncated. "
            'Read the whole file again.' % PEM_END
        )
    body = ''.join(pem[body_start:end].split())
    if not body:
        raise KubeadmDiscoveryError(
            'The first PEM certificate is empty (nothing between its BEGIN and END lines); '
            'read the CA certificate file again.'
        )
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KubeadmDiscoveryError(
            'The first PEM certificate is not valid base64 (%s); the CA certificate text is damaged. '
            'Read the file again and pass it unchanged.' % exc
        ) from exc


def _read_element(der: bytes, offset: int, limit: int, what: str) -> tuple[int, int, int]:
    """Read the DER element starting at ``offset`` that must end by ``limit``.

    Returns ``(tag, content_start, element_end)``.
    """
    if offset >= limit:
        raise KubeadmDiscoveryError(
            'Malformed CA certificate: the DER data ends where %s was expected.' % what
        )
    tag = der[offset]
    if tag & 0x1F == 0x1F:
        raise KubeadmDiscoveryError(
            'Malformed CA certificate: %s uses a multi-byte DER tag, which an X.509 certificate '
            'never does here.' % what
        )
    pos = offset + 1
    if pos >= limit:
        raise KubeadmDiscoveryError(
            'Malformed CA certificate: the DER data ends inside the header of %s.' % what
        )
    first = der[pos]
    pos += 1
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise KubeadmDiscoveryError(
            'Malformed CA certificate: %s has an indefinite length, which DER does not allow.' % what
        )
    else:
        count = first & 0x7F
        if count > 4 or pos + count > limit:
            raise KubeadmDiscoveryError(
                'Malformed CA certificate: the length of %s is invalid or runs past the end of the data.' % what
            )
        length = int.from_bytes(der[pos:pos + count], 'big')
        pos += count
    end = pos + length
    if end > limit:
        raise KubeadmDiscoveryError(
            'Malformed CA certificate: %s claims %d bytes but only %d are left; the certificate is '
            'truncated or damaged.' % (what, length, limit - pos)
        )
    return tag, pos, end


def _expect(der: bytes, offset: int, limit: int, tag: int, what: str) -> tuple[int, int]:
    """Read the element at ``offset``, check its tag and return ``(content_start, element_end)``."""
    found, content, end = _read_element(der, offset, limit, what)
    if found != tag:
        raise KubeadmDiscoveryError(
            'Malformed CA certificate: expected %s (%s) but found DER tag 0x%02x. '
            'Is this really an X.509 certificate?' % (what, _TAG_NAMES.get(tag, '0x%02x' % tag), found)
        )
    return content, end


def subject_public_key_info_der(der: bytes) -> bytes:
    """Return the exact DER encoding (tag, length, content) of a certificate's SubjectPublicKeyInfo.

    ``der`` is one DER-encoded X.509 certificate. Only the structure up to the
    SubjectPublicKeyInfo is walked: Certificate SEQUENCE, tbsCertificate SEQUENCE,
    optional ``[0]`` version, serialNumber, signature, issuer, validity, subject.
    """
    if not isinstance(der, (bytes, bytearray)):
        raise KubeadmDiscoveryError('The DER certificate must be bytes, got %s.' % type(der).__name__)
    der = bytes(der)
    cert_content, cert_end = _expect(der, 0, len(der), 0x30, 'the Certificate SEQUENCE')
    if cert_end != len(der):
        raise KubeadmDiscoveryError(
            'Malformed CA certificate: %d unexpected bytes follow the certificate.' % (len(der) - cert_end)
        )
    tbs_pos, tbs_end = _expect(der, cert_content, cert_end, 0x30, 'the tbsCertificate SEQUENCE')

    tag = _read_element(der, tbs_pos, tbs_end, 'the version or serialNumber')[0]
    if tag == 0xA0:
        tbs_pos = _expect(der, tbs_pos, tbs_end, 0xA0, 'the version')[1]
    for tag, what in ((0x02, 'the serialNumber'), (0x30, 'the signature algorithm'),
                      (0x30, 'the issuer'), (0x30, 'the validity'), (0x30, 'the subject')):
        tbs_pos = _expect(der, tbs_pos, tbs_end, tag, what)[1]

    spki_start = tbs_pos
    spki_content, spki_end = _expect(der, spki_start, tbs_end, 0x30, 'the subjectPublicKeyInfo')
    algorithm_end = _expect(der, spki_content, spki_end, 0x30, 'the public key algorithm')[1]
    key_end = _expect(der, algorithm_end, spki_end, 0x03, 'the subjectPublicKey')[1]
    if key_end != spki_end:
        raise KubeadmDiscoveryError(
            'Malformed CA certificate: unexpected data after the public key inside the subjectPublicKeyInfo.'
        )
    return der[spki_start:spki_end]


def ca_cert_hash_from_der(der: bytes) -> str:
    """Return the kubeadm discovery pin ``sha256:<64 lowercase hex>`` of a DER-encoded certificate."""
    return '%s:%s' % (HASH_FORMAT, hashlib.sha256(subject_public_key_info_der(der)).hexdigest())


def kubeadm_ca_cert_hash(pem: str | bytes) -> str:
    """Return the ``--discovery-token-ca-cert-hash`` value for the CA certificate in ``pem``.

    ``pem`` is PEM text; when it holds several certificates (a bundle), the first one
    is used, as it is the cluster CA in a kubeadm ``ca.crt``.
    """
    return ca_cert_hash_from_der(_pem_certificate_der(pem))
