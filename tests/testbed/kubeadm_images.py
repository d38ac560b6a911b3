#!/usr/bin/env python3
"""Build the test bed's airgap archive of kubeadm's control-plane images.

    python3 tests/testbed/kubeadm_images.py --kubernetes-version v1.35.2 --arch amd64 \\
        --image-repository registry.k8s.io --out FILE

FILE is an OCI image layout in a tar (``oci-layout``, ``index.json``, ``blobs/sha256/<hex>``) for
``ctr -n k8s.io images import FILE``: one image per entry of the kubeadm double's image list
(tests/doubles/kubeadm/images.py, the list ``kubeadm config images list`` prints for that
version), each a minimal valid image for linux/<arch>: one gzipped tar layer holding a single
text file that names the image, an OCI image config (architecture, os, variant v7 for arm,
rootfs.diff_ids = the sha256 of the uncompressed layer) and an OCI manifest. index.json lists
the manifests in the list's order, each with its platform and the annotations containerd names
images by (``io.containerd.image.name``: the full reference, ``org.opencontainers.image.ref.name``:
the tag). The output is deterministic (fixed times and owners, sorted tar entries): the same
arguments give the same bytes. The archive's sha256 is printed and written, hex only, to FILE.sha256.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import sys
import tarfile
from collections.abc import Iterable

DOUBLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "doubles")
if DOUBLES not in sys.path:
    sys.path.insert(0, DOUBLES)

from kubeadm.images import control_plane_images, normalize_reference, split_reference  # noqa: E402

ARCHES = ("amd64", "arm64", "arm")
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT_VERSION = "1.0.0"
LAYER_FILE = "kubeforge-image.txt"
_VERSION = re.compile(r"^v\d+\.\d+\.\d+$")


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _tar(entries: Iterable[tuple[str, bytes | None]]) -> bytes:
    """A ustar archive of (name, data) entries in the given order; data None makes a directory."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = 0, 0, 0, "root", "root"
            if data is None:
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(ti)
            else:
                ti.size, ti.mode = len(data), 0o644
                tf.addfile(ti, io.BytesIO(data))
    return raw.getvalue()


def _gzip(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return out.getvalue()


def platform(arch: str) -> dict[str, str]:
    p = {"architecture": arch, "os": "linux"}
    if arch == "arm":
        p["variant"] = "v7"
    return p


def image_blobs(ref: str, arch: str) -> tuple[dict[str, bytes], dict[str, object]]:
    """The blobs of one image (digest -> bytes) and its index.json entry."""
    text = ("%s\nkubeforge test-bed stand-in for this image (linux/%s): it holds nothing to run.\n"
            % (ref, "/".join(v for k, v in sorted(platform(arch).items()) if k != "os"))).encode()
    layer_tar = _tar([(LAYER_FILE, text)])
    layer = _gzip(layer_tar)
    config = _json(dict(platform(arch), **{
        "config": {"Labels": {"org.opencontainers.image.title": ref}},
        "rootfs": {"type": "layers", "diff_ids": [digest(layer_tar)]},
        "history": [{"created_by": "tests/testbed/kubeadm_images.py", "comment": "kubeforge test-bed image"}],
    }))
    manifest = _json({
        "schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": MEDIA_LAYER, "digest": digest(layer), "size": len(layer)}],
    })
    _, _, tag = split_reference(ref)
    entry = {"mediaType": MEDIA_MANIFEST, "digest": digest(manifest), "size": len(manifest),
             "annotations": {ANNOTATION_IMAGE_NAME: normalize_reference(ref), ANNOTATION_REF_NAME: tag},
             "platform": platform(arch)}
    return {digest(b): b for b in (layer, config, manifest)}, entry


def archive_images(kubernetes_version: str, image_repository: str) -> list[str]:
    """The images of the archive: the kubeadm double's list for a local-etcd cluster of that version."""
    return control_plane_images({"kubernetesVersion": kubernetes_version, "imageRepository": image_repository,
                                 "etcd": {"local": {}}})


def render_archive(kubernetes_version: str, arch: str, image_repository: str = "registry.k8s.io",
                   extra: Iterable[str] = ()) -> bytes:
    """The OCI image layout tar for that version, architecture and repository, plus the extra images given
    (a pod network's, for example), each once, after kubeadm's."""
    if not _VERSION.match(kubernetes_version):
        raise ValueError("invalid Kubernetes version %r (want vMAJOR.MINOR.PATCH)" % kubernetes_version)
    if arch not in ARCHES:
        raise ValueError("unsupported architecture %r (want one of %s)" % (arch, ", ".join(ARCHES)))
    blobs: dict[str, bytes] = {}
    manifests = []
    refs = archive_images(kubernetes_version, image_repository)
    refs += [r for r in dict.fromkeys(extra) if r and r not in refs]
    for ref in refs:
        more, entry = image_blobs(ref, arch)
        blobs.update(more)
        manifests.append(entry)
    index = _json({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": manifests})
    layout = _json({"imageLayoutVersion": LAYOUT_VERSION})
    entries: list[tuple[str, bytes | None]] = [("blobs", None), ("blobs/sha256", None)]
    entries += [("blobs/sha256/" + d.split(":", 1)[1], blobs[d]) for d in sorted(blobs)]
    entries += [("index.json", index), ("oci-layout", layout)]
    return _tar(entries)


def write_archive(path: str, data: bytes) -> str:
    """Write the archive and <path>.sha256 (the hex digest only); returns the digest."""
    hexdigest = hashlib.sha256(data).hexdigest()
    for p, content in ((path, data), (path + ".sha256", hexdigest.encode())):
        tmp = p + ".tmp"
        with open(tmp, "wb") as fh:
            fh.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)
    return hexdigest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kubernetes-version", required=True, help="vMAJOR.MINOR.PATCH, the image tag of the "
                    "Kubernetes components (the other tags are kubeadm's pinned ones)")
    ap.add_argument("--arch", default="amd64", choices=ARCHES)
    ap.add_argument("--image-repository", default="registry.k8s.io")
    ap.add_argument("--image", action="append", default=[], metavar="REF",
                    help="another image to put in the archive (repeat it), such as the pod network's")
    ap.add_argument("--out", required=True, help="the archive to write (FILE.sha256 is written beside it)")
    a = ap.parse_args(argv)
    try:
        data = render_archive(a.kubernetes_version, a.arch, a.image_repository, a.image)
    except ValueError as e:
        ap.error(str(e))
    out_dir = os.path.dirname(os.path.abspath(a.out))
    os.makedirs(out_dir, exist_ok=True)
    print(write_archive(a.out, data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
