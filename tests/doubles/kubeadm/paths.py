"""Host paths, with the filesystem-root test hook.

``KUBEFORGE_DOUBLE_ROOT`` (TEST HOOK ONLY, never set in Molecule): a directory
prefixed to every absolute path the doubles open (``/etc/kubernetes``,
``/var/lib/kubelet``, ``/var/lib/etcd``, ``/proc/swaps``,
``/proc/sys/net/ipv4/ip_forward``, ``/sys/fs/cgroup/cgroup.controllers``, ``/etc/resolv.conf``, ``/etc/containerd/config.toml``, the image pull log, the CRI
socket path, ``--config`` files...).
File *contents* keep the real paths (``/etc/kubernetes/pki/ca.crt``), so two
doubles that share one root agree; a path that already lies under the root is
used as it is.
"""
import os

ROOT_ENV = "KUBEFORGE_DOUBLE_ROOT"

KUBERNETES_DIR = "/etc/kubernetes"
PKI_DIR = "/etc/kubernetes/pki"
MANIFESTS_DIR = "/etc/kubernetes/manifests"
ADMIN_CONF = "/etc/kubernetes/admin.conf"
SUPER_ADMIN_CONF = "/etc/kubernetes/super-admin.conf"
KUBELET_CONF = "/etc/kubernetes/kubelet.conf"
BOOTSTRAP_KUBELET_CONF = "/etc/kubernetes/bootstrap-kubelet.conf"
CONTROLLER_MANAGER_CONF = "/etc/kubernetes/controller-manager.conf"
SCHEDULER_CONF = "/etc/kubernetes/scheduler.conf"
KUBELET_DIR = "/var/lib/kubelet"
KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
KUBELET_INSTANCE_CONFIG = "/var/lib/kubelet/instance-config.yaml"
KUBEADM_FLAGS_ENV = "/var/lib/kubelet/kubeadm-flags.env"
KUBELET_PKI = "/var/lib/kubelet/pki"
ETCD_DIR = "/var/lib/etcd"
PROC_SWAPS = "/proc/swaps"
IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"
# Present only on a cgroup v2 (unified) host.
CGROUP_CONTROLLERS = "/sys/fs/cgroup/cgroup.controllers"
DEFAULT_CRI_SOCKET = "unix:///var/run/containerd/containerd.sock"
# What the ImagePull preflight check reads: the resolver configuration (the wording of a failed lookup)
# and containerd's configuration (its sandbox image); and where it appends one line per pull attempt.
RESOLV_CONF = "/etc/resolv.conf"
CONTAINERD_CONFIG = "/etc/containerd/config.toml"
IMAGE_PULL_LOG = "/var/log/kubeforge-doubles/image-pulls.log"


def root():
    return (os.environ.get(ROOT_ENV) or "").rstrip("/")


def host(p):
    """The path to open for the logical path ``p``."""
    r = root()
    if not r or not p or not os.path.isabs(p):
        return p
    if p == r or p.startswith(r + "/"):
        return p
    return r + p


def exists(p):
    return os.path.exists(host(p))


def read_text(p):
    with open(host(p), encoding="utf-8") as fh:
        return fh.read()


def read_bytes(p):
    with open(host(p), "rb") as fh:
        return fh.read()


def write(p, data, mode=0o600):
    hp = host(p)
    os.makedirs(os.path.dirname(hp), exist_ok=True)
    tmp = hp + ".tmp%d" % os.getpid()
    with open(tmp, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
    os.chmod(tmp, mode)
    os.replace(tmp, hp)


def makedirs(p, mode=0o755):
    os.makedirs(host(p), mode=mode, exist_ok=True)


def cgroup_v1():
    """True on a host without the unified cgroup hierarchy."""
    return not exists(CGROUP_CONTROLLERS)
