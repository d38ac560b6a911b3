# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic for resolving K3s release channels.

The K3s channel server answers ``GET <channel_url>/<name>`` with ``302 Found`` and
``Location: https://github.com/k3s-io/k3s/releases/tag/<version>``, and
``GET <channel_url>`` with a JSON collection of channels. This file only builds
URLs, parses those answers and words the errors; the HTTP calls live in the
lookup plugin.
"""

from __future__ import annotations

import difflib
import json
import typing as t
from urllib.parse import quote, unquote, urljoin, urlsplit

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.k3s_release import (
    PINNED_EXAMPLE,
    PINNED_VERSION_RE,
)

DEFAULT_CHANNEL_URL = 'https://update.k3s.io/v1-release/channels'
REDIRECT_CODES = frozenset((301, 302, 303, 307, 308))


class K3sChannelError(ValueError):
    """Raised when a channel server answer cannot be turned into a K3s version."""


def validate_channel_url(url: str) -> str:
    """Return ``url`` without trailing slashes, or fail when it is not an http(s) URL."""
    if not isinstance(url, str) or not url.strip():
        raise K3sChannelError('channel_url must be a non-empty http(s) URL such as %s.' % DEFAULT_CHANNEL_URL)
    cleaned = url.strip().rstrip('/')
    parts = urlsplit(cleaned)
    if parts.scheme not in ('http', 'https') or not parts.netloc:
        raise K3sChannelError(
            "channel_url '%s' is not an http(s) URL; expected something like %s." % (url, DEFAULT_CHANNEL_URL)
        )
    return cleaned


def channel_request_url(channel_url: str, name: str) -> str:
    """Return the URL that redirects to the latest release of channel ``name``."""
    return '%s/%s' % (validate_channel_url(channel_url), quote(name, safe=''))


def version_from_location(location: str | None, request_url: str = '') -> str:
    """Extract the K3s version tag from a channel redirect ``Location`` header.

    The tag is the last path segment of the target URL, URL-decoded (``%2B`` -> ``+``).
    A relative Location is resolved against ``request_url``.
    """
    if not location or not location.strip():
        raise K3sChannelError(
            'The K3s channel server at %s answered with a redirect but without a Location header, '
            'so the release cannot be determined.' % (request_url or 'the channel URL')
        )
    target = urljoin(request_url, location.strip()) if request_url else location.strip()
    path = urlsplit(target).path.rstrip('/')
    segment = unquote(path.rsplit('/', 1)[-1]) if path else ''
    if not PINNED_VERSION_RE.match(segment):
        raise K3sChannelError(
            "The K3s channel server redirected %s to '%s', whose last path segment '%s' is not a K3s "
            'release tag such as %s. Check that channel_url points at a K3s channel server '
            '(%s by default).' % (request_url or 'the request', location, segment, PINNED_EXAMPLE, DEFAULT_CHANNEL_URL)
        )
    return segment


def parse_channel_list(body: str | bytes) -> list[dict[str, t.Any]]:
    """Parse the channel collection JSON into ``[{'name': ..., 'latest': ...}, ...]``.

    Only items carrying a string ``name`` are kept; ``latest`` is ``None`` when absent.
    """
    if isinstance(body, bytes):
        body = body.decode('utf-8', errors='replace')
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise K3sChannelError('The channel list is not valid JSON: %s.' % exc) from exc
    if not isinstance(document, dict) or not isinstance(document.get('data'), list):
        raise K3sChannelError(
            "The channel list is not a K3s channel collection: expected a JSON object with a 'data' list."
        )
    channels: list[dict[str, t.Any]] = []
    for item in document['data']:
        if not isinstance(item, dict) or not isinstance(item.get('name'), str) or not item['name']:
            continue
        latest = item.get('latest')
        channels.append({'name': item['name'], 'latest': latest if isinstance(latest, str) else None})
    return channels


def channel_names(body: str | bytes) -> list[str]:
    """Return the channel names from the channel collection JSON, in server order."""
    return [channel['name'] for channel in parse_channel_list(body)]


def latest_from_list(channels: list[dict[str, t.Any]], name: str) -> str | None:
    """Return the pinned ``latest`` of channel ``name`` from a parsed list, if it has a valid one."""
    for channel in channels:
        if channel['name'] == name:
            latest = channel.get('latest')
            if isinstance(latest, str) and PINNED_VERSION_RE.match(latest):
                return latest
            return None
    return None


def unknown_channel_message(name: str, channel_url: str, names: list[str]) -> str:
    """Word the error for a channel the server does not know."""
    known = ', '.join(names) if names else '(the server listed none)'
    # Named channels only: 'v1.99' is a minor that does not exist, not a typo of 'v1.34'.
    close = difflib.get_close_matches(name.lower(), [n for n in names if not n.startswith('v')], n=1, cutoff=0.6)
    hint = " Did you mean '%s'?" % close[0] if close else ''
    return (
        "K3s channel '%s' is not known to %s; known channels: %s.%s Set cluster_k3s_version to one of "
        'them or to a pinned version such as %s.' % (name, channel_url, known, hint, PINNED_EXAMPLE)
    )


def unreachable_message(url: str, reason: str) -> str:
    """Word the error for a channel server that could not be reached."""
    return (
        'Could not reach the K3s channel server at %s: %s. Check the network, proxy settings or the '
        'channel_url mirror from the Ansible controller, or set cluster_k3s_version to a pinned version '
        'such as %s so that no lookup is needed.' % (url, reason, PINNED_EXAMPLE)
    )


def unexpected_answer_message(name: str, url: str, status: int, list_url: str, reason: str) -> str:
    """Word the error for a non-redirect answer when the channel list cannot be read either."""
    return (
        "The K3s channel server answered HTTP %d for channel '%s' at %s instead of a redirect, and its "
        'channel list at %s could not be read (%s). Check channel_url, or set cluster_k3s_version to a '
        'pinned version such as %s.' % (status, name, url, list_url, reason, PINNED_EXAMPLE)
    )
