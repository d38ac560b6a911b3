# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm filters for kubeforge.cluster.

Every filter in this file is documented in its own ``<filter name>.yml`` file next
to it, as ansible-doc expects for files that hold several filters.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeforge.cluster.plugins.module_utils.kubeadm_discovery import (
    KubeadmDiscoveryError,
    kubeadm_ca_cert_hash,
    parse_kubeadm_join_command,
)


def _as_filter(func: t.Callable[..., t.Any], error_types: tuple[type[Exception], ...]) -> t.Callable[..., t.Any]:
    """Wrap a pure function so that its domain errors surface as AnsibleFilterError."""

    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        try:
            return func(*args, **kwargs)
        except error_types as exc:
            raise AnsibleFilterError(str(exc)) from exc

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


class FilterModule:
    """kubeadm filters."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        discovery_errors = (KubeadmDiscoveryError,)
        return {
            'kubeadm_ca_cert_hash': _as_filter(kubeadm_ca_cert_hash, discovery_errors),
            'kubeadm_join_command': _as_filter(parse_kubeadm_join_command, discovery_errors),
        }
