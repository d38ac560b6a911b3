# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible.plugins.loader import filter_loader

from ansible_collections.kubeforge.cluster.plugins.filter.k3s import FilterModule

FILTERS = FilterModule().filters()
CA_HASH = '0f' * 32
SUMS = '%s  k3s\n%s  k3s-arm64\n' % ('a' * 64, 'b' * 64)


def test_all_filters_exposed():
    assert sorted(FILTERS) == [
        'k3s_asset', 'k3s_config_errors', 'k3s_critical_differences', 'k3s_token_problems', 'k3s_token_secret', 'sha256_for',
    ]


def test_filters_are_found_by_fqcn():
    for name in FILTERS:
        assert filter_loader.get('kubeforge.cluster.%s' % name) is not None, name


def test_k3s_asset():
    assert FILTERS['k3s_asset']('aarch64')['binary'] == 'k3s-arm64'


def test_sha256_for():
    assert FILTERS['sha256_for'](SUMS, 'k3s-arm64') == 'b' * 64


def test_token_filters():
    content = 'K10%s::server:s3cret\n' % CA_HASH
    assert FILTERS['k3s_token_secret'](content) == 's3cret'
    assert FILTERS['k3s_token_secret']('short') == 'short'


@pytest.mark.parametrize('name,args,match', [
    ('k3s_asset', ('armv6l',), 'no ARMv6 build'),
    ('k3s_asset', ('mips',), 'Supported architectures'),
    ('sha256_for', (SUMS, 'k3s-armhf'), "no entry for 'k3s-armhf'; it lists: k3s, k3s-arm64"),
    ('k3s_token_secret', ('K10abc::server:x',), 'invalid token CA hash length'),
    ('k3s_token_secret', ('K10%s::x' % CA_HASH,), 'invalid token format'),
])
def test_errors_are_filter_errors(name, args, match):
    with pytest.raises(AnsibleFilterError, match=match):
        FILTERS[name](*args)


def test_filters_in_a_template():
    # pylint: disable=import-outside-toplevel
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    templar = Templar(loader=DataLoader(), variables={'arch': 'armv7l', 'token': 'K10%s::node:s3cret' % CA_HASH})
    template = trust_as_template(
        "{{ (arch | kubeforge.cluster.k3s_asset).checksums }} {{ token | kubeforge.cluster.k3s_token_secret }}"
    )
    assert templar.template(template) == 'sha256sum-arm.txt s3cret'
