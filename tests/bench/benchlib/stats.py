# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one playbook run did, read from the benchmark callback's events and the mirror's access log.

Pure functions over lines of text; bench.py does the I/O.
"""

from __future__ import annotations

import json
import re
import statistics
from urllib.parse import unquote
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

# The one task that copies verified release files to the nodes (roles/cluster/tasks/install_files.yml).
COPY_TASK = ("cluster", "Copy the verified release files to the node")

# Requests to the release source that fetch a digest list, a version marker or a channel,
# not a release file.
_META = re.compile(r"(\.sha256$|/sha256sum[^/]*\.txt$|/stable(-[0-9.]+)?\.txt$|^/v1-release/)")
# mirror.py logs BaseHTTPRequestHandler lines: '<client> - "GET /path HTTP/1.1" 200 -'.
_ACCESS = re.compile(r'"(GET|HEAD) (\S+) HTTP/[0-9.]+" (\d{3})')

PLAYBOOK_ROLE = "(playbook)"


@dataclass
class RunStats:
    """One ansible-playbook run, as the callback saw it."""

    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    hosts: int = 0
    # Tasks that ran (not skipped) per host.
    tasks_per_host: Dict[str, int] = field(default_factory=dict)
    # Wall seconds per role: each task's span runs from its start to the next task's or play's start (the
    # last one's to the recap); the time from a play's start to its first task counts as "(playbook)".
    role_seconds: Dict[str, float] = field(default_factory=dict)
    copies: int = 0
    complete: bool = False

    @property
    def max_tasks_per_host(self) -> int:
        return max(self.tasks_per_host.values(), default=0)


def read_events(lines: Iterable[str]) -> RunStats:
    """Fold the callback's JSON lines into a RunStats."""
    stats = RunStats()
    tasks: Dict[str, Tuple[Optional[str], str]] = {}
    spans: List[Tuple[float, Optional[str]]] = []
    end: Optional[float] = None
    for line in lines:
        line = line.strip()
        if not line:
            continue
        ev = json.loads(line)
        kind = ev.get("ev")
        if kind == "task":
            tasks[ev["uuid"]] = (ev.get("role"), ev.get("name", ""))
            spans.append((ev["t"], ev.get("role")))
        elif kind == "play":
            # A play's start ends the last task of the play before it.
            spans.append((ev["t"], None))
        elif kind == "result":
            if ev["status"] != "skipped":
                stats.tasks_per_host[ev["host"]] = stats.tasks_per_host.get(ev["host"], 0) + 1
        elif kind == "item":
            if ev["status"] == "changed" and tasks.get(ev["uuid"]) == COPY_TASK:
                stats.copies += 1
        elif kind == "stats":
            end = ev["t"]
            stats.complete = True
            for counters in ev["hosts"].values():
                stats.changed += counters.get("changed", 0)
                stats.failed += counters.get("failures", 0)
                stats.unreachable += counters.get("unreachable", 0)
            stats.hosts = len(ev["hosts"])
    for i, (start, role) in enumerate(spans):
        stop = spans[i + 1][0] if i + 1 < len(spans) else end
        if stop is None:
            continue
        name = role or PLAYBOOK_ROLE
        stats.role_seconds[name] = stats.role_seconds.get(name, 0.0) + (stop - start)
    return stats


@dataclass
class Requests:
    """What the controller asked of the release source."""

    downloads: int = 0
    distinct_files: int = 0
    metadata: int = 0
    errors: int = 0


def read_access_log(lines: Iterable[str]) -> Requests:
    """Count release-file downloads (and digest or channel requests) in mirror.py's access log."""
    req = Requests()
    files = set()
    for line in lines:
        m = _ACCESS.search(line)
        if not m:
            continue
        # One file however its name is spelled (a release's "+" arrives as %2B or as is).
        path, status = unquote(m.group(2).split("?", 1)[0]), int(m.group(3))
        if status >= 400:
            req.errors += 1
        elif m.group(1) == "HEAD" or _META.search(path):
            req.metadata += 1
        else:
            req.downloads += 1
            files.add(path)
    req.distinct_files = len(files)
    return req


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float
    runs: int

    def fmt(self, unit: str = "s", digits: int = 1) -> str:
        if self.runs == 1 or self.low == self.high:
            return f"{self.median:.{digits}f}{unit}"
        return f"{self.median:.{digits}f}{unit} ({self.low:.{digits}f}–{self.high:.{digits}f})"


def spread(values: Sequence[float]) -> Optional[Spread]:
    """Median, min and max of the runs (None for no runs)."""
    if not values:
        return None
    return Spread(statistics.median(values), min(values), max(values), len(values))


def ratio(num: Optional[Spread], den: Optional[Spread]) -> Optional[float]:
    """The ratio of two medians, or None when either is missing or the denominator is zero."""
    if num is None or den is None or den.median == 0:
        return None
    return num.median / den.median
