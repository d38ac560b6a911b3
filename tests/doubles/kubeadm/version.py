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


def info(tag=None):
    """version.Info fields in Go declaration order: of this binary, or of the release ``tag`` (the image a
    static Pod runs)."""
    if tag is None or tag == VERSION:
        ma, mi, ver, commit, built, go = MAJOR, MINOR, VERSION, GIT_COMMIT, BUILD_DATE, GO_VERSION
    else:
        ma, mi, _ = parse_tag(tag)
        ver, commit, built, go = tag, commit_for(tag), build_date_for(tag), go_version_for(tag)
    return [("Major", str(ma)), ("Minor", str(mi)), ("EmulationMajor", ""), ("EmulationMinor", ""),
            ("MinCompatibilityMajor", ""), ("MinCompatibilityMinor", ""), ("GitVersion", ver),
            ("GitCommit", commit), ("GitTreeState", "clean"), ("BuildDate", built),
            ("GoVersion", go), ("Compiler", "gc"), ("Platform", "linux/" + arch())]


def info_go():
    """``%#v`` of a *version.Info."""
    return "&version.Info{%s}" % ", ".join('%s:%s' % (k, json.dumps(v)) for k, v in info())


def info_json(tag=None):
    """version.Info as JSON (omitempty fields dropped, json tags lowerCamel)."""
    out = {}
    for k, v in info(tag):
        if v == "" and k.startswith(("Emulation", "MinCompatibility")):
            continue
        out[k[0].lower() + k[1:]] = v
    return out


def server_version_info(tag=None):
    """/version of the API server double: of the kube-apiserver release ``tag`` (the image tag of its static Pod
    manifest), or of this binary when there is none."""
    d = info_json(tag)
    ma, mi = int(d["major"]), int(d["minor"])
    d["emulationMajor"], d["emulationMinor"] = str(ma), str(mi)
    d["minCompatibilityMajor"], d["minCompatibilityMinor"] = str(ma), str(mi - 1)
    return d
