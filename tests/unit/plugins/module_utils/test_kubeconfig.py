# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy
import os

import pytest
import yaml

from ansible_collections.kubeforge.cluster.plugins.module_utils.kubeconfig import (
    REDACTED,
    KubeconfigError,
    configs_equal,
    dump_kubeconfig,
    load_kubeconfig,
    merge_kubeconfig,
    new_kubeconfig,
    parse_mode,
    plan_merge,
    plan_removal,
    redact,
    remove_entries,
    renamed_entries,
    validate_server,
)

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'fixtures', 'kubeconfig')


def read(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return handle.read()


K3S = read('k3s.yaml')
EXISTING = read('existing.yaml')
SERVER = 'https://10.0.0.10:6443'


def names(config, section):
    return [entry['name'] for entry in config[section]]


def test_renamed_entries():
    entries = renamed_entries(load_kubeconfig(K3S, 'src'), 'lab', SERVER)
    assert entries['cluster']['name'] == 'lab'
    assert entries['cluster']['cluster']['server'] == SERVER
    assert entries['cluster']['cluster']['certificate-authority-data'].startswith('LS0t')
    assert entries['user']['name'] == 'lab'
    assert 'client-key-data' in entries['user']['user']
    assert entries['context'] == {'name': 'lab', 'context': {'cluster': 'lab', 'user': 'lab'}}


def test_renamed_entries_does_not_mutate_source():
    source = load_kubeconfig(K3S, 'src')
    pristine = copy.deepcopy(source)
    renamed_entries(source, 'lab', SERVER)
    assert source == pristine


def test_renamed_context_keeps_namespace():
    source = load_kubeconfig(K3S, 'src')
    source['contexts'][0]['context']['namespace'] = 'kube-system'
    entries = renamed_entries(source, 'lab', SERVER)
    assert entries['context']['context'] == {'cluster': 'lab', 'user': 'lab', 'namespace': 'kube-system'}


def test_merge_into_nothing_creates_config():
    result = plan_merge(K3S, None, 'lab', SERVER)
    after = result['after']
    assert result['before'] is None and result['changed'] is True
    assert after['kind'] == 'Config' and after['apiVersion'] == 'v1'
    assert names(after, 'clusters') == names(after, 'users') == names(after, 'contexts') == ['lab']
    assert after['current-context'] == 'lab'


def test_merge_replaces_same_name_and_keeps_others():
    result = plan_merge(K3S, EXISTING, 'lab', SERVER)
    before, after = result['before'], result['after']
    assert result['changed'] is True
    # order and content of unrelated entries are untouched
    assert names(after, 'clusters') == ['prod', 'lab']
    assert names(after, 'contexts') == ['prod', 'lab']
    assert names(after, 'users') == ['prod-admin', 'lab']
    assert after['clusters'][0] == before['clusters'][0]
    assert after['contexts'][0] == before['contexts'][0]
    assert after['users'][0] == before['users'][0]
    # the lab entries are fully replaced (no leftovers such as the old password)
    assert after['clusters'][1]['cluster']['server'] == SERVER
    assert 'password' not in after['users'][1]['user']
    assert after['current-context'] == 'prod'
    assert after['preferences'] == {}


def test_merge_appends_new_name():
    after = plan_merge(K3S, EXISTING, 'edge', SERVER)['after']
    assert names(after, 'clusters') == ['prod', 'lab', 'edge']
    assert names(after, 'contexts') == ['prod', 'lab', 'edge']
    assert after['current-context'] == 'prod'


def test_set_current_context():
    after = plan_merge(K3S, EXISTING, 'edge', SERVER, set_current_context=True)['after']
    assert after['current-context'] == 'edge'


@pytest.mark.parametrize('current', ['', None])
def test_current_context_set_when_dest_has_none(current):
    dest = yaml.safe_load(EXISTING)
    dest['current-context'] = current
    after = plan_merge(K3S, dump_kubeconfig(dest), 'edge', SERVER)['after']
    assert after['current-context'] == 'edge'


def test_merge_is_idempotent():
    first = plan_merge(K3S, EXISTING, 'lab', SERVER)['after']
    second = plan_merge(K3S, dump_kubeconfig(first), 'lab', SERVER)
    assert second['changed'] is False
    assert second['after'] == first


def test_merge_does_not_mutate_dest():
    dest = yaml.safe_load(EXISTING)
    pristine = copy.deepcopy(dest)
    entries = renamed_entries(load_kubeconfig(K3S, 'src'), 'lab', SERVER)
    merge_kubeconfig(dest, entries, 'lab')
    assert dest == pristine


def test_duplicate_names_in_dest_collapse_to_one():
    dest = yaml.safe_load(EXISTING)
    dest['clusters'].append(copy.deepcopy(dest['clusters'][1]))
    after = plan_merge(K3S, dump_kubeconfig(dest), 'lab', SERVER)['after']
    assert names(after, 'clusters') == ['prod', 'lab']


def test_dest_with_missing_or_null_sections():
    after = plan_merge(K3S, 'apiVersion: v1\nkind: Config\nclusters: null\n', 'lab', SERVER)['after']
    assert names(after, 'clusters') == names(after, 'users') == names(after, 'contexts') == ['lab']


def test_empty_dest_file_counts_as_new():
    result = plan_merge(K3S, '', 'lab', SERVER)
    assert result['before'] is None
    assert result['after']['kind'] == 'Config'


def test_configs_equal_ignores_formatting():
    reformatted = dump_kubeconfig(yaml.safe_load(EXISTING))
    assert reformatted != EXISTING
    assert configs_equal(yaml.safe_load(EXISTING), yaml.safe_load(reformatted))
    assert not configs_equal(yaml.safe_load(EXISTING), None)


def test_redact():
    after = plan_merge(K3S, EXISTING, 'lab', SERVER)['after']
    redacted = redact(after)
    text = dump_kubeconfig(redacted)
    for secret in ('LS0t', 'prod-token-value', 'UFJPRC1DQQ=='):
        assert secret not in text
    assert redacted['users'][0]['user']['token'] == REDACTED
    assert redacted['users'][1]['user'] == {'client-certificate-data': REDACTED, 'client-key-data': REDACTED}
    assert redacted['clusters'][1]['cluster'] == {'certificate-authority-data': REDACTED, 'server': SERVER}
    # the input is left alone
    assert after['users'][0]['user']['token'] == 'prod-token-value'


def test_redact_keeps_non_secret_structure():
    data = {'users': [{'name': 'u', 'user': {'exec': {'command': 'aws', 'args': ['eks']}, 'token': ''}}]}
    assert redact(data) == data


@pytest.mark.parametrize('source,match', [
    (EXISTING, 'exactly one cluster, found 2 \\(prod, lab\\)'),
    ('apiVersion: v1\nkind: Config\nclusters: []\n', 'exactly one cluster, found 0 \\(none\\)'),
    (K3S.replace('users:\n- name: default\n', 'users:\n- name: other\n  user: {}\n- name: default\n'),
     'exactly one user, found 2'),
    ('', 'source kubeconfig \\(content\\) is empty'),
    (': : :\n  - [', 'source kubeconfig \\(content\\) is not valid YAML'),
    ('- a\n- b\n', 'not a kubeconfig: expected a mapping'),
    ('apiVersion: v1\nkind: Pod\n', "expected 'kind: Config', found 'kind: Pod'"),
])
def test_source_validation(source, match):
    with pytest.raises(KubeconfigError, match=match):
        plan_merge(source, None, 'lab', SERVER)


@pytest.mark.parametrize('dest,match', [
    ('clusters: [\n', 'dest /x/config is not valid YAML'),
    ('hello\n', 'dest /x/config is not a kubeconfig: expected a mapping, found str'),
    ('apiVersion: v1\nclusters: []\n', "dest /x/config is not a kubeconfig: expected 'kind: Config', found no kind"),
    ('kind: Config\nclusters: {}\n', "'clusters' must be a list"),
    ('kind: Config\ncontexts:\n- context: {}\n', "entry 1 of 'contexts' is not a mapping with a 'name'"),
])
def test_dest_validation(dest, match):
    with pytest.raises(KubeconfigError, match=match):
        plan_merge(K3S, dest, 'lab', SERVER, dest_label='dest /x/config')


@pytest.mark.parametrize('server', ['http://10.0.0.10:6443', '10.0.0.10:6443', 'https://', '', 'https://:6443'])
def test_server_must_be_https(server):
    with pytest.raises(KubeconfigError, match='is not an https URL'):
        validate_server(server)


@pytest.mark.parametrize('name', ['', ' lab', 'lab\n', None])
def test_invalid_name(name):
    with pytest.raises(KubeconfigError, match='name'):
        plan_merge(K3S, None, name, SERVER)


@pytest.mark.parametrize('mode,expected', [('0600', 0o600), ('600', 0o600), ('0o640', 0o640), (0o600, 0o600), (384, 0o600)])
def test_parse_mode(mode, expected):
    assert parse_mode(mode) == expected


@pytest.mark.parametrize('mode', ['u=rw', '0800', '', 0o17777, -1, True, 1.5])
def test_parse_mode_rejects(mode):
    with pytest.raises(KubeconfigError, match='mode'):
        parse_mode(mode)


def test_new_kubeconfig_is_fresh():
    first = new_kubeconfig()
    first['clusters'].append({'name': 'x'})
    assert new_kubeconfig()['clusters'] == []


def test_remove_entries_keeps_the_others_in_order():
    before = load_kubeconfig(EXISTING, 'dest')
    after = remove_entries(before, 'lab')
    for section in ('clusters', 'users', 'contexts'):
        assert names(after, section) == [n for n in names(before, section) if n != 'lab']
    assert after['current-context'] == 'prod'
    assert after['clusters'][0] == before['clusters'][0]
    assert names(before, 'clusters') == ['prod', 'lab'], 'the input is not changed'


def test_remove_entries_drops_a_current_context_it_removes():
    before = load_kubeconfig(EXISTING, 'dest')
    after = remove_entries(before, 'prod')
    assert 'current-context' not in after
    assert names(after, 'contexts') == ['lab']
    # The prod context's user has another name and stays.
    assert names(after, 'users') == ['prod-admin', 'lab']


def test_plan_removal_reports_what_goes_and_is_idempotent():
    plan = plan_removal(EXISTING, 'lab')
    assert plan['changed'] is True
    assert plan['removed'] == ['clusters/lab', 'users/lab', 'contexts/lab']
    assert plan['dangling'] == []
    again = plan_removal(dump_kubeconfig(plan['after']), 'lab')
    assert again['changed'] is False and again['removed'] == []


@pytest.mark.parametrize('text', [None, ''])
def test_plan_removal_of_nothing(text):
    plan = plan_removal(text, 'lab')
    assert plan == {'before': None, 'after': None, 'changed': False, 'removed': [], 'dangling': []}


def test_plan_removal_names_contexts_left_dangling():
    config = load_kubeconfig(EXISTING, 'dest')
    config['contexts'].append({'name': 'lab-apps', 'context': {'cluster': 'lab', 'user': 'lab', 'namespace': 'apps'}})
    plan = plan_removal(dump_kubeconfig(config), 'lab')
    assert plan['dangling'] == ['lab-apps']
    assert names(plan['after'], 'contexts') == ['prod', 'lab-apps']


def test_plan_removal_refuses_what_is_not_a_kubeconfig():
    with pytest.raises(KubeconfigError, match="not a kubeconfig"):
        plan_removal('apiVersion: v1\nkind: Secret\n', 'lab')
