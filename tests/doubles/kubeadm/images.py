"""The container images kubeadm v1.34 and v1.35 use (cmd/kubeadm/app/images, cmd/kubeadm/app/constants).

Pure functions of a ClusterConfiguration given as a dict. This module imports nothing from
the rest of the double, so tests/testbed/kubeadm_images.py (the airgap archive builder)
imports it straight from the source tree: one list for ``kubeadm config images list``, the
ImagePull preflight check, the static Pod manifests, ``kubeadm upgrade`` and the archive.

What a kubeadm binary pins depends on ITS minor: the pause image (constants.PauseVersion) and
CoreDNS (constants.CoreDNSVersion) are constants of the binary; etcd comes from the binary's
constants.SupportedEtcdVersion table, looked up with the minor of the Kubernetes version being
deployed (EtcdSupportedVersion; a minor missing from the table takes the nearest entry, with a
warning in kubeadm). The callers in the double pass their own version as ``kubeadm_version``; the
archive builder passes none, which means a kubeadm of the version it builds the archive for.
"""
from __future__ import annotations

DEFAULT_IMAGE_REPOSITORY = "registry.k8s.io"
# kubeadm minor -> its pinned versions. 1.34: PauseVersion "3.10.1", CoreDNSVersion "v1.12.1", etcd "3.6.5-0"
# for 1.34 (DefaultEtcdVersion since v1.34.2; v1.34.0 and v1.34.1 pinned 3.6.4-0). 1.35: "3.10.1", "v1.13.1",
# "3.6.6-0"; kubeadm 1.35 also suggests etcd 3.6.6-0 for a v1.34 target (its `upgrade plan` shows 3.6.6-0 as
# the etcd of "the latest version in the v1.34 series"). The other rows of the real tables are not modelled.
PINNED = {
    34: {"pause": "3.10.1", "coredns": "v1.12.1", "etcd": {34: "3.6.5-0"}},
    35: {"pause": "3.10.1", "coredns": "v1.13.1", "etcd": {34: "3.6.6-0", 35: "3.6.6-0"}},
}
# kubeadm 1.35's pinned versions (the double's default build), kept for the callers that name them.
PAUSE_VERSION = PINNED[35]["pause"]
ETCD_VERSION = PINNED[35]["etcd"][35]
COREDNS_VERSION = PINNED[35]["coredns"]
KUBERNETES_COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")


def minor_of(version: str | None) -> int | None:
    """The minor of "v1.35.2" / "1.35.2" / "v1.36.0-rc.1"; None when it cannot be read."""
    v = str(version or "").lstrip("v").split("+", 1)[0]
    parts = v.split(".")
    if len(parts) < 2:
        return None
    try:
        return int(parts[1].split("-", 1)[0])
    except ValueError:
        return None


def _nearest(table: dict, minor: int | None) -> object:
    """EtcdSupportedVersion's fallback: the row of that minor, else the nearest end of the table."""
    if minor in table:
        return table[minor]
    keys = sorted(table)
    if minor is None or minor > keys[-1]:
        return table[keys[-1]]
    return table[keys[0]]


def pinned(kubeadm_version: str | None, kubernetes_version: str | None) -> dict:
    """{"pause", "coredns", "etcd"} of a kubeadm of ``kubeadm_version`` deploying ``kubernetes_version``
    (kubeadm_version None: a kubeadm of the deployed version)."""
    row = _nearest(PINNED, minor_of(kubeadm_version or kubernetes_version))
    return {"pause": row["pause"], "coredns": row["coredns"],
            "etcd": _nearest(row["etcd"], minor_of(kubernetes_version))}


def image_tag(kubernetes_version):
    """KubernetesVersionToImageTag of a normalized version: "1.35.2" -> "v1.35.2", "+" -> "_"."""
    v = str(kubernetes_version or "")
    if v[:1].isdigit():
        v = "v" + v
    return v.replace("+", "_")


def component_images(cluster: dict, kubeadm_version: str | None = None) -> dict:
    """GetControlPlaneImages of a kubeadm of ``kubeadm_version`` as an ordered dict, component -> image reference.

    kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy (unless proxy.disabled),
    coredns (unless dns.disabled), pause, etcd (local etcd only). The Kubernetes images and pause
    come from imageRepository; CoreDNS from dns.imageRepository or imageRepository, under
    ``coredns/coredns`` only for the default registry.k8s.io (kubeadm's handling of the renamed
    official image), tag dns.imageTag or CoreDNS's pinned version; etcd from
    etcd.local.imageRepository/imageTag or imageRepository and the pinned etcd version.
    """
    repo = cluster.get("imageRepository") or DEFAULT_IMAGE_REPOSITORY
    tag = image_tag(cluster.get("kubernetesVersion"))
    pins = pinned(kubeadm_version, cluster.get("kubernetesVersion"))
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
        out["coredns"] = "%s/coredns:%s" % (dns_repo, dns.get("imageTag") or pins["coredns"])
    out["pause"] = "%s/pause:%s" % (repo, pins["pause"])
    etcd = cluster.get("etcd") or {}
    local = etcd.get("local")
    if local is not None or not etcd.get("external"):
        local = local or {}
        out["etcd"] = "%s/etcd:%s" % (local.get("imageRepository") or repo, local.get("imageTag") or pins["etcd"])
    return out


def control_plane_images(cluster: dict, kubeadm_version: str | None = None) -> list:
    """The list ``kubeadm config images list`` prints and the ImagePull check pulls, in kubeadm's order."""
    return list(component_images(cluster, kubeadm_version).values())


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
