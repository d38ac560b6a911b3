# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure facts about K3s releases: asset names, checksum files and version tags.

Nothing in here performs I/O, so every function can be unit-tested directly and
reused from lookups and filters alike.
"""

from __future__ import annotations

import difflib
import re
import typing as t

PINNED_VERSION_RE = re.compile(r'^v(\d+)\.(\d+)\.(\d+)(?:-rc(\d+))?\+k3s(\d+)$')
MINOR_CHANNEL_RE = re.compile(r'^v(\d+)\.(\d+)$')
NAMED_CHANNELS = ('stable', 'latest', 'testing')

_SHA256_LINE_RE = re.compile(r'^([0-9A-Fa-f]{64}) [ *](.+)$')

_AMD64 = {
    'arch': 'amd64',
    'binary': 'k3s',
    'checksums': 'sha256sum-amd64.txt',
    'images': 'k3s-airgap-images-amd64.tar.gz',
}
_ARM64 = {
    'arch': 'arm64',
    'binary': 'k3s-arm64',
    'checksums': 'sha256sum-arm64.txt',
    'images': 'k3s-airgap-images-arm64.tar.gz',
}
# Upstream calls the 32-bit hard-float ARM build "arm" in the checksum and image
# names but "armhf" in the binary name.
_ARM = {
    'arch': 'arm',
    'binary': 'k3s-armhf',
    'checksums': 'sha256sum-arm.txt',
    'images': 'k3s-airgap-images-arm.tar.gz',
}

ARCH_ASSETS: dict[str, dict[str, str]] = {
    'x86_64': _AMD64,
    'amd64': _AMD64,
    'aarch64': _ARM64,
    'arm64': _ARM64,
    'armv7l': _ARM,
    'armv8l': _ARM,
    'armhf': _ARM,
    # The upstream architecture key itself, as used in sha256sum-arm.txt.
    'arm': _ARM,
}

_ARMV6 = ('armv6l', 'armv6', 'armel')

PINNED_EXAMPLE = 'v1.33.5+k3s1'


class K3sReleaseError(ValueError):
    """Raised when a K3s release fact cannot be derived from the given input."""


class K3sVersion(t.NamedTuple):
    """A parsed K3s release tag such as ``v1.33.5-rc1+k3s2``."""

    major: int
    minor: int
    patch: int
    rc: int | None
    build: int


def k3s_asset(arch: str) -> dict[str, str]:
    """Map an ``ansible_architecture`` value to the K3s release asset names."""
    if not isinstance(arch, str) or not arch.strip():
        raise K3sReleaseError(
            'Cannot pick a K3s build for an empty architecture; pass ansible_architecture '
            '(for example x86_64 or aarch64). Supported: %s.' % ', '.join(ARCH_ASSETS)
        )
    key = arch.strip().lower()
    if key in _ARMV6:
        raise K3sReleaseError(
            "K3s ships no ARMv6 build, so architecture '%s' is not supported "
            '(Raspberry Pi Zero/1 are not supported; use ARMv7 or newer hardware).' % arch
        )
    try:
        return dict(ARCH_ASSETS[key])
    except KeyError:
        raise K3sReleaseError(
            "K3s publishes no build for architecture '%s'. Supported architectures: %s."
            % (arch, ', '.join(ARCH_ASSETS))
        ) from None


def parse_sha256sums(text: str, asset: str) -> str:
    """Return the lowercase SHA-256 of ``asset`` from ``sha256sum``-format text.

    Each non-blank line must read ``<64 hex><space><space or *><name>``.
    """
    if not isinstance(text, str):
        raise K3sReleaseError('The checksum file content must be a string, got %s.' % type(text).__name__)
    if not isinstance(asset, str) or not asset:
        raise K3sReleaseError('The asset name to look up in the checksum file must be a non-empty string.')

    found: str | None = None
    names: list[str] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip('\r')
        if not line.strip():
            continue
        match = _SHA256_LINE_RE.match(line)
        if not match:
            shown = line if len(line) <= 80 else line[:77] + '...'
            raise K3sReleaseError(
                "Malformed line %d in the checksum file: '%s'. Expected '<64 hex digits>  <file name>' "
                '(sha256sum format); the download may have returned an error page instead.' % (lineno, shown)
            )
        digest, name = match.group(1).lower(), match.group(2)
        names.append(name)
        if name != asset:
            continue
        if found is not None and found != digest:
            raise K3sReleaseError(
                "The checksum file lists '%s' more than once with different digests (%s and %s); "
                'refusing to guess which one is right.' % (asset, found, digest)
            )
        found = digest

    if found is None:
        if names:
            listed = ', '.join(sorted(set(names)))
            raise K3sReleaseError(
                "The checksum file has no entry for '%s'; it lists: %s. Check that the checksum file "
                'matches the architecture of the asset.' % (asset, listed)
            )
        raise K3sReleaseError("The checksum file is empty, so it has no entry for '%s'." % asset)
    return found


def _version_hint(value: str) -> str:
    """Suggest a fix for near-miss version strings."""
    if re.match(r'^\d+\.\d+\.\d+(-rc\d+)?\+k3s\d+$', value):
        return " Did you mean 'v%s'?" % value
    if re.match(r'^v?\d+\.\d+\.\d+(-rc\d+)?$', value):
        core = value if value.startswith('v') else 'v' + value
        return " K3s tags carry a '+k3sN' suffix; did you mean '%s+k3s1'?" % core
    if re.match(r'^\d+\.\d+$', value):
        return " Did you mean the channel 'v%s'?" % value
    lowered = value.lower()
    if lowered != value and (lowered in NAMED_CHANNELS or MINOR_CHANNEL_RE.match(lowered)
                             or PINNED_VERSION_RE.match(lowered)):
        return " Versions and channels are lower case; did you mean '%s'?" % lowered
    close = difflib.get_close_matches(lowered, NAMED_CHANNELS, n=1, cutoff=0.6)
    if close:
        return " Did you mean the channel '%s'?" % close[0]
    return ''


def classify_k3s_version(value: str) -> dict[str, str]:
    """Tell whether ``value`` is a pinned K3s release tag or a release channel."""
    if not isinstance(value, str):
        raise K3sReleaseError(
            'A K3s version must be a string, got %s (%r). Quote it in YAML.' % (type(value).__name__, value)
        )
    candidate = value.strip()
    if PINNED_VERSION_RE.match(candidate):
        return {'kind': 'pinned', 'value': candidate}
    if candidate in NAMED_CHANNELS or MINOR_CHANNEL_RE.match(candidate):
        return {'kind': 'channel', 'value': candidate}
    raise K3sReleaseError(
        "'%s' is neither a pinned K3s version nor a K3s release channel. Use either a pinned release tag "
        "such as %s or v1.34.1-rc1+k3s1, or a channel: 'stable', 'latest', 'testing', or a minor line "
        "such as 'v1.33'.%s" % (value, PINNED_EXAMPLE, _version_hint(candidate))
    )


def parse_k3s_version(tag: str) -> K3sVersion:
    """Split a pinned K3s tag into ``(major, minor, patch, rc or None, build)``."""
    if not isinstance(tag, str):
        raise K3sReleaseError('A K3s version must be a string, got %s.' % type(tag).__name__)
    match = PINNED_VERSION_RE.match(tag.strip())
    if not match:
        raise K3sReleaseError(
            "'%s' is not a pinned K3s version; expected a tag such as %s.%s"
            % (tag, PINNED_EXAMPLE, _version_hint(tag.strip()))
        )
    major, minor, patch, rc, build = match.groups()
    return K3sVersion(int(major), int(minor), int(patch), int(rc) if rc is not None else None, int(build))


def k3s_version_key(tag: str) -> tuple[int, int, int, int, int, int]:
    """Return a totally ordered sort key: release candidates sort before the final release."""
    version = parse_k3s_version(tag)
    if version.rc is None:
        return (version.major, version.minor, version.patch, 1, 0, version.build)
    return (version.major, version.minor, version.patch, 0, version.rc, version.build)


def kube_minor(tag: str) -> str:
    """Return the Kubernetes minor line of a pinned tag in channel form, e.g. ``v1.33``."""
    version = parse_k3s_version(tag)
    return 'v%d.%d' % (version.major, version.minor)
