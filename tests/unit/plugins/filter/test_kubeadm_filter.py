# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible.plugins.loader import filter_loader

from ansible_collections.kubeforge.cluster.plugins.filter.kubeadm import FilterModule

FILTERS = FilterModule().filters()
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
OPENSSL = shutil.which('openssl')


def test_all_filters_exposed():
    assert sorted(FILTERS) == ['image_archive_missing', 'kube_sha256', 'kubeadm_ca_cert_hash', 'kubeadm_config']


def test_filters_are_found_by_fqcn():
    for name in FILTERS:
        assert filter_loader.get('kubeforge.cluster.%s' % name) is not None, name


@pytest.mark.skipif(OPENSSL is None, reason='the openssl CLI is not installed')
def test_kubeadm_ca_cert_hash(tmp_path):
    key, crt = str(tmp_path / 'ca.key'), str(tmp_path / 'ca.crt')
    subprocess.run([OPENSSL, 'req', '-x509', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
                    '-keyout', key, '-out', crt, '-subj', '/CN=kubernetes', '-days', '2'],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    pubkey = subprocess.run([OPENSSL, 'x509', '-pubkey', '-noout', '-in', crt], stdout=subprocess.PIPE,
                            check=True).stdout
    spki = subprocess.run([OPENSSL, 'pkey', '-pubin', '-outform', 'der'], input=pubkey, stdout=subprocess.PIPE,
                          check=True).stdout
    with open(crt, encoding='ascii') as handle:
        assert FILTERS['kubeadm_ca_cert_hash'](handle.read()) == 'sha256:' + hashlib.sha256(spki).hexdigest()


def test_kubeadm_ca_cert_hash_error_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match='No PEM certificate'):
        FILTERS['kubeadm_ca_cert_hash']('not a certificate')


def test_in_a_template():
    # pylint: disable=import-outside-toplevel
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    templar = Templar(loader=DataLoader(), variables={'digest_text': 'AB' * 32 + '\n'})
    result = templar.template(trust_as_template("{{ digest_text | kubeforge.cluster.kube_sha256 }}"))
    assert result == 'ab' * 32


@pytest.mark.parametrize('name', sorted(FILTERS))
def test_sidecar_doc(name):
    path = os.path.join(REPO_ROOT, 'plugins', 'filter', name + '.yml')
    with open(path, encoding='utf-8') as handle:
        text = handle.read()
    assert text.startswith('---\n')
    doc = yaml.safe_load(text)
    assert doc['DOCUMENTATION']['name'] == name
    assert doc['DOCUMENTATION']['positional'].split(', ')[0] == '_input'
    # Every positional argument is documented.
    assert set(doc['DOCUMENTATION']['positional'].split(', ')) <= set(doc['DOCUMENTATION']['options'])
    assert doc['RETURN']['_value']['type'] in ('str', 'dict', 'list')
    assert 'kubeforge.cluster.%s' % name in doc['EXAMPLES']
