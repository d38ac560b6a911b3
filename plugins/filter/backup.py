# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup filters for kubeforge.cluster.

Every filter in this file is documented in its own ``<filter name>.yml`` file next
to it, as ansible-doc expects for files that hold several filters.
"""

from __future__ import annotations

import typing as t

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.backup import (
    BackupError,
    build_manifest,
    expired_backups,
    restore_problems,
    snapshot_problem,
    snapshot_settings,
    unsupported,
)
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.filter_errors import as_filter


class FilterModule:
    """Backup filters."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        errors = (BackupError, KeyError, TypeError)
        return {
            'backup_manifest': as_filter(build_manifest, errors),
            'backup_restore_problems': as_filter(restore_problems, errors),
            'backup_expired': as_filter(expired_backups, errors),
            'backup_unsupported': as_filter(unsupported, errors),
            'backup_k3s_snapshot_settings': as_filter(snapshot_settings, errors + (ValueError,)),
            'backup_k3s_snapshot_problem': as_filter(snapshot_problem, errors),
        }
