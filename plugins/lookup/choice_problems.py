# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: choice_problems
author:
  - kubeforge maintainers (!UNKNOWN)
version_added: 0.2.0
short_description: Check the host's variables against the fixed choices the collection's roles declare
description:
  - For each variable name given that one of the collection's roles declares with C(choices) in its
    C(meta/argument_specs.yml), renders the host's value and, when it is not one of the choices (for a list, each
    element), returns one line naming the host, the variable, the value, the allowed values, the role to read and the
    closest choice.
  - The planning play runs it before any role's own argument validation, so a wrong word is reported in one line per
    problem instead of the argument validation's dump of the whole specification.
  - Names without declared choices are not rendered at all.
options:
  _terms:
    description: Variable names, for example from C(lookup('ansible.builtin.varnames', ...)).
    required: true
  host:
    description: The host the variables belong to; each line starts with it.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Report wrong words before anything changes
  ansible.builtin.assert:
    that: __problems | length == 0
    fail_msg: "{{ __problems | join('\n') }}"
  vars:
    __names: "{{ lookup('ansible.builtin.varnames', '^containerd_', wantlist=True) }}"
    __problems: "{{ lookup('kubeforge.cluster.choice_problems', *__names, host=inventory_hostname, wantlist=True) }}"
"""

RETURN = r"""
_raw:
  description: One line per problem; empty when every value is one of its choices.
  type: list
  elements: str
"""

import functools
import os
import typing as t

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.known_variables import choice_problems, choice_specs

ROLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__)))), "roles")


@functools.lru_cache(maxsize=None)
def _specs(roles_dir: str) -> dict[str, tuple[str, list[t.Any], str]]:
    return choice_specs(roles_dir)


class LookupModule(LookupBase):
    """Fixed-choice variables checked in one line each."""

    def run(self, terms: list[t.Any], variables: dict[str, t.Any] | None = None, **kwargs: t.Any) -> list[str]:
        self.set_options(var_options=variables, direct=kwargs)
        host = str(self.get_option("host"))
        specs = _specs(ROLES_DIR)
        names = [str(term) for term in terms if str(term) in specs]
        values: dict[str, t.Any] = {}
        for name in names:
            if variables is None or name not in variables:
                continue
            try:
                values[name] = self._templar.template(variables[name])
            except Exception as exc:  # a value that cannot be rendered is reported, not raised as a template error
                raise AnsibleLookupError(f"{host}: {name} cannot be rendered: {exc}") from exc
        return choice_problems(host, values, specs)
