# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm token discovery: CA public key pins and join commands.

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
import re
import shlex
import typing as t

HASH_FORMAT = 'sha256'
PEM_BEGIN = '-----BEGIN CERTIFICATE-----'
PEM_END = '-----END CERTIFICATE-----'

# kubeadm (cmd/kubeadm/app/util/pubkeypin) lower-cases the format name and decodes the
# value with Go's hex decoder, which takes both cases; it prints lower case.
_CA_CERT_HASH_RE = re.compile(r'^[Ss][Hh][Aa]256:([0-9A-Fa-f]{64})$')
# k8s.io/cluster-bootstrap BootstrapTokenPattern: lower case only.
_TOKEN_RE = re.compile(r'^[a-z0-9]{6}\.[a-z0-9]{16}$')
# The certificate key is a 32-byte AES key, hex encoded (decoded with Go's hex decoder).
_CERTIFICATE_KEY_RE = re.compile(r'^[0-9A-Fa-f]{64}$')
# host:port, host:port with a bracketed IPv6 address.
_ENDPOINT_RE = re.compile(r'^(?:\[[0-9A-Fa-f:.]+(?:%[^\]]+)?\]|[^\s:/\[\]@]+):([0-9]{1,5})$')
_CONTINUATION_RE = re.compile(r'\\[ \t]*\r?\n')

_TAG_NAMES = {
    0x02: 'INTEGER',
    0x03: 'BIT STRING',
    0x30: 'SEQUENCE',
    0xA0: '[0] (version)',
}

JOIN_FLAGS = (
    '--token',
    '--discovery-token-ca-cert-hash',
    '--control-plane',
    '--certificate-key',
)


class KubeadmDiscoveryError(ValueError):
    """Raised when a CA certificate, a CA certificate hash or a join command is not usable."""


# --------------------------------------------------------------------------- certificates


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


# --------------------------------------------------------------------------- hashes


def validate_ca_cert_hash(value: str) -> str:
    """Check a CA certificate hash as kubeadm does and return it in canonical form.

    kubeadm accepts ``sha256:<64 hex digits>``, the format name and the hex digits in
    either case; the canonical form it prints is ``sha256:`` and lowercase hex, which
    is what this returns. Surrounding whitespace is ignored.
    """
    if not isinstance(value, str):
        raise KubeadmDiscoveryError(
            'A CA certificate hash must be a string, got %s.' % type(value).__name__
        )
    text = value.strip()
    match = _CA_CERT_HASH_RE.match(text)
    if match:
        return '%s:%s' % (HASH_FORMAT, match.group(1).lower())

    fix = ('Expected "sha256:" followed by 64 hex digits, the SHA-256 of the CA certificate\'s public key '
           '(see the kubeforge.cluster.kubeadm_ca_cert_hash filter).')
    if not text:
        raise KubeadmDiscoveryError('The CA certificate hash is empty. ' + fix)
    format_name, sep, digits = text.partition(':')
    if not sep:
        if re.match(r'^[0-9A-Fa-f]{64}$', text):
            raise KubeadmDiscoveryError(
                'The CA certificate hash lacks its "sha256:" prefix; write "sha256:%s".' % text.lower()
            )
        raise KubeadmDiscoveryError('The CA certificate hash has no "<format>:" prefix. ' + fix)
    if format_name.lower() != HASH_FORMAT:
        raise KubeadmDiscoveryError(
            'Unknown CA certificate hash format "%s"; kubeadm only knows "sha256". %s' % (format_name, fix)
        )
    if ':' in digits:
        raise KubeadmDiscoveryError('The CA certificate hash holds more than one ":". ' + fix)
    if len(digits) != 64:
        raise KubeadmDiscoveryError(
            'The CA certificate hash has %d characters after "sha256:" instead of 64. %s' % (len(digits), fix)
        )
    raise KubeadmDiscoveryError(
        'The CA certificate hash has characters after "sha256:" that are not hex digits. ' + fix
    )


def is_ca_cert_hash(value: t.Any) -> bool:
    """Return whether ``value`` is a CA certificate hash kubeadm accepts."""
    try:
        validate_ca_cert_hash(value)
    except KubeadmDiscoveryError:
        return False
    return True


# --------------------------------------------------------------------------- join commands


def _split_join_command(text: str) -> list[str]:
    """Split a (possibly multi-line) shell command into words."""
    joined = _CONTINUATION_RE.sub(' ', text).strip()
    if '\n' in joined:
        raise KubeadmDiscoveryError(
            'The join command spans several lines without a trailing backslash on each but the last; '
            'pass only the kubeadm join command, as kubeadm printed it.'
        )
    try:
        return shlex.split(joined)
    except ValueError as exc:
        raise KubeadmDiscoveryError(
            'The join command cannot be split into words (%s); check its quotes.' % exc
        ) from exc


def _check_token(token: str) -> str:
    if not _TOKEN_RE.match(token):
        # Never repeat the token: it is a credential.
        raise KubeadmDiscoveryError(
            'The --token value is not a bootstrap token: it must read "<id>.<secret>" with a 6-character '
            'id and a 16-character secret of lowercase letters and digits ([a-z0-9]{6}.[a-z0-9]{16}). '
            'Create one with "kubeadm token create --print-join-command".'
        )
    return token


