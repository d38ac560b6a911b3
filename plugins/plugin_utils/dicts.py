# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dictionary helpers shared by the collection's configuration builders."""
from __future__ import annotations

import typing as t
from collections.abc import Mapping


def deep_merge(base: Mapping[str, t.Any], extra: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """``base`` with ``extra`` merged in key by key: nested dicts merge, anything else in ``extra`` wins."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out
