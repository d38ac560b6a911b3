#!/usr/bin/env python3
"""Build a GitHub-release-like tree of kubeforge K3s test doubles, a
dl.k8s.io-like tree of the kubeadm and kubelet test doubles, and (with --kubectl)
a pkgs.k8s.io-like signed apt repository of them.

    python3 tests/doubles/build.py --out DIR [--versions v1.33.6+k3s1,v1.34.2+k3s1,v1.35.1+k3s1]
                                   [--kube-versions v1.34.3,v1.35.2] [--kubectl PATH] [--helm PATH]

Writes DIR/k3s-io/k3s/releases/download/<version>/{k3s,k3s-arm64,k3s-armhf,
sha256sum-{amd64,arm64,arm}.txt,k3s-airgap-images-{amd64,arm64,arm}.tar.gz,
k3s-images.txt} and DIR/v1-release/channels.json (stable and latest: the newest
version; one vMAJOR.MINOR channel per minor: its newest version); and
DIR/dl.k8s.io/release/<kube version>/bin/linux/{amd64,arm64,arm}/{kubeadm,kubelet}
with a <file>.sha256 beside each (the hex digest only, as dl.k8s.io publishes
it), DIR/dl.k8s.io/release/stable.txt (the newest kube version) and
DIR/dl.k8s.io/release/stable-<major>.<minor>.txt (the newest built patch of that minor).  With
--kubectl, the real kubectl goes to DIR/dl.k8s.io/release/<its version>/ too,
and DIR/pkgs.k8s.io/core:/stable:/vX.Y/deb/ becomes a flat apt repository for
that version: amd64/{kubeadm,kubelet,kubectl}_<X.Y.Z>-1.1_amd64.deb (the two
doubles and the real kubectl, built with dpkg-deb), Packages, Packages.gz,
Release, InRelease, Release.gpg and Release.key (signed by a throwaway key made
in a temporary GNUPGHOME).  Output is deterministic: the same input gives the
same bytes, and unchanged files are not rewritten (the signatures and the key
are made again only when Release changes).

For every kube version it also writes the airgap archive of kubeadm's control-plane
images, DIR/kubeadm-images/<version>/kubeadm-images-{amd64,arm64,arm}.tar (+ .sha256,
the hex digest only), made by tests/testbed/kubeadm_images.py from the kubeadm double's
image list: OCI image layouts for ``ctr -n k8s.io images import``, one minimal image per
entry of ``kubeadm config images list`` for that version (registry.k8s.io names), and
Flannel's two images as the cni role names them by default.

The etcd client tools' doubles (tests/doubles/etcd/: etcdctl and etcdutl) go to
DIR/github.com/etcd-io/etcd/releases/download/<etcd version>/etcd-<version>-linux-{amd64,arm64}.tar.gz, each
holding etcd-<version>-linux-<arch>/{etcdctl,etcdutl}, with SHA256SUMS beside them, as etcd's releases publish.

Test charts (tests/doubles/charts/<name>/, apiVersion v2, never shipped) go to DIR/charts/ as a Helm chart
repository: <name>-<version>.tgz (deterministic archives of <name>/..., as ``helm package`` lays them out) and
index.yaml (apiVersion v1; each entry with the chart's metadata, digest = sha256 of the archive, urls relative
to the repository, a fixed created time).

With --helm PATH, a real helm binary (linux/amd64 only: the controller's architecture on the test bed) is
published as get.helm.sh does: DIR/get.helm.sh/helm-<version>-linux-amd64.tar.gz holding
linux-amd64/{helm,LICENSE,README.md}, with helm-<version>-linux-amd64.tar.gz.sha256sum (``<hex>  <file>``, for
sha256sum/shasum -c) and .sha256 (the bare hex) beside it; <version> is what the binary reports
(``helm version --template '{{.Version}}'``).

The test-double Tigera operator manifest (calico/tigera-operator.yaml) goes to
DIR/projectcalico/calico/<calico version>/manifests/tigera-operator.yaml, laid
out like raw.githubusercontent.com, with tigera-operator.yaml.sha256 beside it
for the scenarios to pin (the real release publishes no digest).

With --debian-containerd it also publishes REAL containerd and runc, not doubles:
Debian's containerd and runc packages for the controller's release (Debian 12 on
the test bed), fetched with `apt-get download` into DIR/.debs (kept: reruns do not
download again) and laid out as their upstream releases are:
DIR/github.com/containerd/containerd/releases/download/v<ver>/containerd-<ver>-linux-<arch>.tar.gz
(+ .sha256sum) holding bin/<program>, and
DIR/github.com/opencontainers/runc/releases/download/v<ver>/runc.<arch> (+ runc.sha256sum).
"""
import argparse
import gzip
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "k3s")
sys.path.insert(0, HERE)
from k3s import version as _v  # noqa: E402  (only for tag parsing helpers)
from kubeadm import version as _kv  # noqa: E402  (only for tag parsing helpers)

