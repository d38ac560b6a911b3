# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm and Kubernetes release filters for kubeforge.cluster.

Every filter in this file is documented in its own ``<filter name>.yml`` file next
to it, as ansible-doc expects for files that hold several filters.
"""

from __future__ import annotations

import typing as t

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.filter_errors import as_filter
from ansible_collections.kubeforge.cluster.plugins.module_utils.kubeadm_discovery import (
    KubeadmDiscoveryError,
    kubeadm_ca_cert_hash,
)
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.image_archive import missing
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.kubeadm_config import (
    KubeadmConfigError,
    kubeadm_documents,
)
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.kube_release import (
    KubeReleaseError,
    kube_sha256,
)


def _kubeadm_config(settings: t.Mapping[str, t.Any], role: str) -> list[dict[str, t.Any]]:
    """The kubeadm configuration documents of a node with ``role``."""
    return kubeadm_documents(role, settings)


class FilterModule:
    """kubeadm filters."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        discovery_errors = (KubeadmDiscoveryError,)
        return {
            'kubeadm_ca_cert_hash': as_filter(kubeadm_ca_cert_hash, discovery_errors),
            'kube_sha256': as_filter(kube_sha256, (KubeReleaseError,)),
            'kubeadm_config': as_filter(_kubeadm_config, (KubeadmConfigError,)),
            'image_archive_missing': missing,
        }
