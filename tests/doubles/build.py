#!/usr/bin/env python3
"""Build a GitHub-release-like tree of kubeforge K3s test doubles, and a
dl.k8s.io-like tree of the kubeadm and kubelet test doubles.

    python3 tests/doubles/build.py --out DIR [--versions v1.34.2+k3s1,v1.35.1+k3s1]
                                   [--kube-versions v1.35.2]

Writes DIR/k3s-io/k3s/releases/download/<version>/{k3s,k3s-arm64,k3s-armhf,
sha256sum-{amd64,arm64,arm}.txt,k3s-airgap-images-{amd64,arm64,arm}.tar.gz,
k3s-images.txt} and DIR/v1-release/channels.json; and
DIR/dl.k8s.io/release/<kube version>/bin/linux/{amd64,arm64,arm}/{kubeadm,kubelet}
with a <file>.sha256 beside each (the hex digest only, as dl.k8s.io publishes
it) and DIR/dl.k8s.io/release/stable.txt (the newest kube version); and the
test-double Tigera operator manifest (calico/tigera-operator.yaml) as
DIR/projectcalico/calico/<calico version>/manifests/tigera-operator.yaml, laid
out like raw.githubusercontent.com, with tigera-operator.yaml.sha256 beside it
for the scenarios to pin (the real release publishes no digest).  Output is
deterministic: the same input gives the same bytes, and unchanged files are not
rewritten.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "k3s")
sys.path.insert(0, HERE)
from k3s import version as _v  # noqa: E402  (only for tag parsing helpers)
from kubeadm import version as _kv  # noqa: E402  (only for tag parsing helpers)

DEFAULT_VERSIONS = ["v1.34.2+k3s1", "v1.35.1+k3s1"]
DEFAULT_KUBE_VERSIONS = ["v1.35.2"]
KUBE_SRC = os.path.join(HERE, "kubeadm")
DEFAULT_CALICO_VERSION = "v3.30.3"
CALICO_MANIFEST = os.path.join(HERE, "calico", "tigera-operator.yaml")
KUBE_ARCHES = ["amd64", "arm64", "arm"]
KUBE_PROGRAMS = ["kubeadm", "kubelet"]
KUBE_PKG = "kubeforge_kubeadm_double"
# the K3s double's modules that the kubeadm/kubelet doubles import (kubeadm/k3slib.py)
K3S_SHARED = ["__init__", "api", "etcd", "klog", "pki", "state"]
ARCHES = [("amd64", "k3s"), ("arm64", "k3s-arm64"), ("arm", "k3s-armhf")]
PKG = "kubeforge_k3s_double"

_BOOT = r'''
import importlib.abc
import importlib.util
import sys


class _DoubleImporter(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname == _PKG:
            return importlib.util.spec_from_loader(fullname, self, is_package=True)
        if fullname.startswith(_PKG + ".") and fullname[len(_PKG) + 1:] in _SOURCES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        name = module.__name__
        key = "__init__" if name == _PKG else name[len(_PKG) + 1:]
        if name == _PKG:
            module.__path__ = []
        code = compile(_SOURCES[key], "<k3s-double>/%s.py" % key, "exec")
        exec(code, module.__dict__)


sys.meta_path.insert(0, _DoubleImporter())
from kubeforge_k3s_double.main import run  # noqa: E402

if __name__ == "__main__":
    run()
'''

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


_KUBE_BOOT = r'''
import importlib.abc
import importlib.util
import sys


class _DoubleImporter(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in _SOURCES:
            return importlib.util.spec_from_loader(fullname, self, is_package=True)
        pkg, _, mod = fullname.rpartition(".")
        if pkg in _SOURCES and mod in _SOURCES[pkg]:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        name = module.__name__
        if name in _SOURCES:
            pkg, key = name, "__init__"
            module.__path__ = []
        else:
            pkg, _, key = name.rpartition(".")
        code = compile(_SOURCES[pkg][key], "<%s>/%s.py" % (pkg, key), "exec")
        exec(code, module.__dict__)


sys.meta_path.insert(0, _DoubleImporter())
from kubeforge_kubeadm_double.main import run  # noqa: E402

if __name__ == "__main__":
    run()
'''


def module_sources(src=None):
    src = src or SRC
    out = {}
    for name in sorted(os.listdir(src)):
        if name.endswith(".py") and name != "__main__.py":
            with open(os.path.join(src, name), encoding="utf-8") as fh:
                out[name[:-3]] = fh.read()
    return out


def render_binary(tag, arch):
    _v.parse_tag(tag)
    srcs = module_sources()
    srcs["buildinfo"] = ('"""Baked by tests/doubles/build.py."""\n\nVERSION = %r\nCOMMIT = %r\nARCH = %r\n'
                         'GO_VERSION = %r\n' % (tag, _v.commit_for(tag), arch, _v.go_version_for(tag)))
    lines = ["#!/usr/bin/env python3",
             "# kubeforge K3s test double %s (%s) linux/%s" % (tag, _v.commit_for(tag), arch),
             "# Generated by tests/doubles/build.py from tests/doubles/k3s/ -- do not edit.",
             "_PKG = %r" % PKG,
             "_SOURCES = {"]
    for k in sorted(srcs):
        lines.append("    %r: %r," % (k, srcs[k]))
    lines.append("}")
    return ("\n".join(lines) + "\n" + _BOOT).encode()


def kube_tag(tag):
    ma, mi, pa = _kv.parse_tag(tag)
    return ma, mi, pa


def render_kube_binary(tag, arch, program):
    """One executable Python file: the kubeadm double package + the K3s modules it imports."""
    kube_tag(tag)
    own = module_sources(KUBE_SRC)
    own["buildinfo"] = ('"""Baked by tests/doubles/build.py."""\n\nVERSION = %r\nPROGRAM = %r\nARCH = %r\n'
                        'GIT_COMMIT = %r\nGO_VERSION = %r\n' % (tag, program, arch, _kv.commit_for(tag),
                                                                _kv.go_version_for(tag)))
    k3s = {k: v for k, v in module_sources(SRC).items() if k in K3S_SHARED}
    srcs = {PKG: k3s, KUBE_PKG: own}
    lines = ["#!/usr/bin/env python3",
             "# kubeforge %s test double %s (%s) linux/%s" % (program, tag, _kv.commit_for(tag)[:8], arch),
             "# Generated by tests/doubles/build.py from tests/doubles/kubeadm/ and tests/doubles/k3s/ -- do not edit.",
             "_SOURCES = {"]
    for pkg in sorted(srcs):
        lines.append("    %r: {" % pkg)
        for k in sorted(srcs[pkg]):
            lines.append("        %r: %r," % (k, srcs[pkg][k]))
        lines.append("    },")
    lines.append("}")
    return ("\n".join(lines) + "\n" + _KUBE_BOOT).encode()


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
    return versions


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
    """The test-double Tigera operator manifest where the mirror source of the cni
    role looks for it (<mirror>/<version>/manifests/tigera-operator.yaml), and its
    bare hex sha256 in tigera-operator.yaml.sha256."""
    with open(CALICO_MANIFEST, "rb") as fh:
        data = fh.read()
    d = os.path.join(out, "projectcalico", "calico", version, "manifests")
    write_if_changed(os.path.join(d, "tigera-operator.yaml"), data)
    write_if_changed(os.path.join(d, "tigera-operator.yaml.sha256"), hashlib.sha256(data).hexdigest().encode())
    return "Tigera operator manifest double for Calico %s" % version


def publish_kubectl(out, kubectl):
    """Lay a real kubectl out as dl.k8s.io does: release/<version>/bin/linux/<arch>/kubectl and
    kubectl.sha256 (the bare hex digest). The version and architecture are the binary's own."""
    info = json.loads(subprocess.run([kubectl, "version", "--client", "-o", "json"], check=True,
                                     capture_output=True, text=True).stdout)["clientVersion"]
    version, arch = info["gitVersion"], info["platform"].split("/")[1]
    with open(kubectl, "rb") as fh:
        data = fh.read()
    d = os.path.join(out, "dl.k8s.io", "release", version, "bin", "linux", arch)
    write_if_changed(os.path.join(d, "kubectl"), data, 0o755)
    write_if_changed(os.path.join(d, "kubectl.sha256"), hashlib.sha256(data).hexdigest().encode())
    return "real kubectl %s/%s" % (version, arch)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--versions", default=",".join(DEFAULT_VERSIONS))
    ap.add_argument("--kubectl", help="a real kubectl to publish under dl.k8s.io/release/<its version>/")
    ap.add_argument("--kube-versions", default=",".join(DEFAULT_KUBE_VERSIONS),
                    help="kubeadm/kubelet double versions (vMAJOR.MINOR.PATCH, comma-separated; empty: none)")
    ap.add_argument("--calico-version", default=DEFAULT_CALICO_VERSION,
                    help="Calico release the Tigera operator manifest double is published as (empty: none)")
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
    if a.calico_version:
        built.append(build_calico(os.path.abspath(a.out), a.calico_version))
    if a.kubectl:
        built.append(publish_kubectl(os.path.abspath(a.out), a.kubectl))
    print("built %s into %s" % (", ".join(built), a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
