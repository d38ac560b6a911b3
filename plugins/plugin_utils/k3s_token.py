# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse K3s join tokens.

A K3s server writes ``/var/lib/rancher/k3s/server/token`` as
``K10<sha256 of the cluster CA, 64 hex>::server:<password>``; agent tokens use the
``node`` user instead. A "short" token is just the password. Pure functions only.
"""

from __future__ import annotations

import re

TOKEN_PREFIX = 'K10'
_HEX64_RE = re.compile(r'^[0-9A-Fa-f]{64}$')
TOKEN_USERS = ('server', 'node')


class K3sTokenError(ValueError):
    """Raised when a K3s token cannot be parsed."""


def parse_k3s_token(value: str) -> dict[str, str]:
    """Return ``{'ca_hash', 'user', 'password'}`` for a full or short K3s token.

    For a short (bare) token ``ca_hash`` and ``user`` are empty strings.
    The error messages never include the secret itself.
    """
    if not isinstance(value, str):
        raise K3sTokenError('A K3s token must be a string, got %s.' % type(value).__name__)
    token = value.strip()
    if not token:
        raise K3sTokenError('The K3s token is empty; check that the token file was read correctly.')
    if not token.startswith(TOKEN_PREFIX):
        return {'ca_hash': '', 'user': '', 'password': token}

    ca_hash, sep, credentials = token[len(TOKEN_PREFIX):].partition('::')
    if not sep:
        raise K3sTokenError(
            "invalid token format: a K10 token must read 'K10<CA hash>::<server|node>:<password>' "
            "but no '::' separator was found."
        )
    if not _HEX64_RE.match(ca_hash):
        if len(ca_hash) != 64:
            found = 'found %d characters' % len(ca_hash)
        else:
            found = 'found 64 characters that are not all hex digits'
        raise K3sTokenError(
            'invalid token CA hash length: expected 64 hex digits (SHA-256 of the cluster CA) '
            "between 'K10' and '::', %s." % found
        )
    user, sep, password = credentials.partition(':')
    if not sep or user not in TOKEN_USERS:
        raise K3sTokenError(
            "invalid token format: after '::' a K10 token must read 'server:<password>' or "
            "'node:<password>'."
        )
    if not password:
        raise K3sTokenError('invalid token format: the password after \'%s:\' is empty.' % user)
    return {'ca_hash': ca_hash, 'user': user, 'password': password}


def k3s_token_secret(value: str) -> str:
    """Return the password part of a K3s token (the bare token itself when short)."""
    return parse_k3s_token(value)['password']
