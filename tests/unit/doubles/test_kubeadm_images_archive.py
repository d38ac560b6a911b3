"""tests/testbed/kubeadm_images.py: the OCI image layout archive of kubeadm's images for airgap test beds, and
its copies in the release tree of build.py."""
import gzip
import hashlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import tarfile

import pytest

from k3s_double_helpers import REPO
from kubeadm_double_helpers import KUBE, Node

from kubeadm import images, preflight  # noqa: E402  (tests/doubles is on sys.path via k3s_double_helpers)

BUILDER = os.path.join(REPO, "tests", "testbed", "kubeadm_images.py")
SPEC = importlib.util.spec_from_file_location("kubeadm_images", BUILDER)
kubeadm_images = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(kubeadm_images)

MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def members(data):
    """name -> (TarInfo, bytes or None) of a tar, in archive order."""
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        for ti in tf.getmembers():
            out[ti.name] = (ti, tf.extractfile(ti).read() if ti.isfile() else None)
    return out


def layout(data):
    """(index, blobs by digest) of an archive, checking every blob's name is its sha256."""
    m = members(data)
    blobs = {}
    for name, (ti, content) in m.items():
        if name.startswith("blobs/sha256/") and ti.isfile():
            assert name == "blobs/sha256/" + hashlib.sha256(content).hexdigest(), name
            blobs["sha256:" + name.rsplit("/", 1)[1]] = content
    return json.loads(m["index.json"][1]), blobs


