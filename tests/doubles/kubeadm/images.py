"""The container images kubeadm v1.35 uses (cmd/kubeadm/app/images, cmd/kubeadm/app/constants).

Pure functions of a ClusterConfiguration given as a dict. This module imports nothing from
the rest of the double, so tests/testbed/kubeadm_images.py (the airgap archive builder)
imports it straight from the source tree: one list for ``kubeadm config images list``, the
ImagePull preflight check, the static Pod manifests and the archive.
"""

DEFAULT_IMAGE_REPOSITORY = "registry.k8s.io"
# kubeadm 1.35's pinned versions (constants.PauseVersion, DefaultEtcdVersion, CoreDNSVersion).
PAUSE_VERSION = "3.10.1"
ETCD_VERSION = "3.6.6-0"
COREDNS_VERSION = "v1.13.1"
KUBERNETES_COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")


def image_tag(kubernetes_version):
    """KubernetesVersionToImageTag of a normalized version: "1.35.2" -> "v1.35.2", "+" -> "_"."""
    v = str(kubernetes_version or "")
    if v[:1].isdigit():
        v = "v" + v
    return v.replace("+", "_")


def component_images(cluster):
    """GetControlPlaneImages as an ordered dict, component -> image reference.

    kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy (unless proxy.disabled),
    coredns (unless dns.disabled), pause, etcd (local etcd only). The Kubernetes images and pause
    come from imageRepository; CoreDNS from dns.imageRepository or imageRepository, under
    ``coredns/coredns`` only for the default registry.k8s.io (kubeadm's handling of the renamed
    official image), tag dns.imageTag or CoreDNS's pinned version; etcd from
    etcd.local.imageRepository/imageTag or imageRepository and the pinned etcd version.
    """
    repo = cluster.get("imageRepository") or DEFAULT_IMAGE_REPOSITORY
    tag = image_tag(cluster.get("kubernetesVersion"))
    out = {}
    for name in KUBERNETES_COMPONENTS:
        out[name] = "%s/%s:%s" % (repo, name, tag)
    if not (cluster.get("proxy") or {}).get("disabled"):
        out["kube-proxy"] = "%s/kube-proxy:%s" % (repo, tag)
    dns = cluster.get("dns") or {}
    if not dns.get("disabled"):
        dns_repo = dns.get("imageRepository") or repo
        if dns_repo == DEFAULT_IMAGE_REPOSITORY:
            dns_repo += "/coredns"
        out["coredns"] = "%s/coredns:%s" % (dns_repo, dns.get("imageTag") or COREDNS_VERSION)
    out["pause"] = "%s/pause:%s" % (repo, PAUSE_VERSION)
    etcd = cluster.get("etcd") or {}
    local = etcd.get("local")
    if local is not None or not etcd.get("external"):
        local = local or {}
        out["etcd"] = "%s/etcd:%s" % (local.get("imageRepository") or repo, local.get("imageTag") or ETCD_VERSION)
    return out


def control_plane_images(cluster):
    """The list ``kubeadm config images list`` prints and the ImagePull check pulls, in kubeadm's order."""
    return list(component_images(cluster).values())


def split_reference(ref):
    """(domain, path, tag or digest) of a reference after Docker's normalization, which containerd
    applies to every name it stores: ``pause:3.10.1`` -> ("docker.io", "library/pause", "3.10.1")."""
    name, at, digest = ref.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = ""
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
    else:
        domain, path = "docker.io", name
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in path:
        path = "library/" + path
    if at:
        return domain, path, digest
    return domain, path, tag or "latest"


def normalize_reference(ref):
    """The fully qualified name containerd lists for ``ref`` (``docker.io/library/x:tag`` for ``x:tag``)."""
    domain, path, tag = split_reference(ref)
    sep = "@" if "@" in ref else ":"
    return "%s/%s%s%s" % (domain, path, sep, tag)
