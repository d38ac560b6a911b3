# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import importlib.util
import os
import re

import pytest
import yaml

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.k3s_config import (
    DISABLE_ITEMS,
    FLANNEL_BACKENDS,
    K3S_FLAG_ALIASES,
    K3S_FLAGS,
    K3sConfigError,
    check_k3s_config,
    k3s_flag_names,
)

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'fixtures')
with open(os.path.join(FIXTURES, 'k3s_config_cases.yml'), encoding='utf-8') as _handle:
    CASES = yaml.safe_load(_handle)

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
CA_HASH = 'ab' * 32


def _load_double_flags():
    """Load the K3s test double's flag table (test code, never imported by plugins)."""
    path = os.path.join(REPO_ROOT, 'tests', 'doubles', 'k3s', 'flags.py')
    spec = importlib.util.spec_from_file_location('kubeforge_test_double_k3s_flags', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('case', CASES['valid'], ids=lambda c: c['id'])
def test_valid_configs(case):
    assert check_k3s_config(case['config'], case['command']) == []


@pytest.mark.parametrize('case', CASES['invalid'], ids=lambda c: c['id'])
def test_invalid_configs(case):
    errors = check_k3s_config(case['config'], case.get('command', 'server'))
    assert len(errors) == len(case['errors']), errors
    for error, pattern in zip(errors, case['errors']):
        assert re.search(pattern, error), (pattern, error)


@pytest.mark.parametrize('case', CASES['invalid'], ids=lambda c: c['id'])
def test_every_error_names_a_setting(case):
    config = case['config']
    names = [str(key) for key in config] + ['cluster-cidr']
    for error in check_k3s_config(config, case.get('command', 'server')):
        assert any(name in error for name in names), error


def test_default_command_is_server():
    assert check_k3s_config({'cluster-init': True}) == []
    assert check_k3s_config({'cluster-init': True}, 'agent') != []


@pytest.mark.parametrize('command', ['', 'Server', 'etcd-snapshot', None])
def test_unknown_command_raises(command):
    with pytest.raises(K3sConfigError, match='must be one of server, agent'):
        check_k3s_config({}, command)


@pytest.mark.parametrize('config,found', [
    (['cluster-init'], 'a list'),
    ('cluster-init: true', 'a str'),
    (None, 'nothing'),
])
def test_config_must_be_a_mapping(config, found):
    errors = check_k3s_config(config, 'server')
    assert len(errors) == 1
    assert 'must be a dict of setting name to value, got %s' % found in errors[0]


@pytest.mark.parametrize('backend', FLANNEL_BACKENDS)
def test_every_flannel_backend_is_valid(backend):
    assert check_k3s_config({'flannel-backend': backend}) == []


@pytest.mark.parametrize('item', DISABLE_ITEMS)
def test_every_disable_item_is_valid(item):
    assert check_k3s_config({'disable': item}) == []


@pytest.mark.parametrize('value', [True, False, 'true', 'false'])
def test_bool_values(value):
    assert check_k3s_config({'cluster-init': value, 'selinux': value}) == []


@pytest.mark.parametrize('value', ['True', 'FALSE', '1', 'on', 0])
def test_bool_values_refused(value):
    errors = check_k3s_config({'cluster-init': value})
    assert len(errors) == 1 and errors[0].startswith("'cluster-init' must be true or false")


@pytest.mark.parametrize('mode', ['0600', '0644', '600', '0750', '0000'])
def test_kubeconfig_modes(mode):
    assert check_k3s_config({'write-kubeconfig-mode': mode}) == []


@pytest.mark.parametrize('mode,expect', [
    (384, '"0600"'),  # what YAML 1.1 makes of an unquoted 0600
    (416, '"0640"'),
    (600, '"0600"'),
    (1000, '"0600"'),
])
def test_kubeconfig_mode_numbers_suggest_the_quoted_mode(mode, expect):
    errors = check_k3s_config({'write-kubeconfig-mode': mode})
    assert len(errors) == 1
    assert 'YAML turns an unquoted 0644 into the decimal number 420' in errors[0]
    assert expect in errors[0]


def test_token_errors_never_show_the_secret():
    secret = 'VerySecretPassword'
    for token in ('K10%s::server:%s' % ('x' * 64, secret), 'K10%s:server:%s' % (CA_HASH, secret),
                  'K10%s::admin:%s' % (CA_HASH, secret)):
        errors = check_k3s_config({'token': token})
        assert len(errors) == 1
        assert secret not in errors[0]
        assert errors[0].startswith("'token': invalid token")


def test_server_only_keys_in_agent_quote_the_k3s_error():
    errors = check_k3s_config({'write-kubeconfig-mode': '0600'}, 'agent')
    assert errors == [
        "'write-kubeconfig-mode' is a K3s server setting: a K3s agent does not accept it and exits with "
        "\"flag provided but not defined: -write-kubeconfig-mode\"; remove it from the agent configuration"
    ]


def test_append_key_with_alias():
    assert check_k3s_config({'i+': ['192.0.2.1', '2001:db8::1']}) == []


def test_dual_stack_mixed_order_is_accepted():
    config = {'cluster-cidr': ['10.42.0.0/16', '2001:db8:42::/56'], 'service-cidr': ['2001:db8:43::/112', '10.43.0.0/16']}
    assert check_k3s_config(config) == []


def test_family_check_skips_invalid_and_appended_values():
    assert check_k3s_config({'cluster-cidr+': '2001:db8:42::/56', 'service-cidr': '10.43.0.0/16'}) == []
    errors = check_k3s_config({'cluster-cidr': 'bogus', 'service-cidr': '2001:db8:43::/112', 'node-ip': '192.0.2.1'})
    assert len(errors) == 2 and "'cluster-cidr': 'bogus'" in errors[0]
    assert 'service-cidr is IPv6, node-ip is IPv4' in errors[1]


def test_family_check_is_server_only():
    assert check_k3s_config({'node-ip': '2001:db8::1'}, 'agent') == []


def test_flag_names_include_aliases():
    assert {'node-ip', 'i', 'cluster-init', 'o'} <= k3s_flag_names('server')
    names = k3s_flag_names('agent')
    assert {'node-ip', 'i', 't', 's', 'd'} <= names
    assert not {'cluster-init', 'o', 'disable'} & names


def test_aliases_point_to_known_flags():
    for alias, name in K3S_FLAG_ALIASES.items():
        assert len(alias) == 1
        assert name in K3S_FLAGS['server'], alias


@pytest.mark.parametrize('command', ['server', 'agent'])
def test_flag_table_agrees_with_the_test_double(command):
    """Consistency check: the plugin's own table and the K3s test double's table name the same flags."""
    double = _load_double_flags()
    table = double.SERVER if command == 'server' else double.AGENT
    assert k3s_flag_names(command) == table.valid_names()
    kinds = {'bool': 'bool', 'string': 'string', 'int': 'int', 'slice': 'slice', 'duration': 'duration'}
    for flag in table.flags:
        spec = K3S_FLAGS[command][flag.name]
        assert spec.kind == kinds[flag.kind], flag.name
        assert spec.split == flag.split, flag.name


def test_critical_settings_must_match_across_servers() -> None:
    from ansible_collections.kubeforge.cluster.plugins.plugin_utils.k3s_config import critical_differences
    same = {'s1': {'cluster-cidr': '10.42.0.0/16', 'node-label': ['a=b']}, 's2': {'cluster-cidr': '10.42.0.0/16'}}
    assert critical_differences(same) == []
    differ = {'s1': {'cluster-cidr': '10.42.0.0/16'}, 's2': {}, 's3': {'disable': 'traefik,servicelb'}}
    problems = critical_differences(differ)
    assert len(problems) == 2
    assert any(p.startswith('cluster-cidr must be the same') and 's2, s3' in p for p in problems)
    assert any(p.startswith('disable=servicelb') for p in problems)
