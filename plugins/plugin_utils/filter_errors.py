# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the domain errors of the collection's pure helpers into filter errors."""
from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError


def as_filter(
    func: t.Callable[..., t.Any],
    error_types: tuple[type[Exception], ...],
    name: str | None = None,
) -> t.Callable[..., t.Any]:
    """Wrap a pure function so that its domain errors surface as AnsibleFilterError.

    This is the one way the collection's filters report a helper's error. With ``name``,
    the message starts with ``<name>: `` (the containerd filters name themselves so).
    """

    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        try:
            return func(*args, **kwargs)
        except error_types as exc:
            message = str(exc) if name is None else '%s: %s' % (name, exc)
            raise AnsibleFilterError(message) from exc

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper
