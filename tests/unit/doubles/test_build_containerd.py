"""build.py --debian-containerd: Debian's containerd and runc in the upstream release layout.

Small stand-in .debs built with dpkg-deb are put in the .deb cache first, so
nothing is downloaded and no real binary is needed."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from k3s_double_helpers import DOUBLES

import build  # noqa: E402  (tests/doubles is on sys.path via k3s_double_helpers)

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")

CONTAINERD = ["containerd", "containerd-shim", "containerd-shim-runc-v1", "containerd-shim-runc-v2", "ctr"]


def make_deb(tmp_path, cache, package, version, files):
    root = tmp_path / ("root-" + package)
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: kubeforge <dev@kubeforge.invalid>\n"
        "Description: stand-in for the test\n" % (package, version))
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        p.chmod(0o755)
    cache.mkdir(parents=True, exist_ok=True)
    deb = cache / ("%s_%s_amd64.deb" % (package, version))
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)], check=True,
                   stdout=subprocess.DEVNULL)
    return deb


@pytest.fixture
def published(tmp_path):
    out = tmp_path / "out"
    cache = out / ".debs"
    files = {"usr/bin/%s" % n: ("#!/bin/sh\necho %s\n" % n).encode() for n in CONTAINERD}
    files["usr/bin/containerd-stress"] = b"x"
    make_deb(tmp_path, cache, "containerd", "1.6.20~ds1-1+deb12u3", files)
    make_deb(tmp_path, cache, "runc", "1.1.5+ds1-1+deb12u1", {"usr/sbin/runc": b"#!/bin/sh\necho runc\n"})
    r = subprocess.run([sys.executable, os.path.join(DOUBLES, "build.py"), "--out", str(out), "--versions",
                        "v1.35.1+k3s1", "--kube-versions", "", "--debian-containerd"],
                       check=True, capture_output=True, text=True)
    return out, r.stdout


@pytest.mark.parametrize("debian, upstream", [("1.6.20~ds1-1+deb12u3", "1.6.20"), ("1.1.5+ds1-1+deb12u1", "1.1.5"),
                                              ("2:1.7.24~ds1-5", "1.7.24")])
def test_upstream_version(debian, upstream):
    assert build.upstream_version(debian) == upstream


def test_upstream_version_rejects_other_shapes():
    with pytest.raises(ValueError):
        build.upstream_version("git20240101")


def test_containerd_archive_is_laid_out_like_upstream(published):
    out, stdout = published
    d = out / "github.com" / "containerd" / "containerd" / "releases" / "download" / "v1.6.20"
    archive = d / "containerd-1.6.20-linux-amd64.tar.gz"
    with tarfile.open(archive) as tf:
        members = {m.name: m for m in tf.getmembers()}
    assert sorted(members) == ["bin"] + sorted("bin/" + n for n in CONTAINERD + ["containerd-stress"])
    assert all(m.uid == 0 and m.mode == 0o755 for m in members.values())
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert (d / (archive.name + ".sha256sum")).read_text() == "%s  %s\n" % (digest, archive.name)
    assert "real containerd 1.6.20/amd64 (Debian 1.6.20~ds1-1+deb12u3)" in stdout


def test_runc_is_laid_out_like_upstream(published):
    out, _ = published
    d = out / "github.com" / "opencontainers" / "runc" / "releases" / "download" / "v1.1.5"
    data = (d / "runc.amd64").read_bytes()
    assert data == b"#!/bin/sh\necho runc\n"
    assert os.stat(d / "runc.amd64").st_mode & 0o777 == 0o755
    assert (d / "runc.sha256sum").read_text() == "%s  runc.amd64\n" % hashlib.sha256(data).hexdigest()


def test_rebuild_keeps_the_same_bytes(published, tmp_path):
    out, _ = published
    archive = out / "github.com" / "containerd" / "containerd" / "releases" / "download" / "v1.6.20" / \
        "containerd-1.6.20-linux-amd64.tar.gz"
    before = archive.read_bytes()
    archive.unlink()
    build.publish_debian_containerd(str(out))
    assert archive.read_bytes() == before


def test_published_versions_are_recorded_for_the_scenarios(published):
    out, _ = published
    recorded = json.loads((out / build.DEBIAN_CONTAINERD_VERSIONS).read_text())
    assert recorded == {"containerd": "1.6.20", "runc": "1.1.5"}
