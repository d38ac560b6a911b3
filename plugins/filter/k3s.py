# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""K3s filters for kubeforge.cluster.

Every filter in this file is documented in its own ``<filter name>.yml`` file next
to it, as ansible-doc expects for files that hold several filters.
"""

from __future__ import annotations

import typing as t

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.filter_errors import as_filter
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.k3s_config import (
    K3sConfigError,
    check_k3s_config,
    critical_differences,
)
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.k3s_release import (
    K3sReleaseError,
    k3s_asset,
    parse_sha256sums,
)
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.k3s_token import (
    K3sTokenError,
    k3s_token_secret,
    token_problems,
)


def _sha256_for(text: str, asset: str) -> str:
    """Return the SHA-256 for ``asset`` from sha256sum-format ``text``."""
    return parse_sha256sums(text, asset)


def _k3s_config_errors(config: t.Any, command: str = 'server') -> list[str]:
    """Return what is wrong with K3s settings ``config`` for ``k3s <command>`` (empty when valid)."""
    return check_k3s_config(config, command)


class FilterModule:
    """K3s filters."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        release_errors = (K3sReleaseError,)
        token_errors = (K3sTokenError,)
        config_errors = (K3sConfigError,)
        return {
            'k3s_asset': as_filter(k3s_asset, release_errors),
            'sha256_for': as_filter(_sha256_for, release_errors),
            'k3s_token_secret': as_filter(k3s_token_secret, token_errors),
            'k3s_token_problems': as_filter(token_problems, token_errors),
            'k3s_config_errors': as_filter(_k3s_config_errors, config_errors),
            'k3s_critical_differences': as_filter(critical_differences, config_errors),
        }
