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


def token_problems(value: object) -> list[str]:
    """What is wrong with a cluster_token as written in the inventory; [] when K3s will take it.

    Never repeats the token. An empty value is fine (the collection generates one).
    """
    if value is None or value == '':
        return []
    if isinstance(value, bool) or not isinstance(value, str):
        kind = ('boolean' if isinstance(value, bool) else 'number' if isinstance(value, (int, float))
                else 'list' if isinstance(value, list) else 'mapping' if isinstance(value, dict) else 'value')
        return ['cluster_token is a YAML %s, not text: YAML may already have changed it (a leading 0 makes an octal '
                'number, 1e3 a float). Quote it in the inventory (cluster_token: "..."), better from Ansible Vault.'
                % kind]
    if not value.strip():
        return ['cluster_token is blank (only white space); leave it empty to have a token generated, or set a secret.']
    if any(c.isspace() for c in value.strip()):
        return ['cluster_token holds white space or a line break; K3s reads the token as one word, so remove it (a '
                'token read from a file often ends with a newline: use its content trimmed).']
    if value != value.strip():
        return ['cluster_token starts or ends with white space or a line break; remove it (a token read from a file '
                'often ends with a newline).']
    try:
        parse_k3s_token(value)
    except K3sTokenError as exc:
        return ['cluster_token looks like a full K3s token (it starts with K10) but is not well-formed: %s Give the '
                'whole K10...::server:... line of the server/token file, or only the password part.' % exc]
    return []
