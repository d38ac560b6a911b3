"""build.py --kubectl: the pkgs.k8s.io-like signed apt repository of the kubeadm
and kubelet doubles and kubectl (package contents, indexes, signatures)."""
import gzip
import hashlib
import os
import subprocess
import sys

import pytest

from k3s_double_helpers import DOUBLES

VERSION = "1.35.2-1.1"
REPO = os.path.join("pkgs.k8s.io", "core:", "stable:", "v1.35", "deb")
# A kubectl stand-in small enough to package quickly: build.py only asks it its version.
KUBECTL = b"""#!/bin/sh
echo '{"clientVersion": {"gitVersion": "v1.35.2", "platform": "linux/amd64"}}'
"""
FILES = {
    "kubeadm": ["./usr/bin/kubeadm", "./usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"],
    "kubelet": ["./usr/bin/kubelet", "./usr/lib/systemd/system/kubelet.service"],
    "kubectl": ["./usr/bin/kubectl"],
}
DEPENDS = {"kubeadm": "kubelet", "kubelet": "iptables, iproute2, mount", "kubectl": ""}


def build(out, kubectl):
    subprocess.run([sys.executable, os.path.join(DOUBLES, "build.py"), "--out", str(out), "--kubectl", str(kubectl),
                    "--versions", "v1.35.1+k3s1"], check=True, stdout=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def kubectl(tmp_path_factory):
    path = tmp_path_factory.mktemp("bin") / "kubectl"
    path.write_bytes(KUBECTL)
    path.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def tree(tmp_path_factory, kubectl):
    out = tmp_path_factory.mktemp("pkgs")
    build(out, kubectl)
    return out


@pytest.fixture(scope="module")
def repo(tree):
    return tree / REPO


def deb(repo, name):
    return str(repo / "amd64" / ("%s_%s_amd64.deb" % (name, VERSION)))


def stanzas(text):
    out = {}
    for block in text.strip().split("\n\n"):
        fields = {}
        for line in block.splitlines():
            if not line.startswith(" "):
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        out[fields["Package"]] = fields
    return out


def dearmor(repo, tmp_path):
    keyring = tmp_path / "key.gpg"
    with open(repo / "Release.key", "rb") as fh:
        keyring.write_bytes(subprocess.run(["gpg", "--dearmor"], stdin=fh, check=True, capture_output=True).stdout)
    return str(keyring)


@pytest.mark.parametrize("name", sorted(FILES))
def test_deb_contents_and_control(repo, name):
    listing = subprocess.run(["dpkg-deb", "-c", deb(repo, name)], check=True, capture_output=True, text=True).stdout
    rows = [line.split() for line in listing.splitlines()]
    files = sorted(r[5] for r in rows if not r[0].startswith("d"))
    assert files == sorted(FILES[name])
    assert {r[1] for r in rows} == {"root/root"}
    for r in rows:
        if r[0].startswith("d"):
            assert r[0] == "drwxr-xr-x"
        elif r[5].startswith("./usr/bin/"):
            assert r[0] == "-rwxr-xr-x"
        else:
            assert r[0] == "-rw-r--r--"
    fields = subprocess.run(["dpkg-deb", "-f", deb(repo, name), "Package", "Version", "Architecture", "Depends"],
                            check=True, capture_output=True, text=True).stdout
    want = "Package: %s\nVersion: %s\nArchitecture: amd64\n" % (name, VERSION)
    if DEPENDS[name]:
        want += "Depends: %s\n" % DEPENDS[name]
    assert fields == want


def test_package_files(repo, tree, kubectl, tmp_path):
    for name in FILES:
        subprocess.run(["dpkg-deb", "-x", deb(repo, name), str(tmp_path / "root")], check=True)
    root = tmp_path / "root"
    dropin = (root / "usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf").read_text().splitlines()
    assert 'Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf ' \
        '--kubeconfig=/etc/kubernetes/kubelet.conf"' in dropin
    assert 'Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"' in dropin
    assert "EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env" in dropin
    assert "EnvironmentFile=-/etc/default/kubelet" in dropin
    exec_start = [line for line in dropin if line.startswith("ExecStart=")]
    assert exec_start == ["ExecStart=", "ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS "
                          "$KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS"]
    unit = (root / "usr/lib/systemd/system/kubelet.service").read_text().splitlines()
    assert "ExecStart=/usr/bin/kubelet" in unit and "WantedBy=multi-user.target" in unit
    # The doubles are the very files of the dl.k8s.io tree, and kubectl is the one given.
    dl = tree / "dl.k8s.io" / "release" / "v1.35.2" / "bin" / "linux" / "amd64"
    for prog in ("kubeadm", "kubelet"):
        assert (root / "usr/bin" / prog).read_bytes() == (dl / prog).read_bytes()
    assert (root / "usr/bin/kubectl").read_bytes() == KUBECTL


def test_packages_index(repo):
    text = (repo / "Packages").read_text()
    assert gzip.decompress((repo / "Packages.gz").read_bytes()).decode() == text
    entries = stanzas(text)
    assert sorted(entries) == sorted(FILES)
    for name, fields in entries.items():
        with open(repo / fields["Filename"], "rb") as fh:
            data = fh.read()
        assert fields["Filename"] == "amd64/%s_%s_amd64.deb" % (name, VERSION)
        assert fields["Version"] == VERSION and fields["Architecture"] == "amd64"
        assert int(fields["Size"]) == len(data)
        assert fields["SHA256"] == hashlib.sha256(data).hexdigest()


def test_release_lists_the_indexes(repo):
    release = (repo / "Release").read_text()
    sha256 = release.split("SHA256:\n", 1)[1].splitlines()
    listed = {line.split()[2]: (line.split()[0], int(line.split()[1])) for line in sha256 if line.startswith(" ")}
    assert sorted(listed) == ["Packages", "Packages.gz"]
    for name, (digest, size) in listed.items():
        data = (repo / name).read_bytes()
        assert (digest, size) == (hashlib.sha256(data).hexdigest(), len(data))


def test_signatures_verify_with_release_key(repo, tmp_path):
    keyring = dearmor(repo, tmp_path)
    assert (repo / "Release.key").read_text().startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    r = subprocess.run(["gpgv", "--keyring", keyring, str(repo / "InRelease")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["gpgv", "--keyring", keyring, str(repo / "Release.gpg"), str(repo / "Release")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # The clear-signed text is Release itself.
    body = (repo / "InRelease").read_text().split("\n\n", 1)[1].split("-----BEGIN PGP SIGNATURE-----")[0]
    assert body == (repo / "Release").read_text()


def test_tampered_release_is_refused(repo, tmp_path):
    keyring = dearmor(repo, tmp_path)
    release = (repo / "Release").read_text()
    digest = hashlib.sha256((repo / "Packages").read_bytes()).hexdigest()
    forged = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    assert digest in release
    inrelease = tmp_path / "InRelease"
    inrelease.write_text((repo / "InRelease").read_text().replace(digest, forged))
    r = subprocess.run(["gpgv", "--keyring", keyring, str(inrelease)], capture_output=True, text=True)
    assert r.returncode != 0 and "BAD signature" in r.stderr
    tampered = tmp_path / "Release"
    tampered.write_text(release.replace(digest, forged))
    r = subprocess.run(["gpgv", "--keyring", keyring, str(repo / "Release.gpg"), str(tampered)],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "BAD signature" in r.stderr


def test_rebuild_keeps_every_file(tree, repo, kubectl, tmp_path):
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in repo.rglob("*") if p.is_file()}
    build(tree, kubectl)
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in repo.rglob("*") if p.is_file()}
    assert after == before
    # Another tree gets the same packages and indexes; only the throwaway key and signatures differ.
    other = tmp_path / "other"
    build(other, kubectl)
    for rel in ["Packages", "Packages.gz", "Release"] + ["amd64/%s_%s_amd64.deb" % (n, VERSION) for n in FILES]:
        assert (other / REPO / rel).read_bytes() == (repo / rel).read_bytes(), rel


def test_no_repository_without_kubectl(tmp_path):
    subprocess.run([sys.executable, os.path.join(DOUBLES, "build.py"), "--out", str(tmp_path),
                    "--versions", "v1.35.1+k3s1"], check=True, stdout=subprocess.DEVNULL)
    assert not (tmp_path / "pkgs.k8s.io").exists()
