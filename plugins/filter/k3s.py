# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""K3s filters for kubeforge.cluster.

Every filter in this file is documented in its own ``<filter name>.yml`` file next
to it, as ansible-doc expects for files that hold several filters.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeforge.cluster.plugins.module_utils.k3s_config import (
    K3sConfigError,
    check_k3s_config,
    critical_differences,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.k3s_release import (
    K3sReleaseError,
    classify_k3s_version,
    k3s_asset,
    k3s_version_facts,
    parse_sha256sums,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.k3s_token import (
    K3sTokenError,
    k3s_token_ca_hash,
    k3s_token_secret,
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


def _sha256_for(text: str, asset: str) -> str:
    """Return the SHA-256 for ``asset`` from sha256sum-format ``text``."""
    return parse_sha256sums(text, asset)


def _k3s_version_kind(value: str) -> str:
    """Return ``pinned`` or ``channel``."""
    return classify_k3s_version(value)['kind']


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
            'k3s_asset': _as_filter(k3s_asset, release_errors),
            'sha256_for': _as_filter(_sha256_for, release_errors),
            'k3s_version_kind': _as_filter(_k3s_version_kind, release_errors),
            'k3s_version_parse': _as_filter(k3s_version_facts, release_errors),
            'k3s_token_secret': _as_filter(k3s_token_secret, token_errors),
            'k3s_token_ca_hash': _as_filter(k3s_token_ca_hash, token_errors),
            'k3s_config_errors': _as_filter(_k3s_config_errors, config_errors),
            'k3s_critical_differences': _as_filter(critical_differences, config_errors),
        }
