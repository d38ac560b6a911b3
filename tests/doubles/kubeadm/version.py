"""Version helpers for the kubeadm/kubelet doubles (derived from buildinfo)."""
import hashlib
import json
import re

from common import hostarch, versions

from . import buildinfo

_TAG_RE = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")


def parse_tag(tag):
    return versions.parse_tag(_TAG_RE, tag, "invalid Kubernetes version tag %r (want vMAJOR.MINOR.PATCH)")


def commit_for(tag):
    return hashlib.sha1(("kubernetes " + tag).encode()).hexdigest()


def go_version_for(tag):
    _, minor, _ = parse_tag(tag)
    return versions.go_version(max(minor, 31))  # the oldest toolchain of these doubles: go1.23.12


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

host_arch = hostarch.host_arch


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
