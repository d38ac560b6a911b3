"""build.py determinism/asset layout and mirror.py HTTP behaviour."""
import hashlib
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request

import pytest

from k3s_double_helpers import DOUBLES, NEW, OLD, OLDEST, asset_dir, free_port

import build  # noqa: E402  (tests/doubles is on sys.path via k3s_double_helpers)

ASSETS = {"amd64": ["k3s", "k3s-airgap-images-amd64.tar.gz", "k3s-images.txt"],
          "arm64": ["k3s-airgap-images-arm64.tar.gz", "k3s-arm64", "k3s-images.txt"],
          "arm": ["k3s-airgap-images-arm.tar.gz", "k3s-armhf", "k3s-images.txt"]}


def tree_digest(root):
    out = {}
    for dp, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dp, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = (hashlib.sha256(fh.read()).hexdigest(), os.stat(p).st_mode & 0o777)
    return out


def test_build_is_deterministic(release_root, tmp_path):
    other = tmp_path / "again"
    subprocess.run([sys.executable, os.path.join(DOUBLES, "build.py"), "--out", str(other),
                    "--versions", "%s,%s,%s" % (NEW, OLDEST, OLD)], check=True, stdout=subprocess.DEVNULL)
    assert tree_digest(str(release_root)) == tree_digest(str(other))


def test_build_rejects_bad_version(tmp_path):
    r = subprocess.run([sys.executable, os.path.join(DOUBLES, "build.py"), "--out", str(tmp_path),
                        "--versions", "1.35"], stderr=subprocess.PIPE, text=True)
    assert r.returncode != 0 and "invalid k3s version tag" in r.stderr


@pytest.mark.parametrize("arch", sorted(ASSETS))
def test_sha256_files(release_root, arch):
    d = asset_dir(release_root, NEW)
    lines = open(os.path.join(d, "sha256sum-%s.txt" % arch)).read().splitlines()
    names = [l.split("  ", 1)[1] for l in lines]
    assert names == ASSETS[arch]
    for l in lines:
        digest, name = l.split("  ", 1)
        with open(os.path.join(d, name), "rb") as fh:
            assert hashlib.sha256(fh.read()).hexdigest() == digest
    r = subprocess.run(["sha256sum", "--check", "--quiet", "sha256sum-%s.txt" % arch], cwd=d)
    assert r.returncode == 0


def test_binaries_are_single_executable_files(release_root):
    d = asset_dir(release_root, NEW)
    for b in ("k3s", "k3s-arm64", "k3s-armhf"):
        p = os.path.join(d, b)
        assert os.stat(p).st_mode & 0o777 == 0o755
        with open(p, "rb") as fh:
            assert fh.readline() == b"#!/usr/bin/env python3\n"
    with tarfile.open(os.path.join(d, "k3s-airgap-images-amd64.tar.gz")) as tf:
        assert "manifest.json" in tf.getnames()


def test_channels_json(release_root):
    ch = json.load(open(os.path.join(str(release_root), "v1-release", "channels.json")))["channels"]
    assert {c["name"]: c["latest"] for c in ch} == {"stable": NEW, "latest": NEW, "v1.33": OLDEST, "v1.34": OLD,
                                                     "v1.35": NEW}
    assert [c["name"] for c in ch] == ["stable", "latest", "v1.33", "v1.34", "v1.35"]


def test_default_versions_are_three_minors_of_the_release_root():
    """The mirror of the scenarios (build.py's defaults) serves three minors, one channel each, as release_root."""
    assert build.DEFAULT_VERSIONS == [OLDEST, OLD, NEW]
    assert [build._v.parse_tag(t)[1] for t in build.DEFAULT_VERSIONS] == [33, 34, 35]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


@pytest.fixture
def mirror(release_root, tmp_path):
    port = free_port()
    pidfile = tmp_path / "mirror.pid"
    p = subprocess.Popen([sys.executable, os.path.join(DOUBLES, "mirror.py"), "--root", str(release_root),
                          "--port", str(port), "--pidfile", str(pidfile), "--log", str(tmp_path / "access.log")],
                         stderr=subprocess.PIPE)
    for _ in range(100):
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/v1-release/channels" % port, timeout=1).read()
            break
        except OSError:
            time.sleep(0.05)
    yield "http://127.0.0.1:%d" % port, p, pidfile
    if p.poll() is None:
        p.kill()
        p.wait()


def test_mirror_serves_files_and_channels(mirror, release_root):
    base, proc, pidfile = mirror
    assert int(pidfile.read_text()) == proc.pid
    want = open(os.path.join(asset_dir(release_root, NEW), "k3s"), "rb").read()
    for enc in ("v1.35.1%2Bk3s1", "v1.35.1+k3s1"):
        got = urllib.request.urlopen("%s/k3s-io/k3s/releases/download/%s/k3s" % (base, enc)).read()
        assert got == want
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(base + "/k3s-io/k3s/releases/download/v9.9.9%2Bk3s1/k3s")
    assert ei.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(base + "/../../etc/passwd")
    assert ei.value.code == 404
    coll = json.loads(urllib.request.urlopen(base + "/v1-release/channels").read())
    assert coll["type"] == "collection"
    stable = [c for c in coll["data"] if c["id"] == "stable"][0]
    assert stable == {"id": "stable", "type": "channel", "name": "stable", "latest": NEW,
                      "links": {"self": base + "/v1-release/channels/stable"}}
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as ei:
        opener.open(base + "/v1-release/channels/v1.34")
    assert ei.value.code == 302
    assert ei.value.headers["Location"] == "https://github.com/k3s-io/k3s/releases/tag/" + OLD
    with pytest.raises(urllib.error.HTTPError) as ei:
        opener.open(base + "/v1-release/channels/nope")
    assert ei.value.code == 404
    assert json.loads(ei.value.read())["code"] == "NotFound"


def test_mirror_sigterm(mirror):
    base, proc, pidfile = mirror
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert not pidfile.exists()


def test_tigera_operator_manifest_double_and_its_digest(release_root):
    d = os.path.join(str(release_root), "projectcalico", "calico", "v3.30.3", "manifests")
    data = open(os.path.join(d, "tigera-operator.yaml"), "rb").read()
    assert data == open(os.path.join(DOUBLES, "calico", "tigera-operator.yaml"), "rb").read()
    assert data.startswith(b"# TEST DOUBLE")
    assert open(os.path.join(d, "tigera-operator.yaml.sha256")).read() == hashlib.sha256(data).hexdigest()


def test_mirror_serves_the_tigera_operator_manifest(mirror, release_root):
    base = mirror[0]
    got = urllib.request.urlopen(base + "/projectcalico/calico/v3.30.3/manifests/tigera-operator.yaml").read()
    assert got == open(os.path.join(DOUBLES, "calico", "tigera-operator.yaml"), "rb").read()
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(base + "/projectcalico/calico/v3.29.0/manifests/tigera-operator.yaml")
    assert ei.value.code == 404


def test_build_rejects_bad_calico_version(tmp_path):
    r = subprocess.run([sys.executable, os.path.join(DOUBLES, "build.py"), "--out", str(tmp_path),
                        "--calico-version", "3.30"], stderr=subprocess.PIPE, text=True)
    assert r.returncode != 0 and "invalid Calico version" in r.stderr


# --------------------------------------------------------------------------
# Helm: the test charts as a chart repository, the real helm as get.helm.sh publishes it

CHARTS = {"kf-hello": ("0.1.0", "0.1.0"), "kf-widgets": ("0.1.0", "0.1.0"), "argo-cd": ("9.1.0", "v3.2.0")}
HELM = os.path.join(os.path.dirname(sys.executable), "helm")