# three minors, so that the scenarios can upgrade a cluster one minor at a time (1.33 -> 1.34 -> 1.35); 1.33
# embeds etcd 3.5, the later ones etcd 3.6 (k3s/version.py etcd_version)
DEFAULT_VERSIONS = ["v1.33.6+k3s1", "v1.34.2+k3s1", "v1.35.1+k3s1"]
# two minors, so that the scenarios and tests can upgrade a kubeadm cluster one minor at a time (1.34 -> 1.35)
DEFAULT_KUBE_VERSIONS = ["v1.34.3", "v1.35.2"]
KUBE_SRC = os.path.join(HERE, "kubeadm")
# What both doubles import (YAML scalars, version and architecture helpers, wire helpers):
# embedded in every built program under its source name, ``common``.
COMMON_SRC = os.path.join(HERE, "common")
COMMON_PKG = "common"
DEFAULT_CALICO_VERSION = "v3.30.3"
CALICO_MANIFEST = os.path.join(HERE, "calico", "tigera-operator.yaml")
KUBE_ARCHES = ["amd64", "arm64", "arm"]
# the airgap archive builder of kubeadm's images (a test-bed tool, run here from the source tree)
KUBEADM_IMAGES_BUILDER = os.path.join(os.path.dirname(HERE), "testbed", "kubeadm_images.py")
# Flannel's images as the collection's cni role names them by default: the archive holds them too, so an
# airgapped cluster finds its pod network's images (read from the role, so the two cannot drift apart).
CNI_DEFAULTS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "roles", "cni", "defaults", "main.yml")
CNI_IMAGE_VARS = ("cni_flannel_image", "cni_flannel_cni_plugin_image")
KUBE_PROGRAMS = ["kubeadm", "kubelet"]
KUBE_PKG = "kubeforge_kubeadm_double"
# etcd's client tools (etcdctl, etcdutl) as the etcd release archive ships them; etcd publishes no 32-bit ARM build
ETCD_SRC = os.path.join(HERE, "etcd")
ETCD_PKG = "kubeforge_etcd_double"
DEFAULT_ETCD_VERSION = "v3.6.5"
ETCD_ARCHES = ["amd64", "arm64"]
ETCD_PROGRAMS = ["etcdctl", "etcdutl"]
# the K3s double's modules that the kubeadm/kubelet doubles import (kubeadm/k3slib.py)
K3S_SHARED = ["__init__", "api", "etcd", "fieldmanager", "klog", "pki", "protobuf", "rbac", "serviceaccount", "state"]
ARCHES = [("amd64", "k3s"), ("arm64", "k3s-arm64"), ("arm", "k3s-armhf")]
PKG = "kubeforge_k3s_double"

# The tail of every built program: a meta-path importer that serves the embedded
# modules (_SOURCES: dotted name -> source; _PACKAGES: the names that are packages),
# then the entry point. Nothing is read from disk, so the file runs anywhere.
_BOOT = r"""
import importlib.abc
import importlib.util
import sys


class _DoubleImporter(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in _SOURCES:
            return importlib.util.spec_from_loader(fullname, self, is_package=fullname in _PACKAGES)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        name = module.__name__
        if name in _PACKAGES:
            module.__path__ = []
        filename = "<%%s>" %% name.replace(".", "/") + ("/__init__.py" if name in _PACKAGES else ".py")
        exec(compile(_SOURCES[name], filename, "exec"), module.__dict__)


sys.meta_path.insert(0, _DoubleImporter())
from %(entry)s.main import run  # noqa: E402

if __name__ == "__main__":
    run()
"""

IMAGES = [
    "docker.io/rancher/klipper-helm:v0.9.8-build20250709",
    "docker.io/rancher/klipper-lb:v0.4.13",
    "docker.io/rancher/local-path-provisioner:v0.0.31",
    "docker.io/rancher/mirrored-coredns-coredns:1.12.3",
    "docker.io/rancher/mirrored-library-busybox:1.36.1",
    "docker.io/rancher/mirrored-library-traefik:3.3.6",
    "docker.io/rancher/mirrored-metrics-server:v0.8.0",
    "docker.io/rancher/mirrored-pause:3.6",
]


def package_sources(pkg, src, only=None):
    """The package in directory src, embedded as ``pkg``: (sources, packages), where sources maps
    every dotted module name to its source and packages holds the names that are packages (a
    directory with an ``__init__.py``, at any depth). only: the top-level modules to take (all when
    None; subpackages are then left out)."""
    sources, packages = {}, set()
    for dirpath, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if os.path.exists(os.path.join(dirpath, d, "__init__.py")))
        rel = os.path.relpath(dirpath, src)
        prefix = pkg if rel == "." else pkg + "." + rel.replace(os.sep, ".")
        if rel != "." and only is not None:
            continue
        packages.add(prefix)
        for name in sorted(files):
            if not name.endswith(".py") or name == "__main__.py":
                continue
            if only is not None and name[:-3] not in only:
                continue
            with open(os.path.join(dirpath, name), encoding="utf-8") as fh:
                text = fh.read()
            sources[prefix if name == "__init__.py" else prefix + "." + name[:-3]] = text
    for p in packages:
        sources.setdefault(p, "")
    return sources, packages


def render_program(header, entry, trees):
    """One executable Python file: header comment lines, then every module of trees (a list of
    (sources, packages) from package_sources) and the importer that serves them."""
    sources, packages = {}, set()
    for srcs, pkgs in trees:
        sources.update(srcs)
        packages |= pkgs
    lines = ["#!/usr/bin/env python3"] + ["# " + h for h in header] + ["_SOURCES = {"]
    for k in sorted(sources):
        lines.append("    %r: %r," % (k, sources[k]))
    lines.append("}")
    lines.append("_PACKAGES = {%s}" % ", ".join(repr(p) for p in sorted(packages)))
    return ("\n".join(lines) + "\n" + _BOOT % {"entry": entry}).encode()


def render_binary(tag, arch):
    _v.parse_tag(tag)
    k3s = package_sources(PKG, SRC)
    k3s[0][PKG + ".buildinfo"] = (
        '"""Baked by tests/doubles/build.py."""\n\nVERSION = %r\nCOMMIT = %r\nARCH = %r\n'
        'GO_VERSION = %r\n' % (tag, _v.commit_for(tag), arch, _v.go_version_for(tag)))
    header = ["kubeforge K3s test double %s (%s) linux/%s" % (tag, _v.commit_for(tag), arch),
              "Generated by tests/doubles/build.py from tests/doubles/k3s/ and tests/doubles/common/ -- do not edit."]
    return render_program(header, PKG, [package_sources(COMMON_PKG, COMMON_SRC), k3s])


def kube_tag(tag):
    ma, mi, pa = _kv.parse_tag(tag)
    return ma, mi, pa


