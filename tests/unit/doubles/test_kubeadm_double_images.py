"""kubeadm double: the control-plane image list (kubeadm/images.py), ``kubeadm config images list`` and the
images of the static Pod manifests."""
import json
import subprocess

import pytest

from kubeadm_double_helpers import KUBE, kadm_bin, kubelet_bin, make_node  # noqa: F401

from kubeadm import images  # noqa: E402  (tests/doubles is on sys.path via k3s_double_helpers)

DEFAULT = ["registry.k8s.io/kube-apiserver:v1.35.2", "registry.k8s.io/kube-controller-manager:v1.35.2",
           "registry.k8s.io/kube-scheduler:v1.35.2", "registry.k8s.io/kube-proxy:v1.35.2",
           "registry.k8s.io/coredns/coredns:v1.13.1", "registry.k8s.io/pause:3.10.1",
           "registry.k8s.io/etcd:3.6.6-0"]


def test_default_list_is_kubeadm_1_35s_in_its_order():
    assert images.control_plane_images({"kubernetesVersion": "v1.35.2", "etcd": {"local": {}}}) == DEFAULT
    # an undefaulted configuration (no etcd section, no imageRepository) is a local-etcd one on registry.k8s.io
    assert images.control_plane_images({"kubernetesVersion": "v1.35.2"}) == DEFAULT


def test_custom_image_repository_has_no_coredns_subpath():
    got = images.control_plane_images({"kubernetesVersion": "v1.35.2", "imageRepository": "mirror.example/k8s"})
    assert got == ["mirror.example/k8s/kube-apiserver:v1.35.2", "mirror.example/k8s/kube-controller-manager:v1.35.2",
                   "mirror.example/k8s/kube-scheduler:v1.35.2", "mirror.example/k8s/kube-proxy:v1.35.2",
                   "mirror.example/k8s/coredns:v1.13.1", "mirror.example/k8s/pause:3.10.1",
                   "mirror.example/k8s/etcd:3.6.6-0"]


def test_dns_and_etcd_overrides():
    got = images.component_images({
        "kubernetesVersion": "v1.35.2", "imageRepository": "mirror.example/k8s",
        "dns": {"imageRepository": "registry.k8s.io", "imageTag": "v1.12.0"},
        "etcd": {"local": {"imageRepository": "quay.io/coreos", "imageTag": "v3.6.7"}}})
    # the default registry, given explicitly for CoreDNS, still gets the coredns/coredns path
    assert got["coredns"] == "registry.k8s.io/coredns/coredns:v1.12.0"
    assert got["etcd"] == "quay.io/coreos/etcd:v3.6.7"
    # pause follows imageRepository only
    assert got["pause"] == "mirror.example/k8s/pause:3.10.1"
    got = images.component_images({"kubernetesVersion": "v1.35.2", "dns": {"imageRepository": "dns.example"}})
    assert got["coredns"] == "dns.example/coredns:v1.13.1"


def test_external_etcd_and_disabled_addons_leave_their_images_out():
    got = images.control_plane_images({"kubernetesVersion": "v1.35.2",
                                       "etcd": {"external": {"endpoints": ["https://10.0.0.5:2379"]}},
                                       "dns": {"disabled": True}, "proxy": {"disabled": True}})
    assert got == ["registry.k8s.io/kube-apiserver:v1.35.2", "registry.k8s.io/kube-controller-manager:v1.35.2",
                   "registry.k8s.io/kube-scheduler:v1.35.2", "registry.k8s.io/pause:3.10.1"]


@pytest.mark.parametrize("version,tag", [("v1.35.2", "v1.35.2"), ("1.35.2", "v1.35.2"),
                                         ("v1.35.2+build.1", "v1.35.2_build.1")])
def test_kubernetes_version_to_image_tag(version, tag):
    assert images.image_tag(version) == tag


@pytest.mark.parametrize("ref,normal", [
    ("registry.k8s.io/pause:3.10.1", "registry.k8s.io/pause:3.10.1"),
    ("pause:3.10.1", "docker.io/library/pause:3.10.1"),
    ("rancher/mirrored-pause:3.6", "docker.io/rancher/mirrored-pause:3.6"),
    ("localhost:5000/k8s/etcd:3.6.6-0", "localhost:5000/k8s/etcd:3.6.6-0"),
    ("busybox", "docker.io/library/busybox:latest"),
    ("registry.k8s.io/pause@sha256:" + "a" * 64, "registry.k8s.io/pause@sha256:" + "a" * 64),
])
def test_reference_normalization(ref, normal):
    assert images.normalize_reference(ref) == normal


