# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The image_archive lookup reads an archive's index on the controller, and says why it cannot."""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from ansible_collections.kubeforge.cluster.plugins.lookup.image_archive import LookupModule, describe


def _tar(path: Path, members: dict[str, bytes], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


INDEX = json.dumps({"manifests": [{"annotations": {"io.containerd.image.name": "registry.k8s.io/pause:3.10.1"}}]}).encode()


@pytest.mark.parametrize("mode,suffix", [("w", ".tar"), ("w:gz", ".tar.gz")])
def test_an_oci_layout_is_read_plain_or_compressed(tmp_path: Path, mode: str, suffix: str) -> None:
    path = _tar(tmp_path / ("images" + suffix), {"oci-layout": b"{}", "blobs/sha256/" + "0" * 64: b"x" * 4096,
                                                 "./index.json": INDEX}, mode)
    assert describe(str(path)) == {"path": str(path), "names": ["registry.k8s.io/pause:3.10.1"], "error": ""}


def test_the_lookup_describes_each_term(tmp_path: Path) -> None:
    good = _tar(tmp_path / "a.tar", {"manifest.json": json.dumps([{"RepoTags": ["busybox:1"]}]).encode()})
    out = LookupModule().run([str(good), str(tmp_path / "absent.tar")], variables={})
    assert out[0]["names"] == ["docker.io/library/busybox:1"]
    assert out[1]["names"] == [] and "does not exist on the controller" in out[1]["error"]


def test_a_file_that_is_not_a_tar_says_so(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    result = describe(str(path))
    assert result["names"] == [] and "cannot be read as a tar archive" in result["error"]


def test_a_tar_without_an_index_says_it_is_no_image_archive(tmp_path: Path) -> None:
    path = _tar(tmp_path / "x.tar", {"readme": b"hi"})
    assert "not an image archive ctr can import" in describe(str(path))["error"]


def test_a_broken_index_is_named(tmp_path: Path) -> None:
    path = _tar(tmp_path / "x.tar", {"index.json": b"{nope"})
    assert "index.json is not valid JSON" in describe(str(path))["error"]
