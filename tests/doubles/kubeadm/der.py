"""Just enough DER to hash a certificate's SubjectPublicKeyInfo (RFC 7469 pin,
the kubeadm discovery-token-ca-cert-hash) without calling openssl."""
import base64
import hashlib
import re


class DERError(ValueError):
    pass


def _tlv(buf, i):
    if i + 2 > len(buf):
        raise DERError("truncated DER")
    tag = buf[i]
    n = buf[i + 1]
    j = i + 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or j + k > len(buf):
            raise DERError("bad DER length")
        n = int.from_bytes(buf[j:j + k], "big")
        j += k
    if j + n > len(buf):
        raise DERError("truncated DER")
    return tag, j, j + n  # tag, content start, end


def pem_blocks(text, kind="CERTIFICATE"):
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    out = []
    for m in re.finditer(r"-----BEGIN %s-----(.*?)-----END %s-----" % (kind, kind), text, re.S):
        out.append(base64.b64decode("".join(m.group(1).split())))
    return out


def spki(cert_der):
    """The DER bytes of the SubjectPublicKeyInfo of a certificate."""
    tag, s, e = _tlv(cert_der, 0)
    if tag != 0x30:
        raise DERError("not a certificate")
    tag, s, e = _tlv(cert_der, s)  # tbsCertificate
    if tag != 0x30:
        raise DERError("not a certificate")
    i = s
    fields = []
    while i < e:
        t, cs, ce = _tlv(cert_der, i)
        fields.append((t, i, ce))
        i = ce
    if fields and fields[0][0] == 0xA0:  # [0] version
        fields = fields[1:]
    # serial, signature, issuer, validity, subject, subjectPublicKeyInfo
    if len(fields) < 6:
        raise DERError("short tbsCertificate")
    t, a, b = fields[5]
    return cert_der[a:b]


def pin(cert_der):
    return "sha256:" + hashlib.sha256(spki(cert_der)).hexdigest()


def pins_of_pem(text):
    return [pin(d) for d in pem_blocks(text)]
