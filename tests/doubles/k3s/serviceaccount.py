"""Secret-based (legacy) ServiceAccount tokens for the API doubles: pure logic, stdlib only.

- What kube-controller-manager's tokens controller (pkg/controller/serviceaccount/tokens_controller.go)
  writes into a Secret of type ``kubernetes.io/service-account-token`` whose annotation
  ``kubernetes.io/service-account.name`` names a ServiceAccount of its namespace (and whose
  ``kubernetes.io/service-account.uid``, when set, is that ServiceAccount's uid): ``data.token`` when
  empty, ``data.ca.crt`` when it is not the root CA, ``data.namespace`` when empty, and both annotations
  (``populate``).  Which Secrets are a ServiceAccount's tokens (``is_token_for``): the ones the
  controller deletes with it.
- The token: a JWT with kube-apiserver's legacy claims (serviceaccount.LegacyClaims: ``iss``
  ``kubernetes/serviceaccount``, ``sub`` ``system:serviceaccount:<ns>:<name>`` and the
  ``kubernetes.io/serviceaccount/{namespace,secret.name,service-account.name,service-account.uid}``
  claims, no expiry).  Real tokens are RS256-signed with the service-account private key; the
  double's are **HS256** (HMAC-SHA256, the stdlib has no RSA) with a key derived from the key file the
  double's API server is given (``signing_key``), so every server holding that file verifies them.
  The header is ``{"alg":"HS256","kid":...}``, the key id the base64url SHA-256 of the key.
- ``verify``: the signature, the legacy issuer and the claims the legacy validator requires
  (pkg/serviceaccount/legacy.go); the look-ups that follow it (the Secret still there with the same
  ``data.token``, no ``kubernetes.io/legacy-token-invalid-since`` label, the ServiceAccount still
  there with the claimed uid) and the ``kubernetes.io/legacy-token-last-used`` label (``last_used``,
  set to the UTC date once a day) are the API server's (api.py), which has the store.

Not modelled: bound tokens (the TokenRequest API, ``serviceaccounts/<name>/token``, projected volume
tokens), ``--service-account-issuer`` and the OIDC discovery documents, the legacy token cleaner
(kube-controller-manager's ``--legacy-service-account-token-clean-up-period``), and Secrets
auto-created for new ServiceAccounts (no Kubernetes release since 1.24 creates them either).
"""
from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import json
from typing import Mapping, Optional, Tuple

from .rbac import service_account_username as username

SECRET_TYPE = "kubernetes.io/service-account-token"
NAME_KEY = "kubernetes.io/service-account.name"
UID_KEY = "kubernetes.io/service-account.uid"
LAST_USED_LABEL = "kubernetes.io/legacy-token-last-used"
INVALID_SINCE_LABEL = "kubernetes.io/legacy-token-invalid-since"
LEGACY_ISSUER = "kubernetes/serviceaccount"
_CLAIM = "kubernetes.io/serviceaccount/"
NAMESPACE_CLAIM = _CLAIM + "namespace"
SECRET_NAME_CLAIM = _CLAIM + "secret.name"
SA_NAME_CLAIM = _CLAIM + "service-account.name"
SA_UID_CLAIM = _CLAIM + "service-account.uid"
GROUP = "system:serviceaccounts"


def groups(namespace: str) -> Tuple[str, str]:
    """serviceaccount.MakeGroupNames: the groups of every ServiceAccount of ``namespace``."""
    return GROUP, "%s:%s" % (GROUP, namespace)


def signing_key(key_file: bytes) -> bytes:
    """The HMAC key of a cluster's tokens, derived from the contents of its service-account key file."""
    return hashlib.sha256(b"kubeforge double service-account token\0" + key_file).digest()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json(obj: dict) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def _sign(key: bytes, signing_input: str) -> str:
    return _b64url(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())


