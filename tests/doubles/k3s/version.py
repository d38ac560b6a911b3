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


# (first Kubernetes minor, etcd release K3s embeds), newest first.  From the "Etcd" column of K3s's release
# notes (k3s-io/docs docs/release-notes/v1.3X.X.md): v1.33.6+k3s1 embeds v3.5.21-k3s1, v1.34.2+k3s1
# v3.6.5-k3s1, v1.35.1+k3s1 v3.6.7-k3s1.  The double keys on the minor only (real patches move within a
# line, e.g. v1.33.7+k3s1 has v3.5.25-k3s1); the 1.3x lines before 1.33 embed 3.5.x as well.
ETCD_RELEASES = ((35, "3.6.7"), (34, "3.6.5"), (0, "3.5.21"))


def etcd_version(minor=None):
    """The etcd server version (MAJOR.MINOR.PATCH) embedded in K3s 1.<minor>; this build's minor by default."""
    minor = MINOR if minor is None else minor
    for first, release in ETCD_RELEASES:
        if minor >= first:
            return release
    return ETCD_RELEASES[-1][1]


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