def test_chart_repository_index(release_root):
    import yaml
    d = os.path.join(str(release_root), "charts")
    assert sorted(os.listdir(d)) == sorted(["index.yaml"] + ["%s-%s.tgz" % (n, v) for n, (v, _) in CHARTS.items()])
    index = yaml.safe_load(open(os.path.join(d, "index.yaml")))
    assert index["apiVersion"] == "v1" and index["generated"] == build.HELM_CREATED
    assert sorted(index["entries"]) == sorted(CHARTS)
    for name, (version, app_version) in CHARTS.items():
        [entry] = index["entries"][name]
        filename = "%s-%s.tgz" % (name, version)
        with open(os.path.join(d, filename), "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        assert (entry["name"], entry["version"], entry["appVersion"], entry["apiVersion"]) == \
            (name, version, app_version, "v2")
        assert entry["digest"] == digest and entry["urls"] == [filename] and entry["created"] == build.HELM_CREATED
        assert entry["description"]


def test_chart_archives_are_laid_out_like_helm_package(release_root):
    d = os.path.join(str(release_root), "charts")
    members = {}
    for name, (version, _) in CHARTS.items():
        with tarfile.open(os.path.join(d, "%s-%s.tgz" % (name, version))) as tf:
            infos = tf.getmembers()
            members[name] = [i.name for i in infos]
            # helm's chartutil.Save: files only, under <name>/, Chart.yaml first, then values.yaml, mode 0644
            assert all(i.isfile() and i.mode == 0o644 and i.mtime == build.HELM_EPOCH and i.uid == 0 for i in infos)
            assert members[name][:2] == ["%s/Chart.yaml" % name, "%s/values.yaml" % name]
            src = os.path.join(DOUBLES, "charts", name, "values.yaml")
            assert tf.extractfile("%s/values.yaml" % name).read() == open(src, "rb").read()
    assert members["kf-hello"][2:] == ["kf-hello/templates/configmap.yaml", "kf-hello/templates/serviceaccount.yaml"]
    assert members["kf-widgets"][2:] == ["kf-widgets/templates/widget.yaml", "kf-widgets/crds/widgets.yaml"]
    assert sorted(m for m in members["argo-cd"] if "/crds/" in m) == [
        "argo-cd/templates/crds/crd-application.yaml", "argo-cd/templates/crds/crd-applicationset.yaml",
        "argo-cd/templates/crds/crd-project.yaml"]


def test_chart_metadata_is_checked(tmp_path):
    assert build.chart_metadata('apiVersion: v2\nname: "x"\n# c\nversion: 0.1.0\nkeywords:\n- a\n') == {
        "apiVersion": "v2", "name": "x", "version": "0.1.0", "keywords": ""}
    with pytest.raises(ValueError, match="version is required"):
        build.chart_metadata("apiVersion: v2\nname: x\n")
    (tmp_path / "y").mkdir()
    (tmp_path / "y" / "Chart.yaml").write_text("apiVersion: v2\nname: z\nversion: 1.0.0\n")
    with pytest.raises(ValueError, match="names the chart 'z'"):
        build.chart_archive(str(tmp_path / "y"))


def test_mirror_serves_the_chart_repository(mirror, release_root):
    base = mirror[0]
    got = urllib.request.urlopen(base + "/charts/index.yaml").read()
    assert got == open(os.path.join(str(release_root), "charts", "index.yaml"), "rb").read()
    got = urllib.request.urlopen(base + "/charts/kf-hello-0.1.0.tgz").read()
    assert got == open(os.path.join(str(release_root), "charts", "kf-hello-0.1.0.tgz"), "rb").read()


@pytest.mark.skipif(not os.access(HELM, os.X_OK), reason="no helm next to %s (tests/testbed/setup.sh extracts it)"
                    % sys.executable)
def test_helm_published_like_get_helm_sh(tmp_path):
    def run_build():
        subprocess.run([sys.executable, os.path.join(DOUBLES, "build.py"), "--out", str(tmp_path), "--versions", NEW,
                        "--kube-versions", "", "--etcd-version", "", "--calico-version", "", "--helm", HELM],
                       check=True, stdout=subprocess.DEVNULL)
    run_build()
    version = subprocess.run([HELM, "version", "--template", "{{.Version}}"], check=True, capture_output=True,
                             text=True).stdout
    d = tmp_path / "get.helm.sh"
    name = "helm-%s-linux-amd64.tar.gz" % version
    assert sorted(os.listdir(str(d))) == [name, name + ".sha256", name + ".sha256sum"]
    data = (d / name).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    assert (d / (name + ".sha256sum")).read_text() == "%s  %s\n" % (digest, name)
    assert (d / (name + ".sha256")).read_text() == digest + "\n"
    assert subprocess.run(["sha256sum", "--check", "--quiet", name + ".sha256sum"], cwd=str(d)).returncode == 0
    with tarfile.open(str(d / name)) as tf:
        infos = tf.getmembers()
        assert [(i.name, i.isdir(), i.mode) for i in infos] == [
            ("linux-amd64", True, 0o755), ("linux-amd64/helm", False, 0o755), ("linux-amd64/LICENSE", False, 0o644),
            ("linux-amd64/README.md", False, 0o644)]
        assert tf.extractfile("linux-amd64/helm").read() == open(HELM, "rb").read()
        assert b"Apache License" in tf.extractfile("linux-amd64/LICENSE").read()
        tf.extractall(str(tmp_path / "x"))
    assert subprocess.run([str(tmp_path / "x" / "linux-amd64" / "helm"), "version", "--template", "{{.Version}}"],
                          capture_output=True, text=True).stdout == version
    # a second build rewrites nothing
    before = {p: os.stat(str(d / p)).st_mtime_ns for p in os.listdir(str(d))}
    run_build()
    assert {p: os.stat(str(d / p)).st_mtime_ns for p in os.listdir(str(d))} == before


def test_helm_of_another_architecture_is_refused(tmp_path):
    fake = tmp_path / "helm"
    # an ELF header of an aarch64 executable (e_machine 0xb7)
    fake.write_bytes(b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x02\x00\xb7\x00" + b"\x00" * 44)
    fake.chmod(0o755)
    with pytest.raises(SystemExit, match="is a linux/arm64 binary; only linux/amd64 helm is published"):
        build.publish_helm(str(tmp_path / "out"), str(fake))
