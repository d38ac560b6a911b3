# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin behind kubeforge.cluster.release_files: fetch and verify release files on the controller.

The checks, digests and messages are in plugin_utils/release_files.py; this file does the I/O:
one lock a cache file (so that the hosts of a play, running in parallel forks, fetch each file
once), the published digest file, a streamed download hashed on the way, an atomic rename.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import typing as t
from contextlib import contextmanager
from urllib.error import HTTPError, URLError
from urllib.parse import unquote, urlsplit

from ansible.module_utils.urls import open_url
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.release_files import (
    FileSpec,
    ReleaseFileError,
    expected_digest,
    failure_message,
    make_stamp,
    normalise,
    read_stamp,
    stamp_fresh,
)

display = Display()

_CHUNK = 1 << 20


class ActionModule(ActionBase):
    """Fetch each declared release file once into the controller cache and verify it."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("files", "cache_dir", "timeout", "what", "source", "mismatch_hint", "deprecated"))
    _requires_connection = False

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        args = self._task.args
        cache_dir = os.path.abspath(os.path.expanduser(str(args.get("cache_dir") or "")))
        if not args.get("cache_dir"):
            return {**result, "failed": True,
                    "msg": "release_files needs cache_dir, the controller directory that keeps verified release files."}
        what = str(args.get("what") or "Release files")
        source = str(args.get("source") or "")
        try:
            timeout = int(args.get("timeout", 120))
            specs = normalise(args.get("files") or [])
        except (TypeError, ValueError) as exc:
            return {**result, "failed": True, "msg": f"{what}: {exc}"}
        for name in args.get("deprecated") or []:
            display.deprecated(f"{name} is replaced by the shared cluster_artifacts_cache_dir and "
                               "cluster_artifacts_download_timeout; it still works in this release.",
                               version="1.0.0", collection_name="kubeforge.cluster")

        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        paths: dict[str, str] = {}
        fetched: list[str] = []
        sha256: dict[str, str] = {}
        digests: dict[str, str] = {}
        for spec in specs:
            path = os.path.join(cache_dir, spec.dest)
            try:
                downloaded, sha256[spec.name] = self._ensure(spec, path, timeout, digests)
                if downloaded:
                    fetched.append(spec.name)
            except ReleaseFileError as exc:
                return {**result, "failed": True, "kind": exc.kind, "url": spec.url,
                        "msg": failure_message(spec, what, source, exc, str(args.get("mismatch_hint") or ""))}
            paths[spec.name] = path
        return {**result, "changed": bool(fetched), "paths": paths, "fetched": fetched, "sha256": sha256}

    def _ensure(self, spec: FileSpec, path: str, timeout: int, digests: dict[str, str]) -> tuple[bool, str]:
        """Make ``path`` a verified copy of ``spec``; whether it had to be downloaded, and its sha256."""
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with _locked(path + ".lock"):
            stamp_path = path + ".verified"
            current = _stat(path)
            stamp = read_stamp(_read(stamp_path))
            if current and stamp_fresh(spec, stamp, *current):
                return False, str(stamp["sha256"])
            want = expected_digest(spec, self._checksum_text(spec, timeout, digests))
            if current and _sha256_of(path) == want:
                self._finish(spec, path, want)
                return False, want
            self._download(spec, path, want, timeout)
            return True, want

    def _checksum_text(self, spec: FileSpec, timeout: int, seen: dict[str, str]) -> str | None:
        """The published digest file, read once a run of this task (K3s lists all its files in one)."""
        if spec.checksum:
            return None
        if spec.checksum_url not in seen:
            chunks: list[bytes] = []
            for chunk in _open(spec.checksum_url, timeout):
                chunks.append(chunk)
                if sum(len(c) for c in chunks) > _CHUNK:
                    raise ReleaseFileError(f"{spec.checksum_url} is larger than a digest file can be", "mismatch")
            seen[spec.checksum_url] = b"".join(chunks).decode("utf-8", "replace")
        return seen[spec.checksum_url]

    def _download(self, spec: FileSpec, path: str, want: str, timeout: int) -> None:
        part = f"{path}.part-{os.getpid()}"
        digest = hashlib.sha256()
        try:
            with open(part, "wb") as out:
                os.chmod(part, 0o600)
                for chunk in _open(spec.url, timeout):
                    digest.update(chunk)
                    out.write(chunk)
            got = digest.hexdigest()
            if got != want:
                raise ReleaseFileError(f"the downloaded file's sha256 is {got}, but {spec.digest_source} "
                                       f"gives {want}", "mismatch")
            os.replace(part, path)
        finally:
            if os.path.exists(part):
                os.unlink(part)
        self._finish(spec, path, want)

    @staticmethod
    def _finish(spec: FileSpec, path: str, digest: str) -> None:
        os.chmod(path, int(spec.mode, 8))
        info = os.stat(path)
        stamp = f"{path}.verified"
        with open(stamp + ".tmp", "w", encoding="utf-8") as out:
            out.write(make_stamp(spec, digest, info.st_size, info.st_mtime_ns))
        os.chmod(stamp + ".tmp", 0o600)
        os.replace(stamp + ".tmp", stamp)


@contextmanager
def _locked(path: str) -> t.Iterator[None]:
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _stat(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return info.st_size, info.st_mtime_ns


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def _sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _open(url: str, timeout: int) -> t.Iterator[bytes]:
    """Stream a URL's bytes; every failure to read it becomes an 'unreachable' error."""
    try:
        if url.startswith("file://"):
            with open(unquote(urlsplit(url).path), "rb") as handle:
                yield from iter(lambda: handle.read(_CHUNK), b"")
            return
        response = open_url(url, timeout=timeout, follow_redirects="all")
        try:
            yield from iter(lambda: response.read(_CHUNK), b"")
        finally:
            response.close()
    except HTTPError as exc:
        raise ReleaseFileError(f"{url} answered HTTP {exc.code} {exc.reason}", "unreachable") from exc
    except URLError as exc:
        raise ReleaseFileError(f"{url}: {exc.reason}", "unreachable") from exc
    except (OSError, ValueError) as exc:
        raise ReleaseFileError(f"{url}: {exc}", "unreachable") from exc
