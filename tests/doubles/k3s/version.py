"""Version helpers derived from buildinfo."""
import hashlib
import re

from common import hostarch, versions

from . import buildinfo

_TAG_RE = re.compile(r"^v(\d+)\.(\d+)\.(\d+)(-rc\d+)?\+k3s(\d+)$")


def parse_tag(tag):
    return versions.parse_tag(_TAG_RE, tag, "invalid k3s version tag %r")


def commit_for(tag):
    return hashlib.sha1(tag.encode()).hexdigest()[:8]


def go_version_for(tag):
    _, minor, _ = parse_tag(tag)
    return versions.go_version(minor)


VERSION = buildinfo.VERSION
MAJOR, MINOR, PATCH = parse_tag(VERSION)
COMMIT = buildinfo.COMMIT or commit_for(VERSION)
GO_VERSION = buildinfo.GO_VERSION or go_version_for(VERSION)
BAKED_ARCH = buildinfo.ARCH

host_arch = hostarch.host_arch


def arch():
    return BAKED_ARCH or host_arch()


def version_lines():
    return ["k3s version %s (%s)" % (VERSION, COMMIT), "go version %s" % GO_VERSION]