def render_kube_binary(tag, arch, program):
    """One executable Python file: the kubeadm double package, the K3s modules it imports and the common package."""
    kube_tag(tag)
    own = package_sources(KUBE_PKG, KUBE_SRC)
    own[0][KUBE_PKG + ".buildinfo"] = (
        '"""Baked by tests/doubles/build.py."""\n\nVERSION = %r\nPROGRAM = %r\nARCH = %r\n'
        'GIT_COMMIT = %r\nGO_VERSION = %r\n' % (tag, program, arch, _kv.commit_for(tag), _kv.go_version_for(tag)))
    header = ["kubeforge %s test double %s (%s) linux/%s" % (program, tag, _kv.commit_for(tag)[:8], arch),
              "Generated by tests/doubles/build.py from tests/doubles/kubeadm/, tests/doubles/k3s/ and "
              "tests/doubles/common/ -- do not edit."]
    trees = [package_sources(COMMON_PKG, COMMON_SRC), package_sources(PKG, SRC, only=K3S_SHARED), own]
    return render_program(header, KUBE_PKG, trees)


def render_etcd_tool(tag, arch, program):
    """One executable Python file: the etcd tools double as ``program`` (etcdctl or etcdutl)."""
    own = package_sources(ETCD_PKG, ETCD_SRC)
    own[0][ETCD_PKG + ".buildinfo"] = (
        '"""Baked by tests/doubles/build.py."""\n\nVERSION = %r\nPROGRAM = %r\nARCH = %r\n' % (tag, program, arch))
    header = ["kubeforge %s test double %s linux/%s" % (program, tag, arch),
              "Generated by tests/doubles/build.py from tests/doubles/etcd/ -- do not edit."]
    return render_program(header, ETCD_PKG, [own])