# --- kubeadm config images list ---------------------------------------------------------------

def kubeadm(binary, args, **kw):
    return subprocess.run([binary] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=60, **kw)


def test_config_images_list_text(kadm_bin):
    r = kubeadm(kadm_bin, ["config", "images", "list", "--kubernetes-version", KUBE])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "\n".join(DEFAULT) + "\n"


def test_config_images_list_without_a_version_falls_back_to_its_own(kadm_bin):
    r = kubeadm(kadm_bin, ["config", "images", "list"])
    assert r.returncode == 0 and r.stdout == "\n".join(DEFAULT) + "\n"
    assert "falling back to the local client version: v1.35.2" in r.stderr


def test_config_images_list_json_and_yaml(kadm_bin):
    r = kubeadm(kadm_bin, ["config", "images", "list", "--kubernetes-version", "1.35.0", "--image-repository",
                           "mirror.example/k8s", "-o", "json"])
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert list(doc) == ["kind", "apiVersion", "images"]
    assert doc["kind"] == "Images" and doc["apiVersion"] == "output.kubeadm.k8s.io/v1alpha3"
    assert doc["images"][0] == "mirror.example/k8s/kube-apiserver:v1.35.0"
    assert doc["images"][4] == "mirror.example/k8s/coredns:v1.13.1"
    assert r.stdout.startswith('{\n    "kind": "Images",\n    "apiVersion": "output.kubeadm.k8s.io/v1alpha3",\n'
                               '    "images": [\n        "mirror.example/k8s/kube-apiserver:v1.35.0",\n')
    r = kubeadm(kadm_bin, ["config", "images", "list", "--kubernetes-version", KUBE, "--output=yaml"])
    assert r.stdout == ("apiVersion: output.kubeadm.k8s.io/v1alpha3\nimages:\n" +
                        "".join("- %s\n" % i for i in DEFAULT) + "kind: Images\n")


def test_config_images_list_from_a_config_file(kadm_bin, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.35.1\n"
                   "imageRepository: mirror.example\ndns:\n  imageTag: v1.13.2\netcd:\n  external:\n    endpoints:\n"
                   "    - https://10.0.0.5:2379\n")
    # with --config the file decides; the flags that set the same fields are not applied
    r = kubeadm(kadm_bin, ["config", "images", "list", "--config", str(cfg), "--kubernetes-version", "v1.34.0"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["mirror.example/kube-apiserver:v1.35.1",
                                     "mirror.example/kube-controller-manager:v1.35.1",
                                     "mirror.example/kube-scheduler:v1.35.1", "mirror.example/kube-proxy:v1.35.1",
                                     "mirror.example/coredns:v1.13.2", "mirror.example/pause:3.10.1"]


def test_config_images_list_refusals(kadm_bin, tmp_path):
    r = kubeadm(kadm_bin, ["config", "images", "list", "--kubernetes-version", KUBE, "-o", "wide"])
    assert r.returncode == 1
    assert r.stderr.startswith('error: could not construct output printer: unable to match a printer suitable '
                               'for the output format "wide", allowed formats are: ')
    r = kubeadm(kadm_bin, ["config", "images", "list", "extra"])
    assert r.returncode == 1 and 'unknown command "extra" for "kubeadm config images list"' in r.stderr
    r = kubeadm(kadm_bin, ["config", "images", "list", "--config", str(tmp_path / "missing.yaml")])
    assert r.returncode == 1 and "unable to read config from" in r.stderr
    r = kubeadm(kadm_bin, ["config", "images", "pull"])
    assert r.returncode == 1 and "not implemented by the kubeforge kubeadm test double" in r.stderr


def test_static_pod_manifests_use_the_same_images(make_node):
    n = make_node()
    extra = "imageRepository: mirror.example/k8s\n"
    n.write("/c.yaml", n.init_config(timeouts="2s", extra_cluster=extra).replace(
        "etcd:\n  local:\n", "etcd:\n  local:\n    imageTag: 3.6.7-0\n"))
    want = images.component_images({"kubernetesVersion": KUBE, "imageRepository": "mirror.example/k8s",
                                    "etcd": {"local": {"imageTag": "3.6.7-0"}}})
    n.set_images(list(want.values()))
    n.kubeadm(["init", "--config", "/c.yaml"])
    for comp in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"):
        assert "    image: %s\n" % want[comp] in n.read("/etc/kubernetes/manifests/%s.yaml" % comp)
    assert want["etcd"] == "mirror.example/k8s/etcd:3.6.7-0"
