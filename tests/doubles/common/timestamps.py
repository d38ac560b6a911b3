"""RFC 3339 timestamps in UTC with second precision, as Kubernetes objects carry them."""
from __future__ import annotations

import calendar
import time

RFC3339 = "%Y-%m-%dT%H:%M:%SZ"


def format_rfc3339(ts: float | None = None) -> str:
    """ts (seconds since the epoch; now when None) as 2006-01-02T15:04:05Z."""
    return time.strftime(RFC3339, time.gmtime(ts))


def parse_rfc3339(text: object) -> int | None:
    """Seconds since the epoch of a 2006-01-02T15:04:05Z timestamp; None for anything else."""
    try:
        return calendar.timegm(time.strptime(text, RFC3339))  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return None
