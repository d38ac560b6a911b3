# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: k3s_channel
author:
  - kubeforge maintainers (!UNKNOWN)
version_added: 0.1.0
short_description: Resolve a K3s release channel to a pinned version
description:
  - Resolves each term, a K3s release channel such as V(stable), V(latest), V(testing) or V(v1.33),
    to the K3s release tag the channel currently points at, for example V(v1.35.1+k3s1).
  - A term that already is a pinned version (for example V(v1.33.5+k3s1)) is returned unchanged without
    any HTTP request.
  - "Asks the K3s channel server C(GET <channel_url>/<term>), which answers C(302 Found) with
    C(Location: https://github.com/k3s-io/k3s/releases/tag/<version>). The redirect is B(not) followed
    (its target may be unreachable from the controller); the last path segment of the Location is
    URL-decoded and must be a pinned K3s version."
  - When the server answers anything other than a redirect, the channel list C(GET <channel_url>) is
    read. If the channel is not in it, the lookup fails and lists the known channels. If the channel is
    listed with a pinned C(latest) version (a server or mirror that does not redirect), that version is used.
  - Fails naming the URL and the reason when the server cannot be reached.
  - Runs on the controller.
options:
  _terms:
    description: Channels (or pinned versions) to resolve.
    required: true
    type: list
    elements: str
  channel_url:
    description:
      - Base URL of the K3s channel server (or a mirror of it).
    type: str
    default: https://update.k3s.io/v1-release/channels
  timeout:
    description: Seconds to wait for each HTTP request.
    type: float
    default: 30
  validate_certs:
    description: Whether to validate the TLS certificate of the channel server.
    type: bool
    default: true
notes:
  - Channels are resolved at the time the lookup runs; pin a version for reproducible deployments.
seealso:
  - name: K3s release channels
    description: How K3s channels are published.
    link: https://docs.k3s.io/upgrades/manual#release-channels
"""

EXAMPLES = r"""
- name: Resolve the stable channel
  ansible.builtin.debug:
    msg: "{{ lookup('kubeforge.cluster.k3s_channel', 'stable') }}"

- name: Resolve a minor line through a mirror with a short timeout
  ansible.builtin.set_fact:
    k3s_resolved_version: >-
      {{ lookup('kubeforge.cluster.k3s_channel', 'v1.33',
                channel_url='https://k3s-mirror.example.com/v1-release/channels', timeout=10) }}

- name: A pinned version passes through without a request
  ansible.builtin.set_fact:
    k3s_resolved_version: "{{ lookup('kubeforge.cluster.k3s_channel', 'v1.33.5+k3s1') }}"
"""

RETURN = r"""
_raw:
  description: One pinned K3s version tag per term.
  type: list
  elements: str
  sample:
    - v1.35.1+k3s1
"""

import http.client
import typing as t
import urllib.error

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import open_url
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.k3s_channel import (
    REDIRECT_CODES,
    K3sChannelError,
    channel_request_url,
    latest_from_list,
    parse_channel_list,
    unexpected_answer_message,
    unknown_channel_message,
    unreachable_message,
    validate_channel_url,
    version_from_location,
)
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.k3s_release import (
    K3sReleaseError,
    classify_k3s_version,
)

display = Display()

_HTTP_AGENT = 'kubeforge.cluster-k3s_channel'


class _Unreachable(Exception):
    """The server could not be reached or did not answer HTTP."""


def _reason(exc: BaseException) -> str:
    """Describe a transport failure in one line."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return to_text(exc.reason)
    return to_text(exc) or type(exc).__name__


class LookupModule(LookupBase):
    """Resolve K3s release channels to pinned versions."""

    @staticmethod
    def _get(url: str, follow_redirects: str, http_options: dict[str, t.Any]) -> tuple[int, t.Any, bytes]:
        """Perform a GET and return ``(status, headers, body)``; HTTP errors are answers, not failures."""
        try:
            response = open_url(
                url,
                method='GET',
                follow_redirects=follow_redirects,
                http_agent=_HTTP_AGENT,
                **http_options
            )
            try:
                return response.status, response.headers, response.read()
            finally:
                response.close()
        except urllib.error.HTTPError as exc:
            # With follow_redirects='none', ansible-core raises HTTPError for the 3xx answer itself
            # (its url attribute is then the redirect target); the headers are the server's.
            try:
                body = exc.read() if exc.fp is not None else b''
            except (OSError, http.client.HTTPException):
                body = b''
            finally:
                exc.close()
            return exc.code, exc.headers, body
        except (urllib.error.URLError, http.client.HTTPException, UrlsConnectionError, OSError, ValueError) as exc:
            raise _Unreachable(_reason(exc)) from exc

    def _resolve(self, name: str, channel_url: str, http_options: dict[str, t.Any]) -> str:
        url = channel_request_url(channel_url, name)
        display.vvv('k3s_channel: GET %s' % url)
        try:
            status, headers, dummy = self._get(url, 'none', http_options)
        except _Unreachable as exc:
            raise AnsibleLookupError(unreachable_message(url, str(exc))) from exc

        if status in REDIRECT_CODES:
            location = headers.get('Location') if headers is not None else None
            version = version_from_location(location, url)
            display.vvv('k3s_channel: %s -> %s' % (name, version))
            return version

        list_url = channel_url
        display.vvv('k3s_channel: %s answered HTTP %s, reading the channel list at %s' % (url, status, list_url))
        try:
            list_status, dummy, body = self._get(list_url, 'safe', http_options)
        except _Unreachable as exc:
            raise AnsibleLookupError(unexpected_answer_message(name, url, status, list_url, str(exc))) from exc
        if list_status != 200:
            raise AnsibleLookupError(
                unexpected_answer_message(name, url, status, list_url, 'HTTP %d' % list_status)
            )
        try:
            channels = parse_channel_list(body)
        except K3sChannelError as exc:
            raise AnsibleLookupError(unexpected_answer_message(name, url, status, list_url, str(exc))) from exc

        names = [channel['name'] for channel in channels]
        if name not in names:
            raise AnsibleLookupError(unknown_channel_message(name, list_url, names))
        latest = latest_from_list(channels, name)
        if latest is None:
            raise AnsibleLookupError(
                unexpected_answer_message(
                    name, url, status, list_url, "the list has no pinned 'latest' version for this channel"
                )
            )
        display.warning(
            "K3s channel server %s answered HTTP %d instead of a redirect for channel '%s'; using the "
            "channel list's latest version %s." % (url, status, name, latest)
        )
        return latest

    def run(self, terms: list[t.Any], variables: dict[str, t.Any] | None = None, **kwargs: t.Any) -> list[str]:
        self.set_options(var_options=variables, direct=kwargs)
        try:
            channel_url = validate_channel_url(self.get_option('channel_url'))
        except K3sChannelError as exc:
            raise AnsibleLookupError(str(exc)) from exc
        http_options = {
            'timeout': float(self.get_option('timeout')),
            'validate_certs': bool(self.get_option('validate_certs')),
        }

        results: list[str] = []
        for term in terms:
            try:
                classified = classify_k3s_version(term)
                if classified['kind'] == 'pinned':
                    results.append(classified['value'])
                else:
                    results.append(self._resolve(classified['value'], channel_url, http_options))
            except (K3sReleaseError, K3sChannelError) as exc:
                raise AnsibleLookupError(str(exc)) from exc
        return results
