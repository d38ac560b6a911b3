# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: datastore_endpoint_problems
author: kubeforge maintainers
version_added: 0.2.0
short_description: Say what is wrong with a K3s external datastore endpoint, with the password masked
description:
  - Checks a C(cluster_datastore_endpoint) the way K3s will read it - a known scheme (C(postgres://), C(mysql://),
    C(https://) etcd URLs), a host and a port from 1 to 65535, a database name, and characters a URL does not allow
    unencoded in the user or password (C(@), C(/), C(#), C(?)).
  - Returns one message per problem, each showing the endpoint with its password replaced by C(****) and saying how
    to fix it; an empty list when the endpoint is usable. Never fails, so the planning play can report every host's
    problems at once.
options:
  _input:
    description: The endpoint.
    type: str
    required: true
  credentials:
    description: Also require a user and a password (the C(datastore) role creates that user; K3s logs in with it).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Refuse an endpoint K3s would not read
  ansible.builtin.assert:
    that: cluster_datastore_endpoint | kubeforge.cluster.datastore_endpoint_problems | length == 0
    fail_msg: "{{ cluster_datastore_endpoint | kubeforge.cluster.datastore_endpoint_problems | join('; ') }}"
"""

RETURN = r"""
_value:
  description: The problems, each with the masked endpoint and the fix.
  type: list
  elements: str
"""

from typing import Any

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.datastore_dsn import dsn_problems
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.filter_errors import as_filter


def _problems(dsn: Any, credentials: bool = True) -> list[str]:
    if not isinstance(dsn, str):
        raise TypeError(f"the datastore endpoint must be a string, got {type(dsn).__name__}")
    return dsn_problems(dsn, bool(credentials))


class FilterModule:
    """Datastore endpoint checks."""

    def filters(self) -> dict[str, Any]:
        return {"datastore_endpoint_problems": as_filter(_problems, (TypeError,))}
