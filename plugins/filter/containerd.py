# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""containerd filters for kubeforge.cluster.

Every filter in this file is documented in its own ``<filter name>.yml`` file next
to it, as ansible-doc expects for files that hold several filters.
"""

from __future__ import annotations

import typing as t

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.filter_errors import as_filter
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.containerd_config import (
    ContainerdConfigError,
    containerd_config,
    containerd_major,
    hosts_toml,
    to_toml,
)


def _containerd_config_toml(settings: t.Mapping[str, t.Any], major: t.Any) -> str:
    """TOML text of the configuration for containerd ``major``."""
    try:
        major_int = int(major)
    except (TypeError, ValueError):
        raise ContainerdConfigError("the containerd major version must be a number, not %r" % (major,)) from None
    return to_toml(containerd_config(major_int, settings))


def _containerd_hosts_toml(mirrors: t.Sequence[str], registry: str, server: str | None = None) -> str:
    return hosts_toml(registry, mirrors, server)


class FilterModule:
    """containerd filters."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        errors = (ContainerdConfigError,)
        return {
            'containerd_config_toml': as_filter(_containerd_config_toml, errors, 'containerd_config_toml'),
            'containerd_major': as_filter(containerd_major, errors, 'containerd_major'),
            'containerd_hosts_toml': as_filter(_containerd_hosts_toml, errors, 'containerd_hosts_toml'),
        }
