# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run kubeconfig_merge's main() end to end on temporary files."""

from __future__ import annotations

import json
import os
import stat
from unittest import mock

import pytest
import yaml

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.kubeforge.cluster.plugins.modules import kubeconfig_merge

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'fixtures', 'kubeconfig')
SERVER = 'https://10.0.0.10:6443'


def read(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return handle.read()


K3S = read('k3s.yaml')
EXISTING = read('existing.yaml')


def run_module(capsys, check_mode=False, diff=False, **params):
    """The module with K3s's kubeconfig for cluster lab, and params on top."""
    return _run(capsys, dict(content=K3S, name='lab', server=SERVER), check_mode, diff, params)


def _run(capsys, args, check_mode, diff, params):
    args.update(params)
    args['_ansible_check_mode'] = check_mode
    args['_ansible_diff'] = diff
    with patch_module_args(args):
        with pytest.raises(SystemExit) as excinfo:
            kubeconfig_merge.main()
    result = json.loads(capsys.readouterr().out)
    result['rc'] = excinfo.value.code
    return result


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def load(path):
    with open(path, encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def write(path, text, mode):
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(text)
    os.chmod(path, mode)


def test_creates_new_file_and_parent_dir(tmp_path, capsys):
    dest = tmp_path / 'home' / '.kube' / 'config'
    result = run_module(capsys, dest=str(dest))
    assert result['rc'] == 0, result
    assert result['changed'] is True
    assert result['dest'] == str(dest)
    assert result['context'] == 'lab'
    assert mode_of(dest) == 0o600
    assert mode_of(dest.parent) == 0o700
    data = load(dest)
    assert data['current-context'] == 'lab'
    assert data['clusters'][0]['cluster']['server'] == SERVER
    assert [entry['name'] for entry in data['users']] == ['lab']


def test_second_run_is_not_changed(tmp_path, capsys):
    dest = tmp_path / 'config'
    assert run_module(capsys, dest=str(dest))['changed'] is True
    content = dest.read_text(encoding='utf-8')
    result = run_module(capsys, dest=str(dest))
    assert result['changed'] is False
    assert dest.read_text(encoding='utf-8') == content


def test_merge_keeps_other_contexts(tmp_path, capsys):
    dest = tmp_path / 'config'
    write(dest, EXISTING, 0o600)
    result = run_module(capsys, dest=str(dest), name='edge')
    assert result['changed'] is True
    data = load(dest)
    assert [entry['name'] for entry in data['contexts']] == ['prod', 'lab', 'edge']
    assert data['current-context'] == 'prod'
    assert data['users'][0] == {'name': 'prod-admin', 'user': {'token': 'prod-token-value'}}


def test_reformatted_but_equal_file_is_not_changed(tmp_path, capsys):
    dest = tmp_path / 'config'
    run_module(capsys, dest=str(dest))
    data = load(dest)
    write(dest, '# edited by hand\n' + yaml.safe_dump(data, default_flow_style=True), 0o600)
    before = dest.read_text(encoding='utf-8')
    result = run_module(capsys, dest=str(dest))
    assert result['changed'] is False
    assert dest.read_text(encoding='utf-8') == before


def test_loose_mode_is_fixed_and_reported(tmp_path, capsys):
    dest = tmp_path / 'config'
    run_module(capsys, dest=str(dest))
    os.chmod(dest, 0o644)
    content = dest.read_text(encoding='utf-8')
    result = run_module(capsys, dest=str(dest), diff=True)
    assert result['changed'] is True
    assert mode_of(dest) == 0o600
    assert dest.read_text(encoding='utf-8') == content
    assert result['diff']['before_header'].endswith('(mode 0644)')
    assert result['diff']['after_header'].endswith('(mode 0600)')


def test_content_change_on_loose_file_ends_tight(tmp_path, capsys):
    dest = tmp_path / 'config'
    write(dest, EXISTING, 0o666)
    assert run_module(capsys, dest=str(dest))['changed'] is True
    assert mode_of(dest) == 0o600


def test_custom_mode(tmp_path, capsys):
    dest = tmp_path / 'config'
    result = run_module(capsys, dest=str(dest), mode='0640')
    assert result['changed'] is True
    assert mode_of(dest) == 0o640
    assert run_module(capsys, dest=str(dest), mode=0o640)['changed'] is False


def test_check_mode_writes_nothing(tmp_path, capsys):
    dest = tmp_path / 'sub' / 'config'
    result = run_module(capsys, check_mode=True, diff=True, dest=str(dest))
    assert result['changed'] is True
    assert not dest.parent.exists()
    assert result['diff']['before'] == ''
    assert 'name: lab' in result['diff']['after']


def test_check_mode_on_existing_file(tmp_path, capsys):
    dest = tmp_path / 'config'
    write(dest, EXISTING, 0o644)
    result = run_module(capsys, check_mode=True, dest=str(dest))
    assert result['changed'] is True
    assert dest.read_text(encoding='utf-8') == EXISTING
    assert mode_of(dest) == 0o644


def test_diff_is_redacted(tmp_path, capsys):
    dest = tmp_path / 'config'
    write(dest, EXISTING, 0o600)
    result = run_module(capsys, diff=True, dest=str(dest))
    diff = result['diff']
    text = diff['before'] + diff['after']
    for secret in ('prod-token-value', 'old-password', 'LS0t', 'UFJPRC1DQQ=='):
        assert secret not in text
    assert '<redacted>' in diff['before'] and '<redacted>' in diff['after']
    assert 'https://10.0.0.99:6443' in diff['before']
    assert SERVER in diff['after']
    # nothing secret anywhere in the result
    assert 'LS0t' not in json.dumps(result)


def test_symlinked_dest_keeps_link(tmp_path, capsys):
    target = tmp_path / 'real-config'
    write(target, EXISTING, 0o600)
    link = tmp_path / 'config'
    link.symlink_to(target)
    assert run_module(capsys, dest=str(link))['changed'] is True
    assert link.is_symlink()
    assert [entry['name'] for entry in load(target)['clusters']] == ['prod', 'lab']


@pytest.mark.parametrize('params,match', [
    (dict(server='http://10.0.0.10:6443'), 'is not an https URL'),
    (dict(content=EXISTING), 'exactly one cluster'),
    (dict(mode='u=rw'), 'not an octal number'),
])
def test_parameter_errors(tmp_path, capsys, params, match):
    dest = tmp_path / 'config'
    result = run_module(capsys, dest=str(dest), **params)
    assert result['rc'] == 1
    assert result['failed'] is True
    assert match in result['msg']
    assert not dest.exists()


@pytest.mark.parametrize('existing,match', [
    ('clusters: [\n', 'is not valid YAML'),
    ('apiVersion: v1\nkind: Secret\n', "not a kubeconfig: expected 'kind: Config'"),
])
def test_invalid_dest_is_not_touched(tmp_path, capsys, existing, match):
    dest = tmp_path / 'config'
    write(dest, existing, 0o644)
    result = run_module(capsys, dest=str(dest))
    assert result['failed'] is True
    assert ('dest %s ' % dest) in result['msg'] and match in result['msg']
    assert dest.read_text(encoding='utf-8') == existing


def test_dest_is_a_directory(tmp_path, capsys):
    result = run_module(capsys, dest=str(tmp_path))
    assert result['failed'] is True
    assert 'is a directory' in result['msg']


def remove_module(capsys, check_mode=False, diff=False, **params):
    """The module with state=absent for cluster lab, and params on top."""
    return _run(capsys, dict(name='lab', state='absent'), check_mode, diff, params)


def test_absent_removes_the_cluster_and_keeps_the_others(tmp_path, capsys):
    dest = tmp_path / 'config'
    write(dest, EXISTING, 0o640)
    result = remove_module(capsys, dest=str(dest))
    assert result['rc'] == 0, result
    assert result['changed'] is True
    assert result['removed'] == ['clusters/lab', 'users/lab', 'contexts/lab']
    data = load(dest)
    assert [entry['name'] for entry in data['contexts']] == ['prod']
    assert data['users'] == [{'name': 'prod-admin', 'user': {'token': 'prod-token-value'}}]
    assert data['current-context'] == 'prod'
    assert mode_of(dest) == 0o640, 'absent keeps the mode'
    again = remove_module(capsys, dest=str(dest))
    assert again['changed'] is False and again['removed'] == []


def test_absent_without_a_file_changes_nothing(tmp_path, capsys):
    dest = tmp_path / 'sub' / 'config'
    result = remove_module(capsys, dest=str(dest))
    assert result['rc'] == 0, result
    assert result['changed'] is False
    assert not dest.parent.exists()


def test_absent_in_check_mode_writes_nothing_and_redacts_the_diff(tmp_path, capsys):
    dest = tmp_path / 'config'
    write(dest, EXISTING, 0o600)
    result = remove_module(capsys, check_mode=True, diff=True, dest=str(dest))
    assert result['changed'] is True
    assert dest.read_text(encoding='utf-8') == EXISTING
    assert 'old-password' not in json.dumps(result)
    assert 'name: lab' in result['diff']['before'] and 'name: lab' not in result['diff']['after']


def test_absent_warns_about_contexts_left_dangling(tmp_path, capsys):
    dest = tmp_path / 'config'
    data = yaml.safe_load(EXISTING)
    data['contexts'].append({'name': 'lab-apps', 'context': {'cluster': 'lab', 'user': 'lab'}})
    write(dest, yaml.safe_dump(data), 0o600)
    # Where a warning ends up depends on what else the test process imported (the result, or the
    # controller's display); the module's own call is what is checked.
    with mock.patch.object(AnsibleModule, 'warn') as warn:
        result = remove_module(capsys, dest=str(dest))
    assert result['dangling'] == ['lab-apps']
    assert any('lab-apps' in call.args[0] for call in warn.call_args_list)
    assert [entry['name'] for entry in load(dest)['contexts']] == ['prod', 'lab-apps']


def test_present_still_needs_content_and_server(tmp_path, capsys):
    result = remove_module(capsys, dest=str(tmp_path / 'config'), state='present')
    assert result['failed'] is True
    assert 'content' in result['msg'] and 'server' in result['msg']
