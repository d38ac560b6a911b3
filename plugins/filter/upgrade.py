# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Upgrade filters for kubeforge.cluster.

Every filter in this file is documented in its own ``<filter name>.yml`` file next
to it, as ansible-doc expects for files that hold several filters.
"""

from __future__ import annotations

import typing as t

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.filter_errors import as_filter
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.upgrade import (
    UpgradeError, batch_size, minors_to_resolve, plan_upgrade, suc_plans)


class FilterModule:
    """Upgrade filters."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        errors = (UpgradeError, KeyError, TypeError, AttributeError)
        return {
            'upgrade_plan': as_filter(plan_upgrade, errors),
            'upgrade_minors': as_filter(minors_to_resolve, errors),
            'upgrade_batch_size': as_filter(batch_size, errors),
            'upgrade_suc_plans': as_filter(suc_plans, errors),
        }
