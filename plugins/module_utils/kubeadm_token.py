# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bootstrap tokens as ``kubeadm token list`` prints them, and which one to reuse.

The default (text) output is a table whose columns are aligned by Go's
tabwriter: TOKEN, TTL, EXPIRES, USAGES, DESCRIPTION, EXTRA GROUPS. Columns are
cut at the header's column starts, so a description with spaces stays whole.
Pure functions: no process or file access.
"""
from __future__ import annotations

import datetime as dt
import re
import typing as t

COLUMNS = ("TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS")
# k8s.io/cluster-bootstrap BootstrapTokenPattern, lower case only: "<id>.<secret>".
# The collection's one definition; the kubeadm_token module and the kubeadm_config filter use it too.
BOOTSTRAP_TOKEN_PATTERN = r"[a-z0-9]{6}\.[a-z0-9]{16}"
_TOKEN = re.compile(r"^%s$" % BOOTSTRAP_TOKEN_PATTERN)
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


class KubeadmTokenError(ValueError):
    """The token listing or a setting cannot be used."""


def is_bootstrap_token(value: t.Any) -> bool:
    """Whether ``value`` is a bootstrap token as kubeadm accepts it."""
    return isinstance(value, str) and _TOKEN.match(value) is not None


def parse_token_list(text: str) -> list[dict[str, t.Any]]:
    """Rows of ``kubeadm token list`` as dicts: token, ttl, expires (datetime or None), usages, description, groups."""
    lines = [line.rstrip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        return []
    header = lines[0]
    starts = []
    for name in COLUMNS:
        index = header.find(name)
        if index < 0 or (starts and index <= starts[-1]):
            raise KubeadmTokenError("unexpected 'kubeadm token list' header %r; expected the columns %s"
                                    % (header, ", ".join(COLUMNS)))
        starts.append(index)
    rows = []
    for line in lines[1:]:
        cells = [line[start:(starts[i + 1] if i + 1 < len(starts) else None)].strip() for i, start in enumerate(starts)]
        token = cells[0]
        if not is_bootstrap_token(token):
            raise KubeadmTokenError("'kubeadm token list' printed a row without a token in the first column")
        expires = None
        if cells[2] and cells[2] != "<never>":
            try:
                expires = dt.datetime.strptime(cells[2], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
            except ValueError as exc:
                raise KubeadmTokenError("'kubeadm token list' printed an expiry %r that is not RFC 3339 UTC"
                                        % cells[2]) from exc
        rows.append({"token": token, "ttl": cells[1], "expires": expires,
                     "usages": [u for u in cells[3].split(",") if u],
                     "description": "" if cells[4] == "<none>" else cells[4],
                     "groups": [g for g in cells[5].split(",") if g and g != "<none>"]})
    return rows


def duration_seconds(text: str) -> int:
    """Seconds in a Go-style duration limited to hours, minutes and seconds (2h, 90m, 1h30m)."""
    match = _DURATION.match(text or "")
    if not text or not match or not any(match.groups()):
        raise KubeadmTokenError("%r is not a duration such as 2h, 90m or 1h30m" % (text,))
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def reusable_token(rows: t.Sequence[t.Mapping[str, t.Any]], description: str, min_remaining: int,
                   now: dt.datetime) -> str | None:
    """A token made for joins (ours by description, signing and authentication) valid for ``min_remaining`` more seconds.

    The one that lives longest wins, so repeated runs settle on one token."""
    best: tuple[dt.datetime, str] | None = None
    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    for row in rows:
        if row["description"] != description or not {"signing", "authentication"} <= set(row["usages"]):
            continue
        expires = row["expires"] or far
        if (expires - now).total_seconds() < min_remaining:
            continue
        if best is None or expires > best[0]:
            best = (expires, row["token"])
    return best[1] if best else None
