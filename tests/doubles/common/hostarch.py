"""The host's architecture in Go's names, and the guard that refuses a program built for another one."""
from __future__ import annotations

import os
import platform
import sys

# platform.machine() -> GOARCH
MACHINE_MAP = {
    "x86_64": "amd64", "amd64": "amd64",
    "aarch64": "arm64", "arm64": "arm64", "armv8b": "arm64",
    "armv7l": "arm", "armv8l": "arm", "armhf": "arm", "armv6l": "arm", "arm": "arm",
    "s390x": "s390x", "riscv64": "riscv64", "ppc64le": "ppc64le",
}


def goarch(machine: str) -> str:
    """GOARCH of a ``uname -m`` machine name; an unknown name comes back lower-cased."""
    m = machine.lower()
    return MACHINE_MAP.get(m, m)


def host_arch() -> str:
    return goarch(platform.machine())


def arch_guard(argv0: str, baked: str | None) -> None:
    """Exit 126 with the shell's message, as a real binary of another architecture fails to start."""
    if baked and baked != host_arch():
        sys.stderr.write("%s: cannot execute binary file: Exec format error\n" % argv0)
        sys.stderr.flush()
        os._exit(126)
