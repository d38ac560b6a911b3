# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registration filters for kubeforge.cluster.

Every filter in this file is documented in its own ``<filter name>.yml`` file next
to it, as ansible-doc expects for files that hold several filters.
"""

from __future__ import annotations

import typing as t

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.filter_errors import as_filter
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.registration import argocd_secret, plan, spoke_objects

_ERRORS = (KeyError, TypeError, AttributeError, ValueError)


class FilterModule:
    """Registration filters."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {
            'registration_plan': as_filter(plan, _ERRORS),
            'registration_spoke_objects': as_filter(spoke_objects, _ERRORS),
            'registration_argocd_secret': as_filter(argocd_secret, _ERRORS),
        }
