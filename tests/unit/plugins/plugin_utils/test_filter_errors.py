# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.filter_errors import as_filter


class DomainError(ValueError):
    pass


def helper(value: str) -> str:
    """Upper-case a value, refusing an empty one."""
    if value == '':
        raise DomainError('the value is empty')
    if value == 'bug':
        raise KeyError('not a domain error')
    return value.upper()


def test_result_passes_through_and_name_and_doc_are_kept():
    wrapped = as_filter(helper, (DomainError,))
    assert wrapped('a') == 'A'
    assert wrapped.__name__ == 'helper'
    assert wrapped.__doc__ == helper.__doc__


def test_domain_error_becomes_a_filter_error():
    with pytest.raises(AnsibleFilterError, match='^the value is empty$') as excinfo:
        as_filter(helper, (DomainError,))('')
    assert isinstance(excinfo.value.__cause__, DomainError)


def test_name_prefixes_the_message():
    with pytest.raises(AnsibleFilterError, match='^upper: the value is empty$'):
        as_filter(helper, (DomainError,), 'upper')('')


def test_other_errors_are_not_translated():
    with pytest.raises(KeyError):
        as_filter(helper, (DomainError,))('bug')
