# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: unknown_variables
author: kubeforge maintainers
version_added: 0.2.0
short_description: Find variables with the collection's prefixes that no role of the collection declares
description:
  - Takes the names of a host's variables and returns one message for each name that starts with a prefix the
    collection owns (C(cluster_), C(k3s_), C(kubeadm_), C(kubelet_), C(containerd_), C(cni_), C(api_lb_),
    C(datastore_), C(kube_artifacts_), C(node_prep_), C(kubeconfig_), C(reset_)) but is not a variable of any of its
    roles, so a misspelled variable is refused instead of silently ignored.
  - Known names are the options of every entry point in the roles' C(meta/argument_specs.yml), every key of their
    C(defaults/main.yml), the public facts the roles set (C(cluster_plan), C(cluster_artifacts), ...) and the
    deprecated per-role C(*_cache_dir) and C(*_download_timeout) variables. They are read once per process from
    the collection's own C(roles) directory.
  - Each message names the host and the variable and suggests the closest known name; when none is close, it names
    the role the prefix belongs to. Names that start with an underscore are internal and never reported.
  - Never fails on an unknown name, so the planning play can report every host's mistakes at once.
options:
  _input:
    description: The variable names, for example from C(lookup('ansible.builtin.varnames', ...)).
    type: list
    elements: str
    required: true
  host:
    description: The host the names belong to; each message starts with it.
    type: str
    required: true
  allowed:
    description: Names with the collection's prefixes that the user keeps on purpose (C(cluster_extra_variables)).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Refuse misspelled variables
  ansible.builtin.assert:
    that: __problems | length == 0
    fail_msg: "{{ __problems | join('\n') }}"
  vars:
    __problems: >-
      {{ lookup('ansible.builtin.varnames',
                '^(cluster|k3s|kubeadm|kubelet|containerd|cni|api_lb|datastore|kube_artifacts|node_prep|kubeconfig)_',
                wantlist=True)
         | kubeforge.cluster.unknown_variables(inventory_hostname, cluster_extra_variables) }}
"""

RETURN = r"""
_value:
  description: One message per unknown name, with the closest known name or the role to read about; empty when
    every name is known or allowed.
  type: list
  elements: str
"""

import functools
import os
from typing import Any

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.filter_errors import as_filter
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.known_variables import known_names, unknown_variable_errors

# <collection root>/plugins/filter/unknown_variables.py -> <collection root>/roles
ROLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__)))), "roles")


@functools.lru_cache(maxsize=None)
def _known(roles_dir: str) -> frozenset[str]:
    return frozenset(known_names(roles_dir))


def _strings(value: Any, what: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)):
        raise TypeError(f"{what} must be a list of variable names, got {type(value).__name__}")
    if not all(isinstance(item, str) for item in value):
        raise TypeError(f"{what} must be a list of variable names (strings)")
    return list(value)


def _unknown_variables(names: Any, host: Any, allowed: Any = None) -> list[str]:
    if not isinstance(host, str):
        raise TypeError(f"unknown_variables: the host must be a string, got {type(host).__name__}")
    return unknown_variable_errors(
        host,
        _strings(names, "unknown_variables: the input"),
        set(_known(ROLES_DIR)),
        _strings([] if allowed is None else allowed, "cluster_extra_variables"),
    )


class FilterModule:
    """Misspelled variable check."""

    def filters(self) -> dict[str, Any]:
        return {"unknown_variables": as_filter(_unknown_variables, (TypeError,))}