def generate(key: bytes, namespace: str, secret_name: str, sa_name: str, sa_uid: str) -> str:
    """A legacy token for the Secret ``secret_name`` of the ServiceAccount ``sa_name`` (uid ``sa_uid``)."""
    header = {"alg": "HS256", "kid": _b64url(hashlib.sha256(key).digest())}
    claims = {"iss": LEGACY_ISSUER, NAMESPACE_CLAIM: namespace, SECRET_NAME_CLAIM: secret_name,
              SA_NAME_CLAIM: sa_name, SA_UID_CLAIM: sa_uid, "sub": username(namespace, sa_name)}
    signing_input = "%s.%s" % (_b64url(_json(header)), _b64url(_json(claims)))
    return "%s.%s" % (signing_input, _sign(key, signing_input))


def verify(key: bytes, token: str) -> Optional[Tuple[str, str, str, str]]:
    """(namespace, secret name, ServiceAccount name, uid) of a token signed with ``key`` whose claims the
    legacy validator accepts; None for anything else (the authenticator then answers 401)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header, claims = json.loads(_unb64url(parts[0])), json.loads(_unb64url(parts[1]))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict) \
            or not hmac.compare_digest(_sign(key, "%s.%s" % (parts[0], parts[1])), parts[2]) \
            or claims.get("iss") != LEGACY_ISSUER:
        return None
    found = tuple(claims.get(c) for c in (NAMESPACE_CLAIM, SECRET_NAME_CLAIM, SA_NAME_CLAIM, SA_UID_CLAIM))
    if not all(isinstance(v, str) and v for v in found) or claims.get("sub") != username(found[0], found[2]):
        return None
    return found


def _data(secret: Mapping, field: str) -> bytes:
    """A Secret's decoded ``data.<field>`` (empty when missing or not base64)."""
    try:
        return base64.b64decode((secret.get("data") or {}).get(field) or "", validate=True)
    except (binascii.Error, TypeError, ValueError):
        return b""


def token_matches(secret: Mapping, token: str) -> bool:
    """The Secret's ``data.token`` is ``token`` (the legacy validator's "server's copy")."""
    return hmac.compare_digest(_data(secret, "token"), token.encode())


def is_token_for(secret: Mapping, sa: Mapping) -> bool:
    """serviceaccount.IsServiceAccountToken: a token Secret naming ``sa``, with its uid if it has one."""
    ann = (secret.get("metadata") or {}).get("annotations") or {}
    uid = ann.get(UID_KEY)
    return (secret.get("type") == SECRET_TYPE and ann.get(NAME_KEY) == sa["metadata"]["name"]
            and (not uid or uid == sa["metadata"].get("uid")))


def populate(secret: Mapping, sa: Mapping, key: bytes, root_ca: bytes) -> Optional[dict]:
    """The token Secret as the tokens controller updates it for ``sa``, or None when it needs nothing
    (a token, the root CA and the namespace are there already)."""
    md = secret["metadata"]
    needs_ca = bool(root_ca) and _data(secret, "ca.crt") != root_ca
    needs_ns, needs_token = not _data(secret, "namespace"), not _data(secret, "token")
    if not (needs_ca or needs_ns or needs_token):
        return None
    new = copy.deepcopy(dict(secret))
    data = new["data"] = dict(new.get("data") or {})
    if needs_ca:
        data["ca.crt"] = base64.b64encode(root_ca).decode()
    if needs_ns:
        data["namespace"] = base64.b64encode(md["namespace"].encode()).decode()
    if needs_token:
        token = generate(key, md["namespace"], md["name"], sa["metadata"]["name"], sa["metadata"]["uid"])
        data["token"] = base64.b64encode(token.encode()).decode()
    ann = new["metadata"]["annotations"] = dict(md.get("annotations") or {})
    ann[NAME_KEY] = sa["metadata"]["name"]
    ann[UID_KEY] = sa["metadata"]["uid"]
    return new


def last_used(secret: Mapping, today: str, tomorrow: str) -> Optional[dict]:
    """The Secret with the ``kubernetes.io/legacy-token-last-used`` label set to ``today`` (UTC
    ``YYYY-MM-DD``), or None when it says today or tomorrow already."""
    labels = (secret.get("metadata") or {}).get("labels") or {}
    if labels.get(LAST_USED_LABEL) in (today, tomorrow):
        return None
    new = copy.deepcopy(dict(secret))
    new["metadata"]["labels"] = dict(labels, **{LAST_USED_LABEL: today})
    return new
