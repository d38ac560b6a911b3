# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes release downloads (dl.k8s.io).

Next to each binary, dl.k8s.io publishes ``<file>.sha256`` holding only the
hex digest, without a file name (unlike K3s's sha256sum files).
"""
from __future__ import annotations

import re

_DIGEST = re.compile(r"^([0-9A-Fa-f]{64})(?:[ \t]+\*?[^\s]+)?$")


class KubeReleaseError(ValueError):
    """A release file is not what dl.k8s.io publishes."""


def kube_sha256(text: str) -> str:
    """The lowercase SHA-256 digest in a dl.k8s.io ``.sha256`` file.

    A ``sha256sum``-style line (digest, then a file name) is accepted too, as
    some mirrors rewrite the files that way.
    """
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if len(lines) != 1:
        raise KubeReleaseError("a .sha256 file of a Kubernetes release holds one digest, but this one has %d "
                               "non-empty lines: the source may have served an error page instead" % len(lines))
    match = _DIGEST.match(lines[0])
    if not match:
        raise KubeReleaseError("%r is not a SHA-256 digest (64 hex digits): the source may have served an error "
                               "page instead of the release's .sha256 file" % lines[0][:80])
    return match.group(1).lower()
