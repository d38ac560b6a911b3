"""Release tags and the Go toolchain a Kubernetes minor is built with."""
from __future__ import annotations

import re

# (first Kubernetes minor, Go release it is built with), newest first
GO_RELEASES = ((35, "go1.25.5"), (33, "go1.24.9"), (31, "go1.23.12"), (29, "go1.22.12"), (0, "go1.21.13"))


def parse_tag(pattern: re.Pattern[str], tag: str | None, error: str) -> tuple[int, int, int]:
    """(major, minor, patch) of a tag that pattern matches (its first three groups);
    ValueError(error % tag) otherwise."""
    m = pattern.match(tag or "")
    if not m:
        raise ValueError(error % (tag,))
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def go_version(minor: int) -> str:
    """The Go release of a Kubernetes 1.<minor> build."""
    for first, go in GO_RELEASES:
        if minor >= first:
            return go
    return GO_RELEASES[-1][1]
