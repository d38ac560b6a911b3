# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible.plugins.loader import filter_loader

from ansible_collections.kubeforge.cluster.plugins.filter.k3s import FilterModule

K3S_CONFIG_ERRORS = FilterModule().filters()['k3s_config_errors']
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))


def test_found_by_fqcn():
    assert filter_loader.get('kubeforge.cluster.k3s_config_errors') is not None


def test_valid_config():
    assert K3S_CONFIG_ERRORS({'node-label': ['a=b'], 'write-kubeconfig-mode': '0600'}) == []
    assert K3S_CONFIG_ERRORS({'node-ip': '192.0.2.1'}, 'agent') == []


def test_errors():
    assert K3S_CONFIG_ERRORS({'clustr-cidr': '10.42.0.0/16'}, 'server') == [
        "unknown K3s server setting 'clustr-cidr' (did you mean 'cluster-cidr'?)"
    ]
    errors = K3S_CONFIG_ERRORS({'disable': ['traefik']}, command='agent')
    assert len(errors) == 1 and 'flag provided but not defined: -disable' in errors[0]


def test_bad_command_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match='must be one of server, agent'):
        K3S_CONFIG_ERRORS({}, 'etcd')


def test_in_a_template():
    # pylint: disable=import-outside-toplevel
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    variables = {
        'k3s_server_config': {'write-kubeconfig-mode': 420, 'node-label': ['ok=yes']},
        'k3s_server_config_dropins': {'10-net': {'flannel-backend': 'ipsec'}, '20-ok': {'disable': 'traefik'}},
    }
    templar = Templar(loader=DataLoader(), variables=variables)
    errors = templar.template(trust_as_template(
        "{{ k3s_server_config | kubeforge.cluster.k3s_config_errors('server') "
        "+ (k3s_server_config_dropins.values() | map('kubeforge.cluster.k3s_config_errors', 'server') | flatten) }}"
    ))
    assert len(errors) == 2
    assert errors[0].startswith("'write-kubeconfig-mode' is the number 420")
    assert "the 'ipsec' backend was removed" in errors[1]


def test_sidecar_doc():
    path = os.path.join(REPO_ROOT, 'plugins', 'filter', 'k3s_config_errors.yml')
    with open(path, encoding='utf-8') as handle:
        text = handle.read()
    assert text.startswith('---\n')
    doc = yaml.safe_load(text)
    assert doc['DOCUMENTATION']['name'] == 'k3s_config_errors'
    assert doc['DOCUMENTATION']['options']['command']['choices'] == ['server', 'agent']
    assert doc['RETURN']['_value']['elements'] == 'str'
