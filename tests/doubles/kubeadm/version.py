"""Version helpers for the kubeadm/kubelet doubles (derived from buildinfo)."""
import hashlib
import json
import platform
import re

from . import buildinfo

_TAG_RE = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")


def parse_tag(tag):
    m = _TAG_RE.match(tag or "")
    if not m:
        raise ValueError("invalid Kubernetes version tag %r (want vMAJOR.MINOR.PATCH)" % tag)
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def commit_for(tag):
    return hashlib.sha1(("kubernetes " + tag).encode()).hexdigest()


def go_version_for(tag):
    _, minor, _ = parse_tag(tag)
    if minor >= 35:
        return "go1.25.5"
    if minor >= 33:
        return "go1.24.9"
    return "go1.23.12"


def build_date_for(tag):
    _, minor, patch = parse_tag(tag)
    return "2026-01-%02dT12:00:00Z" % (1 + (minor + patch) % 28)


VERSION = buildinfo.VERSION
MAJOR, MINOR, PATCH = parse_tag(VERSION)
GIT_COMMIT = buildinfo.GIT_COMMIT or commit_for(VERSION)
GO_VERSION = buildinfo.GO_VERSION or go_version_for(VERSION)
BUILD_DATE = build_date_for(VERSION)
BAKED_ARCH = buildinfo.ARCH
PROGRAM = buildinfo.PROGRAM

_MACHINE_MAP = {
    "x86_64": "amd64", "amd64": "amd64",
    "aarch64": "arm64", "arm64": "arm64", "armv8b": "arm64",
    "armv7l": "arm", "armv8l": "arm", "armhf": "arm", "armv6l": "arm", "arm": "arm",
    "s390x": "s390x", "riscv64": "riscv64", "ppc64le": "ppc64le",
}


def host_arch():
    m = platform.machine().lower()
    return _MACHINE_MAP.get(m, m)


def arch():
    return BAKED_ARCH or host_arch()


def info():
    """version.Info fields in Go declaration order."""
    return [("Major", str(MAJOR)), ("Minor", str(MINOR)), ("EmulationMajor", ""), ("EmulationMinor", ""),
            ("MinCompatibilityMajor", ""), ("MinCompatibilityMinor", ""), ("GitVersion", VERSION),
            ("GitCommit", GIT_COMMIT), ("GitTreeState", "clean"), ("BuildDate", BUILD_DATE),
            ("GoVersion", GO_VERSION), ("Compiler", "gc"), ("Platform", "linux/" + arch())]


def info_go():
    """``%#v`` of a *version.Info."""
    return "&version.Info{%s}" % ", ".join('%s:%s' % (k, json.dumps(v)) for k, v in info())


def info_json():
    """version.Info as JSON (omitempty fields dropped, json tags lowerCamel)."""
    out = {}
    for k, v in info():
        if v == "" and k.startswith(("Emulation", "MinCompatibility")):
            continue
        out[k[0].lower() + k[1:]] = v
    return out


def server_version_info():
    """/version of the API server double."""
    d = info_json()
    d["emulationMajor"], d["emulationMinor"] = str(MAJOR), str(MINOR)
    d["minCompatibilityMajor"], d["minCompatibilityMinor"] = str(MAJOR), str(MINOR - 1)
    return d