def etcd_tarball(tag, arch):
    """etcd-<tag>-linux-<arch>.tar.gz as etcd's release lays it out (etcd-<tag>-linux-<arch>/<program>), with the
    client tools only (the double has no etcd server); deterministic."""
    top = "etcd-%s-linux-%s" % (tag, arch)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tf:
        d = tarfile.TarInfo(top)
        d.type, d.mode, d.uid, d.gid, d.mtime = tarfile.DIRTYPE, 0o755, 0, 0, 0
        tf.addfile(d)
        for prog in ETCD_PROGRAMS:
            data = render_etcd_tool(tag, arch, prog)
            ti = tarfile.TarInfo("%s/%s" % (top, prog))
            ti.size, ti.mode, ti.mtime, ti.uid, ti.gid = len(data), 0o755, 0, 0, 0
            tf.addfile(ti, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def build_etcd(out, tag):
    """DIR/github.com/etcd-io/etcd/releases/download/<tag>/etcd-<tag>-linux-<arch>.tar.gz and SHA256SUMS."""
    base = os.path.join(out, "github.com", "etcd-io", "etcd", "releases", "download", tag)
    sums = []
    for arch in ETCD_ARCHES:
        name = "etcd-%s-linux-%s.tar.gz" % (tag, arch)
        data = etcd_tarball(tag, arch)
        write_if_changed(os.path.join(base, name), data)
        sums.append("%s  %s\n" % (hashlib.sha256(data).hexdigest(), name))
    write_if_changed(os.path.join(base, "SHA256SUMS"), "".join(sums).encode())
    return "etcdctl/etcdutl %s" % tag


def build_kube(out, versions):
    versions = sorted(set(versions), key=kube_tag)
    base = os.path.join(out, "dl.k8s.io", "release")
    for tag in versions:
        for arch in KUBE_ARCHES:
            d = os.path.join(base, tag, "bin", "linux", arch)
            for prog in KUBE_PROGRAMS:
                data = render_kube_binary(tag, arch, prog)
                write_if_changed(os.path.join(d, prog), data, 0o755)
                write_if_changed(os.path.join(d, prog + ".sha256"), hashlib.sha256(data).hexdigest().encode())
    write_if_changed(os.path.join(base, "stable.txt"), versions[-1].encode())
    # dl.k8s.io/release/stable-<major>.<minor>.txt: the newest built patch of each minor (kubeadm's version labels)
    newest = {}
    for tag in versions:
        ma, mi, _ = kube_tag(tag)
        newest["%d.%d" % (ma, mi)] = tag
    for minor, tag in sorted(newest.items()):
        write_if_changed(os.path.join(base, "stable-%s.txt" % minor), tag.encode())
    return versions


def kubeadm_images_builder():
    spec = importlib.util.spec_from_file_location("kubeadm_images", KUBEADM_IMAGES_BUILDER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def kube_images_path(out, tag, arch):
    return os.path.join(out, "kubeadm-images", tag, "kubeadm-images-%s.tar" % arch)


def cni_images(path=CNI_DEFAULTS):
    """The default Flannel images of the cni role (plain ``name: value`` lines of its defaults file)."""
    found = {}
    with open(path) as fh:
        for line in fh:
            name, sep, value = line.partition(":")
            if sep and name.strip() in CNI_IMAGE_VARS:
                found[name.strip()] = value.strip().strip("'\"")
    missing = [v for v in CNI_IMAGE_VARS if not found.get(v)]
    if missing:
        raise SystemExit("build.py: %s sets no %s" % (path, ", ".join(missing)))
    return [found[v] for v in CNI_IMAGE_VARS]


def build_kube_images(out, versions):
    """DIR/kubeadm-images/<version>/kubeadm-images-<arch>.tar and its .sha256 for every kube version and arch."""
    builder = kubeadm_images_builder()
    extra = cni_images()
    for tag in sorted(set(versions), key=kube_tag):
        for arch in KUBE_ARCHES:
            data = builder.render_archive(tag, arch, extra=extra)
            path = kube_images_path(out, tag, arch)
            write_if_changed(path, data)
            write_if_changed(path + ".sha256", hashlib.sha256(data).hexdigest().encode())
    return "kubeadm image archives %s" % ",".join(sorted(set(versions), key=kube_tag))


def render_airgap(tag, arch):
    manifest = json.dumps([{"Config": "kubeforge-%s.json" % arch, "RepoTags": IMAGES, "Layers": []}],
                          indent=2, sort_keys=True).encode() + b"\n"
    config = json.dumps({"architecture": arch, "os": "linux", "kubeforge_double": tag},
                        sort_keys=True).encode() + b"\n"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in (("manifest.json", manifest), ("kubeforge-%s.json" % arch, config)):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode, ti.uid, ti.gid = len(data), 0, 0o644, 0, 0
            ti.uname = ti.gname = "root"
            tf.addfile(ti, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def write_if_changed(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        with open(path, "rb") as fh:
            same = fh.read() == data
    except OSError:
        same = False
    if not same:
        tmp = path + ".tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    os.chmod(path, mode)


def build(out, versions):
    versions = sorted(set(versions), key=_v.parse_tag)
    for tag in versions:
        d = os.path.join(out, "k3s-io", "k3s", "releases", "download", tag)
        images = ("\n".join(IMAGES) + "\n").encode()
        write_if_changed(os.path.join(d, "k3s-images.txt"), images)
        for arch, binname in ARCHES:
            assets = {binname: render_binary(tag, arch),
                      "k3s-airgap-images-%s.tar.gz" % arch: render_airgap(tag, arch),
                      "k3s-images.txt": images}
            for name, data in assets.items():
                write_if_changed(os.path.join(d, name), data, 0o755 if name == binname else 0o644)
            sums = "".join("%s  %s\n" % (hashlib.sha256(assets[n]).hexdigest(), n) for n in sorted(assets))
            write_if_changed(os.path.join(d, "sha256sum-%s.txt" % arch), sums.encode())
    newest = versions[-1]
    channels = [{"name": "stable", "latest": newest}, {"name": "latest", "latest": newest}]
    per_minor = {}
    for tag in versions:
        ma, mi, _ = _v.parse_tag(tag)
        per_minor["v%d.%d" % (ma, mi)] = tag
    for name in sorted(per_minor, key=lambda s: tuple(int(x) for x in s[1:].split("."))):
        channels.append({"name": name, "latest": per_minor[name]})
    data = json.dumps({"channels": channels}, indent=2, sort_keys=True).encode() + b"\n"
    write_if_changed(os.path.join(out, "v1-release", "channels.json"), data)
    return versions


def build_calico(out, version):
    """The etcd client tools' doubles (tests/doubles/etcd/: etcdctl and etcdutl) go to
DIR/github.com/etcd-io/etcd/releases/download/<etcd version>/etcd-<version>-linux-{amd64,arm64}.tar.gz, each
holding etcd-<version>-linux-<arch>/{etcdctl,etcdutl}, with SHA256SUMS beside them, as etcd's releases publish.

The test-double Tigera operator manifest where the mirror source of the cni
    role looks for it (<mirror>/<version>/manifests/tigera-operator.yaml), and its
    bare hex sha256 in tigera-operator.yaml.sha256."""
    with open(CALICO_MANIFEST, "rb") as fh:
        data = fh.read()
    d = os.path.join(out, "projectcalico", "calico", version, "manifests")
    write_if_changed(os.path.join(d, "tigera-operator.yaml"), data)
    write_if_changed(os.path.join(d, "tigera-operator.yaml.sha256"), hashlib.sha256(data).hexdigest().encode())
    return "Tigera operator manifest double for Calico %s" % version


# --------------------------------------------------------------------------
# Helm: the test charts as a chart repository, the real helm binary as get.helm.sh publishes it

CHARTS_SRC = os.path.join(HERE, "charts")
# tar entry times of the chart and helm archives, and the charts' created/generated time in index.yaml
HELM_EPOCH = 1767225600  # 2026-01-01 00:00:00 UTC
HELM_CREATED = "2026-01-01T00:00:00Z"
# get.helm.sh publishes every platform; the test bed's controller is amd64, so only that one is published
HELM_ARCH = "amd64"
HELM_LICENSE = "/usr/share/common-licenses/Apache-2.0"  # Debian's base-files: the text of helm's LICENSE
# Chart.yaml fields copied into index.yaml (scalars only; the entry's keys are written sorted, as helm does)
CHART_INDEX_FIELDS = ("name", "home", "version", "description", "apiVersion", "appVersion",
                      "kubeVersion", "type")


def chart_metadata(text):
    """The top-level scalar fields of a Chart.yaml (``key: value`` lines; the test charts use no more)."""
    out = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or line[0] in " \t-":
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ValueError("Chart.yaml: cannot read line %r" % line)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip()] = value
    for field in ("apiVersion", "name", "version"):
        if not out.get(field):
            raise ValueError("Chart.yaml: %s is required" % field)
    return out


def _tar(entries):
    """A deterministic tar: entries are (name, bytes or None for a directory, mode), written in that
    order, root-owned, with the fixed HELM_EPOCH time."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data, mode in entries:
            ti = tarfile.TarInfo(name)
            ti.mode, ti.mtime, ti.uid, ti.gid = mode, HELM_EPOCH, 0, 0
            ti.uname = ti.gname = "root"
            if data is None:
                ti.type = tarfile.DIRTYPE
                tf.addfile(ti)
            else:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    return raw.getvalue()


def _gzip(raw):
    """gzip without a file name and with time 0 (deterministic)."""
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6) as gz:
        gz.write(raw)
    return out.getvalue()


def _tar_gz(entries):
    return _gzip(_tar(entries))


def chart_archive(src):
    """(metadata, <name>-<version>.tgz bytes) of the chart in directory src, laid out as ``helm package``
    writes it (chartutil.Save: every file under <name>/, Chart.yaml first, then values.yaml, the templates
    and the other files, no directory entries, mode 0644), but deterministic."""
    with open(os.path.join(src, "Chart.yaml"), encoding="utf-8") as fh:
        md = chart_metadata(fh.read())
    if md["name"] != os.path.basename(src):
        raise ValueError("%s: Chart.yaml names the chart %r" % (src, md["name"]))
    files = []
    for dp, dirs, names in os.walk(src):
        dirs.sort()
        for n in names:
            files.append(os.path.relpath(os.path.join(dp, n), src).replace(os.sep, "/"))

    def order(rel):
        first = {"Chart.yaml": 0, "values.yaml": 1}
        return (first.get(rel, 2 if rel.startswith("templates/") else 3), rel)
    entries = []
    for rel in sorted(files, key=order):
        with open(os.path.join(src, rel), "rb") as fh:
            entries.append(("%s/%s" % (md["name"], rel), fh.read(), 0o644))
    return md, _tar_gz(entries)


def _yaml_str(value):
    """A YAML scalar: JSON's double-quoted string is valid YAML."""
    return json.dumps(value)


def chart_index(charts):
    """index.yaml of a chart repository (helm's repo.IndexFile, apiVersion v1): charts is
    [(metadata, file name, sha256)]; entries by name, newest version first."""
    by_name = {}
    for md, filename, digest in charts:
        by_name.setdefault(md["name"], []).append((md, filename, digest))
    lines = ["apiVersion: v1", "entries:"]
    for name in sorted(by_name):
        lines.append("  %s:" % name)
        versions = sorted(by_name[name], key=lambda e: [(1, int(x), "") if x.isdigit() else (0, 0, x)
                                                        for x in re.split(r"[.+-]", e[0]["version"])],
                          reverse=True)
        for md, filename, digest in versions:
            fields = [(k, md[k]) for k in CHART_INDEX_FIELDS if md.get(k)]
            fields += [("created", HELM_CREATED), ("digest", digest)]
            first = True
            for k, v in sorted(fields):
                lines.append("  %s %s: %s" % ("-" if first else " ", k, _yaml_str(v)))
                first = False
            lines.append("    urls:")
            lines.append("    - %s" % _yaml_str(filename))
    lines.append("generated: %s" % _yaml_str(HELM_CREATED))
    return ("\n".join(lines) + "\n").encode()


def build_charts(out, src=CHARTS_SRC):
    """DIR/charts/<name>-<version>.tgz for every chart directory under src, and DIR/charts/index.yaml."""
    d = os.path.join(out, "charts")
    charts, built = [], []
    for name in sorted(os.listdir(src)):
        if not os.path.isfile(os.path.join(src, name, "Chart.yaml")):
            continue
        md, data = chart_archive(os.path.join(src, name))
        filename = "%s-%s.tgz" % (md["name"], md["version"])
        write_if_changed(os.path.join(d, filename), data)
        charts.append((md, filename, hashlib.sha256(data).hexdigest()))
        built.append("%s %s" % (md["name"], md["version"]))
    write_if_changed(os.path.join(d, "index.yaml"), chart_index(charts))
    return "chart repository (%s)" % ", ".join(built)


def elf_arch(path):
    """The Go architecture of an ELF executable (e_machine), or None."""
    with open(path, "rb") as fh:
        head = fh.read(20)
    if head[:4] != b"\x7fELF" or len(head) < 20:
        return None
    machine = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
    return {0x3E: "amd64", 0xB7: "arm64", 0x28: "arm", 0x03: "386"}.get(machine, "elf-0x%x" % machine)


def helm_version(helm):
    return subprocess.run([helm, "version", "--template", "{{.Version}}"], check=True, capture_output=True,
                          text=True).stdout.strip()


HELM_README = """# helm (kubeforge test bed copy)

This archive is laid out like the official Helm release archives of get.helm.sh
(linux-amd64/helm, LICENSE, README.md). The helm binary is the real one, taken from a
PyPI wheel by tests/testbed/setup.sh and republished by tests/doubles/build.py --helm for
the offline kubeforge.cluster tests. Helm is licensed under the Apache License 2.0 (LICENSE).
See https://helm.sh for Helm itself.
"""


def helm_license():
    try:
        with open(HELM_LICENSE, "rb") as fh:
            return fh.read()
    except OSError:
        return b"Helm is licensed under the Apache License, Version 2.0: http://www.apache.org/licenses/LICENSE-2.0\n"


def publish_helm(out, helm):
    """A real helm laid out as get.helm.sh publishes it: helm-<version>-linux-amd64.tar.gz (linux-amd64/ with
    helm, LICENSE and README.md), its .sha256sum (``<hex>  <file>``) and .sha256 (the bare hex, newline)."""
    arch = elf_arch(helm)
    if arch != HELM_ARCH:
        raise SystemExit("build.py: %s is a linux/%s binary; only linux/%s helm is published" % (helm, arch, HELM_ARCH))
    version = helm_version(helm)
    if not re.match(r"^v[0-9]+\.[0-9]+\.[0-9]+", version):
        raise SystemExit("build.py: %s reports version %r" % (helm, version))
    top = "linux-%s" % HELM_ARCH
    with open(helm, "rb") as fh:
        binary = fh.read()
    entries = [(top, None, 0o755), (top + "/helm", binary, 0o755), (top + "/LICENSE", helm_license(), 0o644),
               (top + "/README.md", HELM_README.encode(), 0o644)]
    name = "helm-%s-%s.tar.gz" % (version, top)
    path = os.path.join(out, "get.helm.sh", name)
    data = _reuse_tar_gz(path, entries)
    write_if_changed(path, data)
    digest = hashlib.sha256(data).hexdigest()
    write_if_changed(path + ".sha256sum", ("%s  %s\n" % (digest, name)).encode())
    write_if_changed(path + ".sha256", (digest + "\n").encode())
    return "real helm %s/%s" % (version, HELM_ARCH)


def _reuse_tar_gz(path, entries):
    """_tar_gz(entries), or the existing file when it holds the same tar: compressing the 60 MB
    binary again takes seconds, reading it back a fraction of that."""
    raw = _tar(entries)
    try:
        with open(path, "rb") as fh:
            old = fh.read()
        if gzip.decompress(old) == raw:
            return old
    except (OSError, EOFError, gzip.BadGzipFile):
        pass
    return _gzip(raw)


def publish_kubectl(out, kubectl):
    """Lay a real kubectl out as dl.k8s.io does: release/<version>/bin/linux/<arch>/kubectl and
    kubectl.sha256 (the bare hex digest). The version and architecture are the binary's own."""
    version, arch = kubectl_version(kubectl)
    with open(kubectl, "rb") as fh:
        data = fh.read()
    d = os.path.join(out, "dl.k8s.io", "release", version, "bin", "linux", arch)
    write_if_changed(os.path.join(d, "kubectl"), data, 0o755)
    write_if_changed(os.path.join(d, "kubectl.sha256"), hashlib.sha256(data).hexdigest().encode())
    return "real kubectl %s/%s" % (version, arch)


DEBIAN_ARCHES = {"amd64": "amd64", "arm64": "arm64"}
# Under the output tree: the upstream versions publish_debian_containerd published, {"containerd": .., "runc": ..}.
DEBIAN_CONTAINERD_VERSIONS = "debian-containerd.json"


def upstream_version(debian_version):
    """The upstream part of a Debian package version: 1.6.20~ds1-1+deb12u3 -> 1.6.20 (epoch, the ~ds
    repack suffix and the Debian revision dropped), the version the release would carry upstream."""
    m = re.match(r"^(?:\d+:)?(\d+\.\d+\.\d+)", debian_version)
    if not m:
        raise ValueError("cannot read an upstream version out of Debian version %r" % debian_version)
    return m.group(1)


def fetch_debs(cache, packages):
    """The cached .deb of each package, downloaded with apt-get on the first run only."""
    os.makedirs(cache, exist_ok=True)

    def cached():
        found = {}
        for name in sorted(os.listdir(cache)):
            pkg = name.split("_")[0]
            if name.endswith(".deb") and pkg in packages:
                found[pkg] = os.path.join(cache, name)
        return found

    missing = [p for p in packages if p not in cached()]
    if missing:
        cmd = ["apt-get", "download"] + missing
        if subprocess.run(cmd, cwd=cache, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
            # A fresh machine may have no package lists yet.
            subprocess.run(["apt-get", "update"], check=True, stdout=subprocess.DEVNULL)
            subprocess.run(cmd, cwd=cache, check=True, stdout=subprocess.DEVNULL)
    found = cached()
    lost = [p for p in packages if p not in found]
    if lost:
        raise RuntimeError("apt-get download left no .deb for %s in %s" % (", ".join(lost), cache))
    return found


def deb_field(deb, field):
    return subprocess.run(["dpkg-deb", "--field", deb, field], check=True, capture_output=True,
                          text=True).stdout.strip()


def release_tarball(files):
    """gzip'd tar of bin/<name> entries, as containerd's release archive lays them out; deterministic."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tf:
        d = tarfile.TarInfo("bin")
        d.type, d.mode, d.uid, d.gid = tarfile.DIRTYPE, 0o755, 0, 0
        d.mtime = max(int(os.stat(p).st_mtime) for p in files.values())
        d.uname = d.gname = "root"
        tf.addfile(d)
        for name, path in sorted(files.items()):
            st = os.stat(path)
            ti = tarfile.TarInfo("bin/" + name)
            ti.size, ti.mode, ti.mtime, ti.uid, ti.gid = st.st_size, 0o755, int(st.st_mtime), 0, 0
            ti.uname = ti.gname = "root"
            with open(path, "rb") as fh:
                tf.addfile(ti, fh)
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def _published(path, sums, deb):
    """True when path is newer than the .deb it came from and matches its digest file."""
    try:
        if os.path.getmtime(path) < os.path.getmtime(deb):
            return False
        with open(path, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        with open(sums, encoding="utf-8") as fh:
            listed = fh.read().split()
    except OSError:
        return False
    return listed[:2] == [digest, os.path.basename(path)]


def publish_debian_containerd(out):
    """Real containerd and runc from Debian's packages, published in the upstream release layout."""
    debs = fetch_debs(os.path.join(out, ".debs"), ["containerd", "runc"])
    built = []
    versions = {}
    for pkg, deb in sorted(debs.items()):
        # Debian 12's containerd is 1.6.20~ds1-1+deb12u3: published as the upstream 1.6.20, runc likewise.
        debian_version = deb_field(deb, "Version")
        version = upstream_version(debian_version)
        arch = DEBIAN_ARCHES[deb_field(deb, "Architecture")]
        if pkg == "containerd":
            name = "containerd-%s-linux-%s.tar.gz" % (version, arch)
            d = os.path.join(out, "github.com", "containerd", "containerd", "releases", "download", "v" + version)
            sums = os.path.join(d, name + ".sha256sum")
        else:
            name = "runc." + arch
            d = os.path.join(out, "github.com", "opencontainers", "runc", "releases", "download", "v" + version)
            sums = os.path.join(d, "runc.sha256sum")
        built.append("real %s %s/%s (Debian %s)" % (pkg, version, arch, debian_version))
        versions[pkg] = version
        if _published(os.path.join(d, name), sums, deb):
            continue
        with tempfile.TemporaryDirectory() as root:
            subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
            if pkg == "containerd":
                bindir = os.path.join(root, "usr", "bin")
                data = release_tarball({n: os.path.join(bindir, n) for n in os.listdir(bindir)
                                        if n == "ctr" or n.startswith("containerd")})
                mode = 0o644
            else:
                with open(os.path.join(root, "usr", "sbin", "runc"), "rb") as fh:
                    data = fh.read()
                mode = 0o755
        write_if_changed(os.path.join(d, name), data, mode)
        # runc upstream lists every architecture in runc.sha256sum; here there is only the controller's.
        write_if_changed(sums, ("%s  %s\n" % (hashlib.sha256(data).hexdigest(), name)).encode())
    # Debian's point releases move these versions: the scenarios read them from here, not from a pin.
    write_if_changed(os.path.join(out, DEBIAN_CONTAINERD_VERSIONS),
                     (json.dumps(versions, sort_keys=True) + "\n").encode())
    return built


# The apt repository (pkgs.k8s.io layout). Revision and fixed dates keep the output
# reproducible: SOURCE_DATE_EPOCH clamps the timestamps dpkg-deb writes.
PKGS_BASE = os.path.join("pkgs.k8s.io", "core:", "stable:")
PKGS_REVISION = "1.1"
PKGS_ARCH = "amd64"
PKGS_EPOCH = 1767225600  # 2026-01-01 00:00:00 UTC
PKGS_DATE = "Thu, 01 Jan 2026 00:00:00 UTC"
PKGS_MAINTAINER = "kubeforge test doubles <dev@kubeforge.invalid>"
PKGS_KEY_UID = "kubeforge test double apt repository (throwaway key) <dev@kubeforge.invalid>"

_KUBELET_UNIT = """# kubelet.service of the kubeforge kubelet test double package (not the upstream unit).
[Unit]
Description=kubelet, the Kubernetes node agent (kubeforge test double package)
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
RestartSec=10
StartLimitInterval=0

[Install]
WantedBy=multi-user.target
"""

_KUBEADM_DROPIN = """# 10-kubeadm.conf of the kubeforge kubeadm test double package (not the upstream file).
# The kubelet reads what kubeadm init and join write; kubeadm-flags.env (written by
# kubeadm) sets KUBELET_KUBEADM_ARGS, /etc/default/kubelet KUBELET_EXTRA_ARGS, which win.
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""

# Depends stay within Debian's own packages; tests/doubles/kubeadm/README.md says
# what the real packages need beyond these.
_PKG_DEPENDS = {"kubeadm": "kubelet", "kubelet": "iptables, iproute2, mount", "kubectl": ""}
_PKG_SUMMARY = {"kubeadm": "bootstrap a Kubernetes cluster (kubeforge test double)",
                "kubelet": "the Kubernetes node agent (kubeforge test double)",
                "kubectl": "the Kubernetes command-line client (the real kubectl, packaged for kubeforge tests)"}


def pkgs_repo_dir(out, tag):
    ma, mi, _ = kube_tag(tag)
    return os.path.join(out, PKGS_BASE, "v%d.%d" % (ma, mi), "deb")


def _deb_files(tag, kubectl_data):
    """name -> [(path inside the package, bytes, mode)]"""
    return {
        "kubeadm": [("usr/bin/kubeadm", render_kube_binary(tag, PKGS_ARCH, "kubeadm"), 0o755),
                    ("usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf", _KUBEADM_DROPIN.encode(), 0o644)],
        "kubelet": [("usr/bin/kubelet", render_kube_binary(tag, PKGS_ARCH, "kubelet"), 0o755),
                    ("usr/lib/systemd/system/kubelet.service", _KUBELET_UNIT.encode(), 0o644)],
        "kubectl": [("usr/bin/kubectl", kubectl_data, 0o755)],
    }


def _control(name, version, files):
    size_kib = sum((len(data) + 1023) // 1024 for _, data, _ in files)
    lines = ["Package: %s" % name, "Version: %s" % version, "Architecture: %s" % PKGS_ARCH,
             "Maintainer: %s" % PKGS_MAINTAINER, "Installed-Size: %d" % size_kib]
    if _PKG_DEPENDS[name]:
        lines.append("Depends: %s" % _PKG_DEPENDS[name])
    lines += ["Section: admin", "Priority: optional", "Homepage: https://kubernetes.io",
              "Description: %s" % _PKG_SUMMARY[name],
              " A stand-in built by tests/doubles/build.py for the kubeforge.cluster tests;",
              " laid out like the package of the same name on pkgs.k8s.io."]
    return "\n".join(lines) + "\n"


def build_deb(name, version, files, work):
    """One .deb with dpkg-deb (root-owned, timestamps clamped); returns (bytes, control text)."""
    root = os.path.join(work, name)
    os.makedirs(os.path.join(root, "DEBIAN"))
    for rel, data, mode in files:
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
        os.chmod(path, mode)
    control = _control(name, version, files)
    with open(os.path.join(root, "DEBIAN", "control"), "w") as fh:
        fh.write(control)
    with open(os.path.join(root, "DEBIAN", "md5sums"), "w") as fh:
        fh.writelines("%s  %s\n" % (hashlib.md5(data).hexdigest(), rel) for rel, data, _ in sorted(files))
    for dp, dirs, fs in os.walk(root):
        os.chmod(dp, 0o755)
        for f in fs:
            os.utime(os.path.join(dp, f), (PKGS_EPOCH, PKGS_EPOCH))
        os.utime(dp, (PKGS_EPOCH, PKGS_EPOCH))
    os.chmod(os.path.join(root, "DEBIAN", "control"), 0o644)
    os.chmod(os.path.join(root, "DEBIAN", "md5sums"), 0o644)
    deb = os.path.join(work, name + ".deb")
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(PKGS_EPOCH))
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-z6", "--build", root, deb],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    with open(deb, "rb") as fh:
        return fh.read(), control


def _hashes(data):
    return {"MD5sum": hashlib.md5(data).hexdigest(), "SHA1": hashlib.sha1(data).hexdigest(),
            "SHA256": hashlib.sha256(data).hexdigest()}


def _release(indexes):
    out = ["Origin: kubeforge test doubles", "Label: kubeforge test doubles",
           "Architectures: %s" % PKGS_ARCH, "Date: %s" % PKGS_DATE,
           "Description: kubeadm, kubelet and kubectl laid out like pkgs.k8s.io, for the kubeforge.cluster tests"]
    for field, algo in (("MD5Sum", hashlib.md5), ("SHA1", hashlib.sha1), ("SHA256", hashlib.sha256)):
        out.append("%s:" % field)
        out += [" %s %d %s" % (algo(data).hexdigest(), len(data), name) for name, data in indexes]
    return ("\n".join(out) + "\n").encode()


def sign_release(repo):
    """Sign Release with a throwaway key made here; write InRelease, Release.gpg and Release.key."""
    home = tempfile.mkdtemp(prefix="kf-gpg-")
    env = dict(os.environ, GNUPGHOME=home)
    gpg = ["gpg", "--batch", "--quiet", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", ""]
    release = os.path.join(repo, "Release")
    try:
        subprocess.run(gpg + ["--quick-generate-key", PKGS_KEY_UID, "ed25519", "sign", "never"],
                       check=True, env=env, capture_output=True)
        key = subprocess.run(gpg + ["--armor", "--export"], check=True, env=env, capture_output=True).stdout
        inrelease = subprocess.run(gpg + ["--digest-algo", "SHA512", "--clearsign", "--output", "-", release],
                                   check=True, env=env, capture_output=True).stdout
        detached = subprocess.run(gpg + ["--digest-algo", "SHA512", "--armor", "--detach-sign", "--output", "-",
                                         release], check=True, env=env, capture_output=True).stdout
    finally:
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
    write_if_changed(os.path.join(repo, "InRelease"), inrelease)
    write_if_changed(os.path.join(repo, "Release.gpg"), detached)
    write_if_changed(os.path.join(repo, "Release.key"), key)


def build_pkgs(out, tag, kubectl):
    """The flat apt repository of one release, as pkgs.k8s.io lays it out."""
    kube_tag(tag)
    for tool in ("dpkg-deb", "gpg", "gpgconf"):
        if not shutil.which(tool):
            raise SystemExit("build.py: %s is needed for the apt repository (Debian packages dpkg and gnupg)" % tool)
    version = "%s-%s" % (tag[1:], PKGS_REVISION)
    repo = pkgs_repo_dir(out, tag)
    with open(kubectl, "rb") as fh:
        kubectl_data = fh.read()
    stanzas = []
    work = tempfile.mkdtemp(prefix="kf-deb-")
    try:
        for name, files in sorted(_deb_files(tag, kubectl_data).items()):
            data, control = build_deb(name, version, files, work)
            rel = "%s/%s_%s_%s.deb" % (PKGS_ARCH, name, version, PKGS_ARCH)
            write_if_changed(os.path.join(repo, rel), data)
            head, _, description = control.partition("Description:")
            extra = "Filename: %s\nSize: %d\n" % (rel, len(data))
            extra += "".join("%s: %s\n" % kv for kv in _hashes(data).items())
            stanzas.append(head + extra + "Description:" + description)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    packages = "\n".join(stanzas).encode()
    packages_gz = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packages_gz, mtime=0, compresslevel=9) as gz:
        gz.write(packages)
    indexes = [("Packages", packages), ("Packages.gz", packages_gz.getvalue())]
    for name, data in indexes:
        write_if_changed(os.path.join(repo, name), data)
    release = _release(indexes)
    try:
        with open(os.path.join(repo, "Release"), "rb") as fh:
            same = fh.read() == release
    except OSError:
        same = False
    signed = all(os.path.exists(os.path.join(repo, f)) for f in ("InRelease", "Release.gpg", "Release.key"))
    write_if_changed(os.path.join(repo, "Release"), release)
    if not (same and signed):
        sign_release(repo)
    return "apt repository %s (%s)" % (os.path.relpath(repo, out), version)


def kubectl_version(kubectl):
    info = json.loads(subprocess.run([kubectl, "version", "--client", "-o", "json"], check=True,
                                     capture_output=True, text=True).stdout)["clientVersion"]
    return info["gitVersion"], info["platform"].split("/")[1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--versions", default=",".join(DEFAULT_VERSIONS))
    ap.add_argument("--kubectl", help="a real kubectl to publish under dl.k8s.io/release/<its version>/")
    ap.add_argument("--debian-containerd", action="store_true",
                    help="publish the real containerd and runc of Debian's packages in their upstream release layout")
    ap.add_argument("--kube-versions", default=",".join(DEFAULT_KUBE_VERSIONS),
                    help="kubeadm/kubelet double versions (vMAJOR.MINOR.PATCH, comma-separated; empty: none)")
    ap.add_argument("--etcd-version", default=DEFAULT_ETCD_VERSION,
                    help="etcd release whose client tools (etcdctl, etcdutl doubles) are published (empty: none)")
    ap.add_argument("--calico-version", default=DEFAULT_CALICO_VERSION,
                    help="Calico release the Tigera operator manifest double is published as (empty: none)")
    ap.add_argument("--helm", help="a real helm (linux/amd64) to publish under get.helm.sh/ as its release archive")
    a = ap.parse_args(argv)
    vs = [v.strip() for v in a.versions.split(",") if v.strip()]
    kvs = [v.strip() for v in a.kube_versions.split(",") if v.strip()]
    try:
        for v in vs:
            _v.parse_tag(v)
        for v in kvs:
            _kv.parse_tag(v)
    except ValueError as e:
        ap.error(str(e))
    if a.calico_version and not re.match(r"^v[0-9]+\.[0-9]+\.[0-9]+$", a.calico_version):
        ap.error("invalid Calico version %r (want vMAJOR.MINOR.PATCH)" % a.calico_version)
    built = build(os.path.abspath(a.out), vs)
    if kvs:
        built += ["kubeadm/kubelet %s" % k for k in build_kube(os.path.abspath(a.out), kvs)]
        built.append(build_kube_images(os.path.abspath(a.out), kvs))
    if a.etcd_version and not re.match(r"^v[0-9]+\.[0-9]+\.[0-9]+$", a.etcd_version):
        ap.error("invalid etcd version %r (want vMAJOR.MINOR.PATCH)" % a.etcd_version)
    if a.etcd_version:
        built.append(build_etcd(os.path.abspath(a.out), a.etcd_version))
    if a.calico_version:
        built.append(build_calico(os.path.abspath(a.out), a.calico_version))
    built.append(build_charts(os.path.abspath(a.out)))
    if a.helm:
        built.append(publish_helm(os.path.abspath(a.out), a.helm))
    if a.kubectl:
        built.append(publish_kubectl(os.path.abspath(a.out), a.kubectl))
        version, arch = kubectl_version(a.kubectl)
        if arch == PKGS_ARCH:
            built.append(build_pkgs(os.path.abspath(a.out), version, a.kubectl))
    if a.debian_containerd:
        built += publish_debian_containerd(os.path.abspath(a.out))
    print("built %s into %s" % (", ".join(built), a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
