"""Version helpers derived from buildinfo."""
import hashlib
import re

from . import buildinfo

_TAG_RE = re.compile(r"^v(\d+)\.(\d+)\.(\d+)(-rc\d+)?\+k3s(\d+)$")


def parse_tag(tag):
    m = _TAG_RE.match(tag)
    if not m:
        raise ValueError("invalid k3s version tag %r" % tag)
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def commit_for(tag):
    return hashlib.sha1(tag.encode()).hexdigest()[:8]


def go_version_for(tag):
    _, minor, _ = parse_tag(tag)
    if minor >= 35:
        return "go1.25.5"
    if minor >= 33:
        return "go1.24.9"
    if minor >= 31:
        return "go1.23.12"
    if minor >= 29:
        return "go1.22.12"
    return "go1.21.13"


VERSION = buildinfo.VERSION
MAJOR, MINOR, PATCH = parse_tag(VERSION)
COMMIT = buildinfo.COMMIT or commit_for(VERSION)
GO_VERSION = buildinfo.GO_VERSION or go_version_for(VERSION)
BAKED_ARCH = buildinfo.ARCH

_MACHINE_MAP = {
    "x86_64": "amd64", "amd64": "amd64",
    "aarch64": "arm64", "arm64": "arm64", "armv8b": "arm64",
    "armv7l": "arm", "armv8l": "arm", "armhf": "arm", "armv6l": "arm", "arm": "arm",
    "s390x": "s390x", "riscv64": "riscv64", "ppc64le": "ppc64le",
}


def host_arch():
    import platform
    m = platform.machine().lower()
    return _MACHINE_MAP.get(m, m)


def arch():
    return BAKED_ARCH or host_arch()


def version_lines():
    return ["k3s version %s (%s)" % (VERSION, COMMIT), "go version %s" % GO_VERSION]
