# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""End-to-end tests of the k3s_channel lookup against a local HTTP server.

The server replays the recorded channel-server answers from
``fixtures/k3s_channel`` on 127.0.0.1; nothing leaves the machine.
"""

from __future__ import annotations

import http.server
import os
import socket
import threading

import pytest
import yaml

from ansible.errors import AnsibleLookupError
from ansible.plugins.loader import lookup_loader

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'fixtures', 'k3s_channel')
PREFIX = '/v1-release/channels'


def _recorded(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        recorded = yaml.safe_load(handle)
    return recorded['status'], recorded['headers'], recorded['body'].encode('utf-8')


def _channels_json():
    with open(os.path.join(FIXTURES, 'channels.json'), 'rb') as handle:
        return 200, {'Content-Type': 'application/json'}, handle.read()


class ChannelServer:
    """A tiny channel server on 127.0.0.1 answering from a path -> response table."""

    def __init__(self, routes):
        self.routes = routes
        self.requests = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server naming
                owner.requests.append(self.path)
                status, headers, body = owner.routes.get(self.path, (404, {'Content-Type': 'text/plain'}, b'404 page not found\n'))
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() not in ('content-length', 'date'):
                        self.send_header(key, value)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)

    @property
    def url(self):
        return 'http://127.0.0.1:%d%s' % (self.httpd.server_address[1], PREFIX)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def lookup():
    plugin = lookup_loader.get('kubeforge.cluster.k3s_channel')
    assert plugin is not None, 'collection loader did not find kubeforge.cluster.k3s_channel'
    return plugin


@pytest.fixture
def server():
    routes = {
        PREFIX: _channels_json(),
        PREFIX + '/stable': _recorded('stable_302.yml'),
        PREFIX + '/v1.33': _recorded('v1.33_302.yml'),
        PREFIX + '/testing': _recorded('testing_302.yml'),
        PREFIX + '/v1.99': _recorded('unknown_404.yml'),
    }
    with ChannelServer(routes) as channel_server:
        yield channel_server


def test_stable_redirect_is_resolved_without_following(lookup, server):
    assert lookup.run(['stable'], variables={}, channel_url=server.url, timeout=5) == ['v1.33.5+k3s1']
    # Only the channel itself was asked; github.com (the redirect target) never was.
    assert server.requests == [PREFIX + '/stable']


def test_several_terms(lookup, server):
    result = lookup.run(['v1.33', 'testing', 'v1.30.1+k3s1'], variables={}, channel_url=server.url + '/', timeout=5)
    assert result == ['v1.33.5+k3s1', 'v1.34.2-rc1+k3s1', 'v1.30.1+k3s1']


def test_pinned_version_makes_no_request(lookup):
    # Port 9 on 127.0.0.1 is closed here; a request would fail.
    assert lookup.run([' v1.35.1+k3s1 '], variables={}, channel_url='http://127.0.0.1:9/channels') == ['v1.35.1+k3s1']


def test_unknown_channel_lists_known_ones(lookup, server):
    with pytest.raises(AnsibleLookupError) as excinfo:
        lookup.run(['v1.99'], variables={}, channel_url=server.url, timeout=5)
    assert str(excinfo.value).startswith(
        "K3s channel 'v1.99' is not known to %s; known channels: stable, latest, testing, v1.30, v1.31, "
        'v1.32, v1.33, v1.34. Set cluster_k3s_version to one of them or to a pinned version' % server.url
    )
    assert server.requests == [PREFIX + '/v1.99', PREFIX]


def test_unknown_channel_with_plain_404(lookup, server):
    server.routes.pop(PREFIX + '/v1.99')
    with pytest.raises(AnsibleLookupError, match="K3s channel 'v1.99' is not known to"):
        lookup.run(['v1.99'], variables={}, channel_url=server.url, timeout=5)


def test_non_redirect_for_known_channel_uses_listed_latest(lookup, server):
    server.routes[PREFIX + '/stable'] = (200, {'Content-Type': 'text/html'}, b'<html>mirror</html>')
    assert lookup.run(['stable'], variables={}, channel_url=server.url, timeout=5) == ['v1.33.5+k3s1']


def test_server_error_and_unreadable_list(lookup, server):
    server.routes[PREFIX + '/stable'] = (500, {}, b'oops')
    server.routes[PREFIX] = (503, {}, b'down')
    with pytest.raises(AnsibleLookupError, match='answered HTTP 500 .* could not be read \\(HTTP 503\\)'):
        lookup.run(['stable'], variables={}, channel_url=server.url, timeout=5)


def test_redirect_without_location(lookup, server):
    server.routes[PREFIX + '/stable'] = (302, {}, b'')
    with pytest.raises(AnsibleLookupError, match='without a Location header'):
        lookup.run(['stable'], variables={}, channel_url=server.url, timeout=5)


def test_redirect_to_something_that_is_not_a_release(lookup, server):
    server.routes[PREFIX + '/stable'] = (302, {'Location': 'https://login.example.com/sso'}, b'')
    with pytest.raises(AnsibleLookupError, match="redirected .* 'sso' is not a K3s release tag"):
        lookup.run(['stable'], variables={}, channel_url=server.url, timeout=5)


def _closed_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_connection_refused(lookup):
    url = 'http://127.0.0.1:%d/v1-release/channels' % _closed_port()
    with pytest.raises(AnsibleLookupError) as excinfo:
        lookup.run(['stable'], variables={}, channel_url=url, timeout=5)
    message = str(excinfo.value)
    assert message.startswith('Could not reach the K3s channel server at %s/stable: ' % url)
    assert 'refused' in message.lower()
    assert 'pinned version' in message


def test_invalid_term(lookup):
    with pytest.raises(AnsibleLookupError, match='neither a pinned K3s version nor a K3s release channel'):
        lookup.run(['newest'], variables={})


def test_invalid_channel_url(lookup):
    with pytest.raises(AnsibleLookupError, match='not an http\\(s\\) URL'):
        lookup.run(['stable'], variables={}, channel_url='update.k3s.io')