@pytest.mark.parametrize("arch", ["amd64", "arm64", "arm"])
def test_archive_is_a_valid_oci_layout_of_the_doubles_images(arch):
    data = kubeadm_images.render_archive(KUBE, arch)
    m = members(data)
    names = list(m)
    assert names == sorted(names)
    assert names[:2] == ["blobs", "blobs/sha256"] and names[-2:] == ["index.json", "oci-layout"]
    for ti, _ in m.values():
        assert (ti.mtime, ti.uid, ti.gid) == (0, 0, 0)
        assert ti.mode == (0o755 if ti.isdir() else 0o644) and (ti.isdir() or ti.isfile())
    assert json.loads(m["oci-layout"][1]) == {"imageLayoutVersion": "1.0.0"}
    index, blobs = layout(data)
    assert index["schemaVersion"] == 2 and index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    want = images.control_plane_images({"kubernetesVersion": KUBE, "etcd": {"local": {}}})
    assert [e["annotations"]["io.containerd.image.name"] for e in index["manifests"]] == want
    platform = {"architecture": arch, "os": "linux"}
    if arch == "arm":
        platform["variant"] = "v7"
    used = set()
    for entry, ref in zip(index["manifests"], want):
        assert entry["annotations"]["org.opencontainers.image.ref.name"] == ref.rsplit(":", 1)[1]
        assert entry["platform"] == platform
        assert entry["mediaType"] == MANIFEST
        manifest = blobs[entry["digest"]]
        assert len(manifest) == entry["size"]
        doc = json.loads(manifest)
        assert doc["schemaVersion"] == 2 and doc["mediaType"] == MANIFEST
        cfg_desc, (layer_desc,) = doc["config"], doc["layers"]
        assert cfg_desc["mediaType"] == "application/vnd.oci.image.config.v1+json"
        assert layer_desc["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
        config, layer = blobs[cfg_desc["digest"]], blobs[layer_desc["digest"]]
        assert (len(config), len(layer)) == (cfg_desc["size"], layer_desc["size"])
        cfg = json.loads(config)
        assert {k: cfg[k] for k in platform} == platform
        # diff_ids: the digest of the uncompressed layer
        raw = gzip.decompress(layer)
        assert cfg["rootfs"] == {"type": "layers", "diff_ids": [sha(raw)]}
        (name, (ti, text)), = members(raw).items()
        assert name == "kubeforge-image.txt" and ti.isfile() and text.decode().startswith(ref + "\n")
        used |= {entry["digest"], cfg_desc["digest"], layer_desc["digest"]}
    assert used == set(blobs)  # no blob left over


def test_archive_is_deterministic_and_the_cli_writes_its_digest(tmp_path):
    assert kubeadm_images.render_archive(KUBE, "amd64") == kubeadm_images.render_archive(KUBE, "amd64")
    assert kubeadm_images.render_archive(KUBE, "amd64") != kubeadm_images.render_archive(KUBE, "arm64")
    outs = []
    for name in ("a/kubeadm-images-amd64.tar", "b/kubeadm-images-amd64.tar"):
        out = tmp_path / name
        r = subprocess.run([sys.executable, BUILDER, "--kubernetes-version", KUBE, "--arch", "amd64",
                            "--image-repository", "registry.k8s.io", "--out", str(out)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True)
        data = out.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        assert r.stdout == digest + "\n"
        assert (tmp_path / (name + ".sha256")).read_text() == digest
        outs.append(data)
    assert outs[0] == outs[1] == kubeadm_images.render_archive(KUBE, "amd64")


def test_archive_for_another_version_and_repository():
    index, _ = layout(kubeadm_images.render_archive("v1.35.0", "amd64", "mirror.example/k8s"))
    assert [e["annotations"]["io.containerd.image.name"] for e in index["manifests"]] == [
        "mirror.example/k8s/kube-apiserver:v1.35.0", "mirror.example/k8s/kube-controller-manager:v1.35.0",
        "mirror.example/k8s/kube-scheduler:v1.35.0", "mirror.example/k8s/kube-proxy:v1.35.0",
        "mirror.example/k8s/coredns:v1.13.1", "mirror.example/k8s/pause:3.10.1", "mirror.example/k8s/etcd:3.6.6-0"]
    # a Docker Hub repository is named as containerd stores it
    index, _ = layout(kubeadm_images.render_archive(KUBE, "amd64", "kubeforge"))
    assert index["manifests"][0]["annotations"]["io.containerd.image.name"] == \
        "docker.io/kubeforge/kube-apiserver:v1.35.2"


@pytest.mark.parametrize("args,message", [
    (["--kubernetes-version", "1.35.2"], "invalid Kubernetes version '1.35.2'"),
    (["--kubernetes-version", KUBE, "--arch", "riscv64"], "invalid choice: 'riscv64'"),
    (["--arch", "amd64"], "the following arguments are required: --kubernetes-version"),
])
def test_cli_refusals(tmp_path, args, message):
    r = subprocess.run([sys.executable, BUILDER, "--out", str(tmp_path / "x.tar")] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    assert r.returncode == 2 and message in r.stderr
    assert not (tmp_path / "x.tar").exists()


def test_imported_archive_satisfies_the_image_pull_check(monkeypatch, capsys):
    """The names ctr lists after importing the archive are the ones the double's ImagePull check looks for: the node
    pulls nothing."""
    index, _ = layout(kubeadm_images.render_archive(KUBE, "amd64"))
    n = Node(None, None, "n1", images=False)
    try:
        for k in ("PATH", "KUBEFORGE_DOUBLE_ROOT"):
            monkeypatch.setenv(k, n.env[k])
        n.set_images(e["annotations"]["io.containerd.image.name"] for e in index["manifests"])
        preflight.run_pull_images({"nodeRegistration": {"criSocket": "unix:///var/run/containerd/containerd.sock",
                                                        "imagePullPolicy": "IfNotPresent"}},
                                  {"kubernetesVersion": KUBE, "etcd": {"local": {}}}, [])
        assert capsys.readouterr() == ("", "")
        assert n.pull_log() == []
    finally:
        n.close()


@pytest.mark.parametrize("arch", ["amd64", "arm64", "arm"])
def test_build_py_publishes_the_archives(release_root, arch):
    path = os.path.join(str(release_root), "kubeadm-images", KUBE, "kubeadm-images-%s.tar" % arch)
    with open(path, "rb") as fh:
        data = fh.read()
    flannel = ["ghcr.io/flannel-io/flannel:v0.26.7", "ghcr.io/flannel-io/flannel-cni-plugin:v1.6.2-flannel1"]
    assert data == kubeadm_images.render_archive(KUBE, arch, extra=flannel)
    with open(path + ".sha256") as fh:
        assert fh.read() == hashlib.sha256(data).hexdigest()


def test_extra_images_follow_kubeadms_once_each(tmp_path):
    extra = ["ghcr.io/flannel-io/flannel:v0.26.7", "registry.k8s.io/pause:3.10.1",
             "ghcr.io/flannel-io/flannel:v0.26.7", ""]
    index, _ = layout(kubeadm_images.render_archive(KUBE, "amd64", extra=extra))
    names = [e["annotations"]["io.containerd.image.name"] for e in index["manifests"]]
    assert names == images.control_plane_images({"kubernetesVersion": KUBE, "etcd": {"local": {}}}) + [
        "ghcr.io/flannel-io/flannel:v0.26.7"]
    out = tmp_path / "x.tar"
    r = subprocess.run([sys.executable, BUILDER, "--kubernetes-version", KUBE, "--out", str(out),
                        "--image", "ghcr.io/flannel-io/flannel:v0.26.7", "--image", "busybox:1.36"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert r.returncode == 0, r.stderr
    index, _ = layout(out.read_bytes())
    assert [e["annotations"]["io.containerd.image.name"] for e in index["manifests"]][-2:] == [
        "ghcr.io/flannel-io/flannel:v0.26.7", "docker.io/library/busybox:1.36"]


def test_build_py_reads_the_flannel_images_from_the_cni_role(tmp_path):
    spec = importlib.util.spec_from_file_location("kf_build", os.path.join(REPO, "tests", "doubles", "build.py"))
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert build.cni_images() == ["ghcr.io/flannel-io/flannel:v0.26.7",
                                  "ghcr.io/flannel-io/flannel-cni-plugin:v1.6.2-flannel1"]
    broken = tmp_path / "main.yml"
    broken.write_text("---\ncni_flannel_image: 'ghcr.io/x/flannel:v1'\n")
    with pytest.raises(SystemExit, match="sets no cni_flannel_cni_plugin_image"):
        build.cni_images(str(broken))
