# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: datastore_dsn
author: kubeforge maintainers
version_added: 0.1.0
short_description: Split a K3s datastore endpoint into its parts
description:
  - Parses the K3s C(datastore-endpoint) forms C(postgres://USER:PASSWORD@HOST:PORT/DB),
    C(mysql://USER:PASSWORD@tcp(HOST:PORT)/DB) and a comma-separated list of etcd URLs.
  - Error messages never repeat the endpoint, which holds a password.
options:
  _input:
    description: The endpoint.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Provision the database the endpoint names
  ansible.builtin.debug:
    msg: "{{ (cluster_datastore_endpoint | kubeforge.cluster.datastore_dsn).database }}"
"""

RETURN = r"""
_value:
  description: C(engine) (postgresql, mysql or etcd) and C(user), C(password), C(host), C(port), C(database), or C(endpoints) for etcd.
  type: dict
"""

from typing import Any

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.filter_errors import as_filter
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.datastore_dsn import DsnError, parse_dsn


class FilterModule:
    """Datastore endpoint filters."""

    def filters(self) -> dict[str, Any]:
        return {"datastore_dsn": as_filter(parse_dsn, (DsnError,))}
