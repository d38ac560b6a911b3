# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release-file pipeline's pure logic: what to fetch, how to verify it, when the cache is good.

Every release file the collection installs (K3s, kubeadm/kubelet/kubectl, containerd and runc,
Calico's operator manifest, and whatever comes next) is described as one item:

``name``
    the handle the roles use afterwards (``k3s``, ``kubeadm``, ...), unique on a host;
``url``
    where the file is published (``https://``, ``http://`` or ``file://``);
``dest``
    its place in the controller cache, relative to the cache directory;
``checksum``
    a pinned ``sha256:<hex>`` digest, **or** ``checksum_url`` with ``checksum_format``
    (``sha256sum``: lines of ``<hex>  <file>``, the entry read is ``checksum_name``, by default the
    URL's file name; ``digest``: a file holding the bare hex digest, as dl.k8s.io publishes);
``mode``
    the file mode in the cache.

No I/O here: the action plugin ``kubeforge.cluster.release_files`` does the fetching.
"""
from __future__ import annotations

import json
import posixpath
import re
import typing as t
from dataclasses import dataclass
from urllib.parse import urlsplit

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.k3s_release import K3sReleaseError, parse_sha256sums
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.kube_release import KubeReleaseError, kube_sha256

CHECKSUM_FORMATS = ("sha256sum", "digest")
SCHEMES = ("https", "http", "file")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_MODE = re.compile(r"^0?[0-7]{3,4}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ITEM_KEYS = {"name", "url", "dest", "checksum", "checksum_url", "checksum_format", "checksum_name", "mode"}


class ReleaseFileError(ValueError):
    """A release file cannot be used. ``kind`` is ``invalid``, ``unreachable`` or ``mismatch``."""

    def __init__(self, message: str, kind: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class FileSpec:
    """One release file, checked and normalised."""

    name: str
    url: str
    dest: str
    mode: str
    checksum: str = ""
    checksum_url: str = ""
    checksum_format: str = "sha256sum"
    checksum_name: str = ""

    @property
    def digest_source(self) -> str:
        """What the file is verified against, as the stamp and the messages name it."""
        return self.checksum_url or ("sha256:" + self.checksum)


def _text(item: dict[str, t.Any], key: str, where: str) -> str:
    value = item.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, (str, int)):
        raise ReleaseFileError(f"{where}: '{key}' must be a string, got {type(value).__name__}.")
    return str(value).strip()


def normalise(items: t.Any) -> list[FileSpec]:
    """Check the declared items and return them as ``FileSpec``, one per destination.

    The same destination declared twice with the same source is kept once; with another source it
    is an error, since two roles would then fight over one cache file.
    """
    if not isinstance(items, list):
        raise ReleaseFileError(f"files must be a list of release file items, got {type(items).__name__}.")
    specs: dict[str, FileSpec] = {}
    names: dict[str, str] = {}
    for index, item in enumerate(items):
        where = f"release file #{index + 1}"
        if not isinstance(item, dict):
            raise ReleaseFileError(f"{where} must be a dict with name, url, dest and a checksum, "
                                   f"got {type(item).__name__}.")
        unknown = sorted(set(item) - _ITEM_KEYS)
        if unknown:
            raise ReleaseFileError(f"{where}: unknown key(s) {', '.join(unknown)}; "
                                   f"known: {', '.join(sorted(_ITEM_KEYS))}.")
        spec = _spec(item, where)
        if names.get(spec.name, spec.dest) != spec.dest:
            raise ReleaseFileError(f"release file '{spec.name}' is declared twice with different destinations "
                                   f"({names[spec.name]} and {spec.dest}); names are unique on a host.")
        names[spec.name] = spec.dest
        seen = specs.get(spec.dest)
        if seen is not None and (seen.url, seen.digest_source) != (spec.url, spec.digest_source):
            raise ReleaseFileError(f"the cache file {spec.dest} is declared twice with different sources "
                                   f"({seen.url} and {spec.url}).")
        specs.setdefault(spec.dest, spec)
    return list(specs.values())


def _spec(item: dict[str, t.Any], where: str) -> FileSpec:
    name = _text(item, "name", where)
    if not _NAME.match(name):
        raise ReleaseFileError(f"{where}: 'name' must be a short identifier such as k3s or kubeadm, got {name!r}.")
    where = f"release file '{name}'"
    url = _text(item, "url", where)
    _check_url(url, f"{where}: url")
    dest = _text(item, "dest", where)
    norm = posixpath.normpath(dest) if dest else ""
    if not dest or dest.startswith("/") or norm.startswith("..") or norm == ".":
        raise ReleaseFileError(f"{where}: 'dest' must be a path inside the cache directory, such as "
                               f"k3s/v1.35.1+k3s1/k3s, got {dest!r}.")
    mode = _text(item, "mode", where) or "0644"
    if not _MODE.match(mode):
        raise ReleaseFileError(f"{where}: 'mode' must be an octal string such as '0644', got {mode!r}.")
    checksum = _text(item, "checksum", where).lower()
    checksum_url = _text(item, "checksum_url", where)
    if bool(checksum) == bool(checksum_url):
        raise ReleaseFileError(f"{where}: give exactly one of 'checksum' (a pinned sha256:<hex>) and "
                               "'checksum_url' (the digest file published beside it).")
    if checksum:
        checksum = checksum[len("sha256:"):] if checksum.startswith("sha256:") else checksum
        if not _HEX64.match(checksum):
            raise ReleaseFileError(f"{where}: 'checksum' must be sha256: followed by 64 hex digits, "
                                   f"got {item.get('checksum')!r}.")
    else:
        _check_url(checksum_url, f"{where}: checksum_url")
    checksum_format = _text(item, "checksum_format", where) or "sha256sum"
    if checksum_format not in CHECKSUM_FORMATS:
        raise ReleaseFileError(f"{where}: 'checksum_format' must be one of {', '.join(CHECKSUM_FORMATS)}, "
                               f"got {checksum_format!r}.")
    checksum_name = _text(item, "checksum_name", where) or posixpath.basename(urlsplit(url).path)
    return FileSpec(name=name, url=url, dest=norm, mode=mode.zfill(4), checksum=checksum,
                    checksum_url=checksum_url, checksum_format=checksum_format, checksum_name=checksum_name)


def _check_url(url: str, where: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not (parts.netloc or parts.scheme == "file") or not parts.path.strip("/"):
        raise ReleaseFileError(f"{where} must be an https://, http:// or file:// URL of a file, got {url!r}.")


def expected_digest(spec: FileSpec, checksum_text: str | None) -> str:
    """The SHA-256 the file must have: the pinned one, or the one the published digest file gives."""
    if spec.checksum:
        return spec.checksum
    try:
        if spec.checksum_format == "digest":
            return kube_sha256(checksum_text or "")
        return parse_sha256sums(checksum_text or "", spec.checksum_name)
    except (K3sReleaseError, KubeReleaseError) as exc:
        raise ReleaseFileError(f"{spec.checksum_url}: {str(exc).rstrip('.')}.", "mismatch") from exc


def make_stamp(spec: FileSpec, digest: str, size: int, mtime_ns: int) -> str:
    """The record kept beside a verified cache file, so that later runs skip the network."""
    return json.dumps({"url": spec.url, "verified_against": spec.digest_source, "sha256": digest,
                       "size": size, "mtime_ns": mtime_ns}, sort_keys=True)


def read_stamp(text: str | None) -> dict[str, t.Any]:
    """Parse a stamp; anything unreadable counts as no stamp."""
    try:
        data = json.loads(text or "")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def stamp_fresh(spec: FileSpec, stamp: dict[str, t.Any], size: int, mtime_ns: int) -> bool:
    """Whether the cache file is the one verified earlier against this very source.

    Same URL, same digest source (and, for a pinned digest, the same digest), and the file not
    touched since (size and modification time as recorded).
    """
    if not stamp or stamp.get("url") != spec.url or stamp.get("verified_against") != spec.digest_source:
        return False
    if not re.fullmatch(r"[0-9a-f]{64}", str(stamp.get("sha256"))):
        return False
    if spec.checksum and stamp.get("sha256") != spec.checksum:
        return False
    return stamp.get("size") == size and stamp.get("mtime_ns") == mtime_ns


def failure_message(spec: FileSpec, what: str, source: str, error: ReleaseFileError,
                    mismatch_hint: str = "") -> str:
    """The message a user acts on: what, from where, which of the two failures, and what to do."""
    head = f"{what}: {spec.name} could not be fetched and verified from {spec.url}"
    if source:
        head += f" ({source})"
    detail = str(error).rstrip(".")
    if error.kind == "mismatch":
        hint = mismatch_hint or ("The file does not match its published digest: it may have been tampered with, "
                                 "or the source is stale.")
        return (f"{head}: digest mismatch: {detail}. {hint} The unverified download was not kept. "
                "No host has been changed.")
    setting = source.split(":")[0].strip() if source else "the release source"
    return (f"{head}: source unreachable: {detail}. Check that the source is reachable and holds this release, "
            f"or use another {setting}. No host has been changed.")
