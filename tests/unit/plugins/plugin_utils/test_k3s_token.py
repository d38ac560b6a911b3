# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.k3s_token import (
    K3sTokenError,
    k3s_token_secret,
    parse_k3s_token,
    token_problems,
)

CA_HASH = '5f6b8e3e2d8a4c1b9f0e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928'
PASSWORD = '8f1d2c3b4a5e6f7a8b9c0d1e2f3a4b5c'


def test_full_server_token_file_content():
    content = 'K10%s::server:%s\n' % (CA_HASH, PASSWORD)
    assert parse_k3s_token(content) == {'ca_hash': CA_HASH, 'user': 'server', 'password': PASSWORD}
    assert k3s_token_secret(content) == PASSWORD


def test_node_token():
    content = 'K10%s::node:%s' % (CA_HASH, PASSWORD)
    assert k3s_token_secret(content) == PASSWORD
    assert parse_k3s_token(content)['user'] == 'node'


def test_password_may_contain_colons():
    assert k3s_token_secret('K10%s::server:a:b::c' % CA_HASH) == 'a:b::c'


@pytest.mark.parametrize('value', ['  my-short-token\n', 'my-short-token', 'secret::with:colons'])
def test_short_token(value):
    assert k3s_token_secret(value) == value.strip()
    assert parse_k3s_token(value)['ca_hash'] == ''


@pytest.mark.parametrize('value,match', [
    ('K10%s::server:x' % CA_HASH[:-1], 'invalid token CA hash length.*found 63 characters'),
    ('K10::server:x', 'invalid token CA hash length.*found 0 characters'),
    ('K10%s::server:x' % ('g' * 64), 'invalid token CA hash length.*not all hex'),
    ('K10%s:server:x' % CA_HASH, "invalid token format.*no '::'"),
    ('K10%s' % CA_HASH, "invalid token format.*no '::'"),
    ('K10%s::%s' % (CA_HASH, PASSWORD), 'invalid token format.*server:<password>'),
    ('K10%s::admin:%s' % (CA_HASH, PASSWORD), 'invalid token format'),
    ('K10%s::server:' % CA_HASH, 'invalid token format.*password.*empty'),
])
def test_malformed_k10_tokens(value, match):
    with pytest.raises(K3sTokenError, match=match):
        k3s_token_secret(value)
    with pytest.raises(K3sTokenError, match=match):
        parse_k3s_token(value)


def test_errors_do_not_leak_the_password():
    with pytest.raises(K3sTokenError) as excinfo:
        k3s_token_secret('K10%s::admin:%s' % (CA_HASH, PASSWORD))
    assert PASSWORD not in str(excinfo.value)


@pytest.mark.parametrize('value', ['', '  \n', None, 42])
def test_empty_or_not_a_string(value):
    with pytest.raises(K3sTokenError):
        k3s_token_secret(value)


@pytest.mark.parametrize("value", ["", None, "s3cret-token", "K10" + "a" * 64 + "::server:s3cret", "abcdef.0123456789abcdef"])
def test_usable_tokens_have_no_problems(value: object) -> None:
    assert token_problems(value) == []


@pytest.mark.parametrize("value, message", [
    (12345, "is a YAML number, not text"), (1.5e3, "is a YAML number"), (True, "is a YAML boolean"),
    (["a"], "is a YAML list"),
    ("   ", "is blank"), ("s3cret token", "holds white space or a line break"), ("s3cret\ntoken", "line break"),
    ("s3cret\n", "ends with white space or a line break"),
    ("K10" + "a" * 10 + "::server:s3cret", "invalid token CA hash length"),
    ("K10" + "a" * 64 + "::admin:s3cret", "invalid token format"),
])
def test_token_problems_say_how_to_fix_without_the_token(value: object, message: str) -> None:
    problems = token_problems(value)
    assert len(problems) == 1 and message in problems[0]
    assert "s3cret" not in problems[0]
