# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os

import pytest
import yaml

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.k3s_channel import (
    DEFAULT_CHANNEL_URL,
    K3sChannelError,
    channel_names,
    channel_request_url,
    latest_from_list,
    parse_channel_list,
    unknown_channel_message,
    unreachable_message,
    validate_channel_url,
    version_from_location,
)

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'fixtures', 'k3s_channel')


def load_recorded(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def read_fixture_bytes(name):
    with open(os.path.join(FIXTURES, name), 'rb') as handle:
        return handle.read()


@pytest.mark.parametrize('fixture,expected', [
    ('stable_302.yml', 'v1.33.5+k3s1'),
    ('v1.33_302.yml', 'v1.33.5+k3s1'),
    ('testing_302.yml', 'v1.34.2-rc1+k3s1'),
])
def test_version_from_recorded_redirects(fixture, expected):
    recorded = load_recorded(fixture)
    assert recorded['status'] == 302
    request_url = 'https://update.k3s.io' + recorded['request']['path']
    assert version_from_location(recorded['headers']['Location'], request_url) == expected


@pytest.mark.parametrize('location', [
    'https://github.com/k3s-io/k3s/releases/tag/v1.33.5+k3s1',
    'https://github.com/k3s-io/k3s/releases/tag/v1.33.5%2bk3s1/',
    'https://mirror.example.com/k3s/releases/tag/v1.33.5%2Bk3s1?utm=1#x',
    '/releases/tag/v1.33.5%2Bk3s1',
])
def test_version_from_location_variants(location):
    assert version_from_location(location, 'https://update.k3s.io/v1-release/channels/stable') == 'v1.33.5+k3s1'


@pytest.mark.parametrize('location,match', [
    (None, 'without a Location header'),
    ('', 'without a Location header'),
    ('https://github.com/k3s-io/k3s/releases', "segment 'releases' is not a K3s release tag"),
    ('https://example.com/', "segment '' is not a K3s release tag"),
    ('https://github.com/k3s-io/k3s/releases/tag/v1.33.5%2Brke2r1', "segment 'v1.33.5\\+rke2r1'"),
])
def test_version_from_location_errors(location, match):
    with pytest.raises(K3sChannelError, match=match):
        version_from_location(location, 'https://update.k3s.io/v1-release/channels/stable')


def test_channel_names_from_recorded_list():
    body = read_fixture_bytes('channels.json')
    assert channel_names(body) == ['stable', 'latest', 'testing', 'v1.30', 'v1.31', 'v1.32', 'v1.33', 'v1.34']
    assert channel_names(body.decode('utf-8')) == channel_names(body)


def test_parse_channel_list_latest():
    channels = parse_channel_list(read_fixture_bytes('channels.json'))
    assert channels[0] == {'name': 'stable', 'latest': 'v1.33.5+k3s1'}
    assert latest_from_list(channels, 'v1.32') == 'v1.32.9+k3s1'
    assert latest_from_list(channels, 'v1.99') is None


def test_parse_channel_list_skips_nameless_items_and_bad_latest():
    body = json.dumps({'data': [{'id': 'x'}, 'junk', {'name': 'stable', 'latest': 7}, {'name': 'odd', 'latest': 'nope'}]})
    channels = parse_channel_list(body)
    assert channels == [{'name': 'stable', 'latest': None}, {'name': 'odd', 'latest': 'nope'}]
    assert latest_from_list(channels, 'stable') is None
    assert latest_from_list(channels, 'odd') is None


@pytest.mark.parametrize('body,match', [
    ('<html>proxy error</html>', 'not valid JSON'),
    ('[]', "expected a JSON object with a 'data' list"),
    ('{"type": "collection"}', "'data' list"),
    (read_fixture_bytes('unknown_404.yml'), 'not valid JSON|not a K3s channel collection'),
])
def test_parse_channel_list_errors(body, match):
    with pytest.raises(K3sChannelError, match=match):
        parse_channel_list(body)


def test_recorded_404_body_is_not_a_channel_list():
    recorded = load_recorded('unknown_404.yml')
    assert recorded['status'] == 404
    with pytest.raises(K3sChannelError, match='not a K3s channel collection'):
        parse_channel_list(recorded['body'])


def test_channel_request_url():
    assert channel_request_url(DEFAULT_CHANNEL_URL, 'stable') == DEFAULT_CHANNEL_URL + '/stable'
    assert channel_request_url(DEFAULT_CHANNEL_URL + '/', 'v1.33') == DEFAULT_CHANNEL_URL + '/v1.33'
    assert channel_request_url('http://127.0.0.1:8080/c', 'a b/c') == 'http://127.0.0.1:8080/c/a%20b%2Fc'


@pytest.mark.parametrize('url', ['', 'update.k3s.io/v1-release/channels', 'ftp://x/y', 'https://', None])
def test_validate_channel_url_rejects(url):
    with pytest.raises(K3sChannelError, match='http'):
        validate_channel_url(url)


def test_unknown_channel_message():
    names = channel_names(read_fixture_bytes('channels.json'))
    message = unknown_channel_message('foo', DEFAULT_CHANNEL_URL, names)
    assert message == (
        "K3s channel 'foo' is not known to https://update.k3s.io/v1-release/channels; known channels: "
        'stable, latest, testing, v1.30, v1.31, v1.32, v1.33, v1.34. Set cluster_k3s_version to one of them '
        'or to a pinned version such as v1.33.5+k3s1.'
    )


def test_unreachable_message_names_url_reason_and_remedy():
    message = unreachable_message('https://update.k3s.io/v1-release/channels/stable', 'Connection refused')
    assert 'https://update.k3s.io/v1-release/channels/stable' in message
    assert 'Connection refused' in message
    assert 'mirror' in message and 'pinned version' in message


def test_unknown_channel_suggests_a_close_named_channel_only() -> None:
    names = ["stable", "latest", "testing", "v1.34"]
    assert "Did you mean 'stable'?" in unknown_channel_message("stabel", "http://x", names)
    assert "Did you mean" not in unknown_channel_message("v1.99", "http://x", names)