def _check_certificate_key(key: str) -> str:
    if not _CERTIFICATE_KEY_RE.match(key):
        # Never repeat the key: it decrypts the uploaded control-plane certificates.
        raise KubeadmDiscoveryError(
            'The --certificate-key value must be 64 hex digits (a 32-byte key) but has %d characters%s. '
            'Print a new one with "kubeadm init phase upload-certs --upload-certs" on a control-plane node.'
            % (len(key), '' if len(key) != 64 else ' that are not all hex digits')
        )
    return key.lower()


def _check_endpoint(endpoint: str) -> str:
    match = _ENDPOINT_RE.match(endpoint)
    if not match or not 0 < int(match.group(1)) < 65536:
        raise KubeadmDiscoveryError(
            'The API server endpoint "%s" is not "<host>:<port>" (an IPv6 address goes in brackets, '
            'for example [2001:db8::1]:6443).' % endpoint
        )
    return endpoint


def _parse_bool(flag: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ('1', 't', 'true'):
        return True
    if lowered in ('0', 'f', 'false'):
        return False
    raise KubeadmDiscoveryError('%s takes true or false, not "%s".' % (flag, value))


def parse_kubeadm_join_command(text: str) -> dict[str, t.Any]:
    """Parse the join command that ``kubeadm init`` or ``kubeadm token create --print-join-command`` prints.

    Accepts ``kubeadm join <host:port> --token <id>.<secret> --discovery-token-ca-cert-hash sha256:<hex>``,
    optionally with ``--control-plane`` and ``--certificate-key <64 hex>``, on one line or
    split over lines ending in a backslash. Flags may also be written ``--flag=value``;
    ``--discovery-token-ca-cert-hash`` may be repeated or hold a comma-separated list,
    as with kubeadm. Other flags are refused.

    Returns ``{'api_server_endpoint', 'token', 'ca_cert_hashes', 'control_plane', 'certificate_key'}``
    with the hashes and the certificate key in lowercase and ``certificate_key`` ``None``
    when not given. Error messages never repeat the token or the certificate key.
    """
    if not isinstance(text, str):
        raise KubeadmDiscoveryError('The join command must be a string, got %s.' % type(text).__name__)
    words = _split_join_command(text)
    if not words:
        raise KubeadmDiscoveryError(
            'The join command is empty; pass the output of "kubeadm token create --print-join-command".'
        )
    if words[:2] != ['kubeadm', 'join'] and not (
            len(words) > 1 and words[0].endswith('/kubeadm') and words[1] == 'join'):
        raise KubeadmDiscoveryError(
            'This is not a kubeadm join command: it must start with "kubeadm join". Pass only the command '
            'that kubeadm printed, not the surrounding output.'
        )

    endpoints: list[str] = []
    token: str | None = None
    hashes: list[str] = []
    control_plane = False
    certificate_key: str | None = None
    seen: set[str] = set()

    index = 2
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith('-'):
            endpoints.append(word)
            continue
        name, has_value, value = word.partition('=')
        if name not in JOIN_FLAGS:
            raise KubeadmDiscoveryError(
                'Unsupported flag "%s" in the join command; only %s are understood. Pass the command as '
                'kubeadm printed it.' % (name, ', '.join(JOIN_FLAGS))
            )
        if name == '--control-plane':
            control_plane = _parse_bool(name, value) if has_value else True
            continue
        if not has_value:
            if index >= len(words) or words[index].startswith('--'):
                raise KubeadmDiscoveryError('The join command flag %s has no value.' % name)
            value = words[index]
            index += 1
        if name == '--discovery-token-ca-cert-hash':
            hashes.extend(validate_ca_cert_hash(item) for item in value.split(','))
            continue
        if name in seen:
            raise KubeadmDiscoveryError('The join command gives %s more than once.' % name)
        seen.add(name)
        if name == '--token':
            token = _check_token(value)
        else:
            certificate_key = _check_certificate_key(value)

    if len(endpoints) != 1:
        raise KubeadmDiscoveryError(
            'The join command must name exactly one API server endpoint ("<host>:<port>") after '
            '"kubeadm join", found %d.' % len(endpoints)
        )
    endpoint = _check_endpoint(endpoints[0])
    if token is None:
        raise KubeadmDiscoveryError(
            'The join command has no --token; create a token with "kubeadm token create --print-join-command".'
        )
    if not hashes:
        raise KubeadmDiscoveryError(
            'The join command has no --discovery-token-ca-cert-hash, so the joining node could not verify '
            'the cluster CA. Add "--discovery-token-ca-cert-hash sha256:<hex>" (see the '
            'kubeforge.cluster.kubeadm_ca_cert_hash filter).'
        )
    return {
        'api_server_endpoint': endpoint,
        'token': token,
        'ca_cert_hashes': list(dict.fromkeys(hashes)),
        'control_plane': control_plane,
        'certificate_key': certificate_key,
    }
