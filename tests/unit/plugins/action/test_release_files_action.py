# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release_files action plugin's I/O: fetch once, verify, keep nothing unverified, skip the network later."""
from __future__ import annotations

import hashlib
import http.server
import os
import threading
import typing as t
from pathlib import Path
from unittest import mock

import pytest

from ansible.playbook.task import Task

from ansible_collections.kubeforge.cluster.plugins.action.release_files import ActionModule

BODY = b"#!/bin/sh\necho k3s\n"
DIGEST = hashlib.sha256(BODY).hexdigest()


class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def log_message(self, *args: t.Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        type(self).requests.append(self.path)
        super().do_GET()


@pytest.fixture()
def served(tmp_path: Path) -> t.Iterator[tuple[str, Path, list[str]]]:
    """A release directory served over HTTP on loopback."""
    root = tmp_path / "release"
    root.mkdir()
    (root / "k3s").write_bytes(BODY)
    (root / "sha256sum-amd64.txt").write_text(f"{DIGEST}  k3s\n{'0' * 64}  k3s-airgap-images-amd64.tar.gz\n")
    handler = type("Handler", (_Handler,), {"requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: handler(*a, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root, handler.requests
    finally:
        server.shutdown()
        server.server_close()


def run(args: dict[str, t.Any]) -> dict[str, t.Any]:
    task = Task()
    task.args = args
    task.check_mode = False
    action = ActionModule(task, mock.MagicMock(), mock.MagicMock(), loader=None, templar=None,
                          shared_loader_obj=None)
    return action.run(task_vars={})


def k3s(base: str, **over: t.Any) -> dict[str, t.Any]:
    spec = {"name": "k3s", "url": f"{base}/k3s", "checksum_url": f"{base}/sha256sum-amd64.txt",
            "dest": "k3s/v1/k3s", "mode": "0700"}
    spec.update(over)
    return spec


def test_fetches_verifies_and_then_skips_the_network(served: tuple[str, Path, list[str]], tmp_path: Path) -> None:
    url, _, requests = served
    cache = tmp_path / "cache"
    first = run({"files": [k3s(url)], "cache_dir": str(cache), "what": "K3s"})
    path = cache / "k3s/v1/k3s"
    assert not first.get("failed"), first
    assert first["changed"] and first["fetched"] == ["k3s"] and first["paths"] == {"k3s": str(path)}
    assert path.read_bytes() == BODY and oct(path.stat().st_mode & 0o777) == "0o700"
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    before = len(requests)
    second = run({"files": [k3s(url)], "cache_dir": str(cache), "what": "K3s"})
    assert not second["changed"] and second["fetched"] == []
    assert len(requests) == before, "a verified cache file must not be fetched again"
    # The digest the install step compares with the node's copy, from the download and then from the stamp.
    assert first["sha256"] == second["sha256"] == {"k3s": hashlib.sha256(BODY).hexdigest()}


def test_a_changed_cache_file_is_checked_and_replaced(served: tuple[str, Path, list[str]], tmp_path: Path) -> None:
    url, _, requests = served
    cache = tmp_path / "cache"
    run({"files": [k3s(url)], "cache_dir": str(cache)})
    path = cache / "k3s/v1/k3s"
    path.write_bytes(b"tampered in the cache")
    again = run({"files": [k3s(url)], "cache_dir": str(cache)})
    assert again["changed"] and path.read_bytes() == BODY


def test_a_mismatch_keeps_nothing(served: tuple[str, Path, list[str]], tmp_path: Path) -> None:
    url, root, _ = served
    (root / "k3s").write_bytes(b"not the release\n")
    cache = tmp_path / "cache"
    result = run({"files": [k3s(url)], "cache_dir": str(cache), "what": "K3s v1 for amd64",
                  "source": "k3s_artifacts_source: mirror"})
    assert result["failed"] and result["kind"] == "mismatch" and result["url"] == f"{url}/k3s"
    assert "digest mismatch: the downloaded file's sha256 is" in result["msg"]
    assert f"but {url}/sha256sum-amd64.txt gives {DIGEST}" in result["msg"]
    assert not (cache / "k3s/v1/k3s").exists()
    assert not [p for p in (cache / "k3s/v1").iterdir() if ".part-" in p.name]


def test_a_missing_file_is_unreachable(served: tuple[str, Path, list[str]], tmp_path: Path) -> None:
    url, _, requests = served
    result = run({"files": [k3s(url, url=f"{url}/k3s-nope", checksum_name="k3s")], "cache_dir": str(tmp_path),
                  "source": "k3s_artifacts_source: mirror"})
    assert result["failed"] and result["kind"] == "unreachable"
    assert f"source unreachable: {url}/k3s-nope answered HTTP 404" in result["msg"]
    assert "or use another k3s_artifacts_source" in result["msg"]


def test_a_closed_port_is_unreachable(tmp_path: Path) -> None:
    result = run({"files": [k3s("http://127.0.0.1:9")], "cache_dir": str(tmp_path), "timeout": 5})
    assert result["failed"] and result["kind"] == "unreachable" and "Connection refused" in result["msg"]


def test_file_urls_and_pinned_digests(tmp_path: Path) -> None:
    source = tmp_path / "airgap"
    source.mkdir()
    (source / "tigera-operator.yaml").write_bytes(BODY)
    item = {"name": "calico-operator", "url": f"file://{source}/tigera-operator.yaml",
            "checksum": f"sha256:{DIGEST}", "dest": "calico/v3/x/tigera-operator.yaml"}
    result = run({"files": [item], "cache_dir": str(tmp_path / "cache")})
    assert not result.get("failed"), result
    assert Path(result["paths"]["calico-operator"]).read_bytes() == BODY
    wrong = dict(item, checksum="sha256:" + "0" * 64, dest="calico/v3/y/tigera-operator.yaml")
    failed = run({"files": [wrong], "cache_dir": str(tmp_path / "cache"), "mismatch_hint": "Pin it again."})
    assert failed["failed"] and "Pin it again." in failed["msg"]


def test_many_callers_fetch_once(served: tuple[str, Path, list[str]], tmp_path: Path) -> None:
    """Hosts of a play call in parallel forks: the lock makes one of them fetch."""
    url, _, requests = served
    cache = tmp_path / "cache"
    results: list[dict[str, t.Any]] = []
    threads = [threading.Thread(target=lambda: results.append(run({"files": [k3s(url)], "cache_dir": str(cache)})))
               for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6 and not any(r.get("failed") for r in results)
    assert sum(1 for r in results if r["fetched"]) == 1
    assert [p for p in requests if p.endswith("/k3s")] == ["/k3s"]


def test_bad_declarations_fail_with_the_item_named(tmp_path: Path) -> None:
    result = run({"files": [{"name": "k3s", "url": "https://x.test/k3s", "dest": "k3s"}], "cache_dir": str(tmp_path)})
    assert result["failed"] and "release file 'k3s': give exactly one of 'checksum'" in result["msg"]
    assert run({"files": []})["msg"].startswith("release_files needs cache_dir")
