"""Helpers for the kubeadm/kubelet double tests (uniquely named, imported by the test modules).

Every node gets its own short filesystem root under /tmp (KUBEFORGE_DOUBLE_ROOT;
unix socket paths must stay short), a fake /proc/swaps, ip_forward and cgroup
v2 marker (/sys/fs/cgroup/cgroup.controllers; cgroup="v1" leaves it out), and a
throwaway unix socket listener as its CRI socket.  A supervisor thread plays systemd
for the kubelet unit: ``Restart=always`` (kubeadm-flags.env re-read at every start, as
the kubeadm drop-in does), and ``KUBEFORGE_DOUBLE_SYSTEMCTL`` names a fake systemctl
(FAKE_SYSTEMCTL) through which kubeadm stops the kubelet before it writes the kubelet's
files and restarts it afterwards, as it does on a systemd host.  Without that stop, a
kubelet started between the bootstrap kubeconfig and kubeadm-flags.env could finish
the TLS bootstrap under the machine's hostname (kubeadm's own reason for the stop).

For the ImagePull preflight check every node also gets a fake ``ctr`` first on its
PATH (``<root>/fakebin/ctr``, see FAKE_CTR: it holds the images listed in
``<root>/fake-ctr/images``: by default kubeadm's control-plane images, loaded as the
scenarios load them from an archive, since the double's pulls always fail; images=False
for none), ``/etc/resolv.conf`` naming Docker's
127.0.0.11 and a containerd 1.x ``/etc/containerd/config.toml`` whose sandbox image
is kubeadm's pause image (sandbox=... for another, None for no file).
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from k3s_double_helpers import asset_dir  # noqa: F401  (same release tree as the K3s tests)
from k3s_double_helpers import free_port  # noqa: F401  (one port source for every double test)

KUBE = "v1.35.2"
# What the scenarios import from the test bed's archive before kubeadm runs (the default registry, local etcd).
CONTROL_PLANE_IMAGES = ["registry.k8s.io/%s:%s" % (n, KUBE) for n in
                        ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy")] + [
    "registry.k8s.io/coredns/coredns:v1.13.1", "registry.k8s.io/pause:3.10.1", "registry.k8s.io/etcd:3.6.6-0"]
KUBECTL = [p for p in (os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", ".venv", "bin",
                                    "kubectl"), "/usr/bin/kubectl") if os.path.exists(p)]
TOKEN = "abcdef.0123456789abcdef"


def kube_dir(root, arch, version=KUBE):
    return os.path.join(str(root), "dl.k8s.io", "release", version, "bin", "linux", arch)


@pytest.fixture(scope="session")
def kadm_bin(release_root, host_arch):
    return os.path.join(kube_dir(release_root, host_arch), "kubeadm")


@pytest.fixture(scope="session")
def kubelet_bin(release_root, host_arch):
    return os.path.join(kube_dir(release_root, host_arch), "kubelet")


class CRI:
    """A unix socket that accepts and closes connections (stands in for containerd)."""

    def __init__(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        self.sock.listen(64)
        self.closed = False
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
                c.close()
            except OSError:
                return

    def close(self):
        self.closed = True
        self.sock.close()


# A stand-in for Debian's ctr: ``--version`` prints <root>/fake-ctr/version (containerd 1.6.20 by default);
# any other call is appended to <root>/fake-ctr/calls, then fails with <root>/fake-ctr/fail on stderr when that
# file exists, else ``images list --quiet`` prints <root>/fake-ctr/images.
FAKE_CTR = """#!%s
import os
import sys

d = os.path.join(os.environ["KUBEFORGE_DOUBLE_ROOT"], "fake-ctr")


def read(name, default=""):
    try:
        with open(os.path.join(d, name)) as fh:
            return fh.read()
    except OSError:
        return default


if "--version" in sys.argv[1:]:
    sys.stdout.write(read("version", "ctr github.com/containerd/containerd 1.6.20~ds1\\n"))
    sys.exit(0)
with open(os.path.join(d, "calls"), "a") as fh:
    fh.write(" ".join(sys.argv[1:]) + "\\n")
if os.path.exists(os.path.join(d, "fail")):
    sys.stderr.write(read("fail"))
    sys.exit(1)
if sys.argv[-3:] == ["images", "list", "--quiet"]:
    sys.stdout.write(read("images"))
""" % sys.executable

# A stand-in for systemctl, for the kubelet unit only: every call is appended to <root>/systemctl.log;
# start/restart write a new generation to <root>/systemd/kubelet.want (the supervisor starts a fresh kubelet),
# stop writes "stopped" and returns once the supervisor has no kubelet running (<root>/systemd/kubelet.active
# gone), as ``systemctl stop`` waits for the unit to stop.  Other calls (daemon-reload) succeed.
FAKE_SYSTEMCTL = """#!%s
import os
import sys
import time

root = os.environ["KUBEFORGE_DOUBLE_ROOT"]
d = os.path.join(root, "systemd")
with open(os.path.join(root, "systemctl.log"), "a") as fh:
    fh.write(" ".join(sys.argv[1:]) + "\\n")
args = sys.argv[1:]
if len(args) == 2 and args[0] in ("start", "restart", "stop") and args[1] in ("kubelet", "kubelet.service"):
    want = os.path.join(d, "kubelet.want")
    try:
        gen = int(open(want).read().split()[1])
    except (OSError, IndexError, ValueError):
        gen = 0
    state = "stopped" if args[0] == "stop" else "running"
    tmp = "%%s.tmp%%d" %% (want, os.getpid())
    with open(tmp, "w") as fh:
        fh.write("%%s %%d\\n" %% (state, gen + 1))
    os.replace(tmp, want)
    end = time.time() + 30
    while state == "stopped" and os.path.exists(os.path.join(d, "kubelet.active")) and time.time() < end:
        time.sleep(0.05)
""" % sys.executable

CONTAINERD_CONFIG = """version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "%s"
"""


class Node:
    def __init__(self, kadm, kubelet, name, cri=True, swap=False, ip_forward="1", cgroup="v2", images=True,
                 sandbox="registry.k8s.io/pause:3.10.1"):
        self.kadm, self.kubelet_bin, self.name = kadm, kubelet, name
        self.root = tempfile.mkdtemp(prefix="kf", dir="/tmp")
        os.makedirs(self.path("/proc/sys/net/ipv4"))
        swaps = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
        if swap:
            swaps += "/swapfile                               file\t\t1048572\t\t0\t\t-2\n"
        self.write("/proc/swaps", swaps)
        if ip_forward is not None:
            self.write("/proc/sys/net/ipv4/ip_forward", ip_forward + "\n")
        if cgroup == "v2":
            # what decides cgroup v1 or v2 for the doubles, whatever the test machine runs
            self.write("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n")
        self.cri = CRI(self.path("/var/run/containerd/containerd.sock")) if cri else None
        for name, text in (("ctr", FAKE_CTR), ("systemctl", FAKE_SYSTEMCTL)):
            self.write("/fakebin/" + name, text)
            os.chmod(self.path("/fakebin/" + name), 0o755)
        os.makedirs(self.path("/systemd"))
        os.makedirs(self.path("/fake-ctr"))
        self.set_images(CONTROL_PLANE_IMAGES if images else [])
        self.write("/etc/resolv.conf", "nameserver 127.0.0.11\noptions ndots:0\n")
        if sandbox is not None:
            self.write("/etc/containerd/config.toml", CONTAINERD_CONFIG % sandbox)
        self.env = {"PATH": self.path("/fakebin") + ":" + os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.root,
                    "KUBEFORGE_DOUBLE_ROOT": self.root,
                    "KUBEFORGE_DOUBLE_SYSTEMCTL": self.path("/fakebin/systemctl"),
                    "KUBEFORGE_DOUBLE_EUID": "0"}
        self.ports = {k: free_port() for k in ("api", "healthz", "kubelet", "kcm", "sched", "etcd-client",
                                               "etcd-peer")}
        self.klog = self.path("/kubelet.log")
        self._stop = threading.Event()
        self._thread = None
        self.kubelet_proc = None
        self.starts = 0

    def path(self, p):
        return self.root + p

    def write(self, p, text):
        os.makedirs(os.path.dirname(self.path(p)), exist_ok=True)
        with open(self.path(p), "w") as fh:
            fh.write(text)

    def exists(self, p):
        return os.path.exists(self.path(p))

    def read(self, p):
        with open(self.path(p)) as fh:
            return fh.read()

    def set_images(self, names):
        """The names containerd holds (what ``ctr -n k8s.io images list --quiet`` prints)."""
        self.write("/fake-ctr/images", "".join(n + "\n" for n in names))

    def ctr_calls(self):
        try:
            return self.read("/fake-ctr/calls").splitlines()
        except OSError:
            return []

    def pull_log(self):
        """The image pull log as (time, image, result) tuples."""
        try:
            return [tuple(ln.split("\t", 2)) for ln in self.read("/var/log/kubeforge-doubles/image-pulls.log")
                    .splitlines()]
        except OSError:
            return []

    def kubeadm(self, args, timeout=120, stdin=None):
        return subprocess.run([self.kadm] + list(args), env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout, input=stdin)

    def kubelet_args(self):
        args = ["--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
                "--kubeconfig=/etc/kubernetes/kubelet.conf", "--config=/var/lib/kubelet/config.yaml"]
        try:
            line = self.read("/var/lib/kubelet/kubeadm-flags.env").strip()
            args += line.split("=", 1)[1].strip('"').split()
        except OSError:
            pass
        return args

    def kubelet_once(self, extra=(), timeout=10):
        return subprocess.run([self.kubelet_bin] + self.kubelet_args() + list(extra), env=self.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)

    def systemctl_calls(self):
        try:
            return self.read("/systemctl.log").splitlines()
        except OSError:
            return []

    def _want(self):
        try:
            return self.read("/systemd/kubelet.want").split()
        except OSError:
            return ["stopped", "0"]

    def _set_want(self, state):
        gen = int(self._want()[1]) + 1
        self.write("/systemd/kubelet.want.tmp", "%s %d\n" % (state, gen))
        os.replace(self.path("/systemd/kubelet.want.tmp"), self.path("/systemd/kubelet.want"))

    def start_kubelet(self):
        """The node boots with the kubelet unit enabled: systemd's Restart=always (delay 0.3 s) from now on, and
        the stop/restart kubeadm asks for through the fake systemctl."""
        active = self.path("/systemd/kubelet.active")
        self._set_want("running")

        def loop():
            with open(self.klog, "a") as log:
                while not self._stop.is_set():
                    want = self._want()
                    if want[0] != "running":
                        self._stop.wait(0.05)
                        continue
                    # active first, then the check: a "systemctl stop" from here on waits for this kubelet
                    open(active, "w").close()
                    if self._want() != want:
                        os.unlink(active)
                        continue
                    self.starts += 1
                    p = subprocess.Popen([self.kubelet_bin] + self.kubelet_args(), env=self.env, stdout=log,
                                         stderr=log)
                    self.kubelet_proc = p
                    while p.poll() is None and not self._stop.is_set() and self._want() == want:
                        time.sleep(0.05)
                    if p.poll() is None:
                        p.terminate()
                        try:
                            p.wait(10)
                        except subprocess.TimeoutExpired:
                            p.kill()
                            p.wait()
                    os.unlink(active)
                    if self._want() == want:
                        self._stop.wait(0.3)
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop_kubelet(self):
        self._stop.set()
        if self._thread:
            self._thread.join(20)
        self._thread = None
        self._stop = threading.Event()

    def kubelet_log(self):
        try:
            with open(self.klog) as fh:
                return fh.read()
        except OSError:
            return ""

    def init_cluster(self):
        """``kubeadm init`` with the default configuration and a running kubelet; asserts it succeeded."""
        self.write("/etc/kubernetes/kubeadm-init.yaml", self.init_config())
        self.start_kubelet()
        r = self.kubeadm(["init", "--config", "/etc/kubernetes/kubeadm-init.yaml"])
        assert r.returncode == 0, r.stdout + r.stderr + self.kubelet_log()
        return r

    def close(self):
        self.stop_kubelet()
        if self.cri:
            self.cri.close()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- configuration documents ------------------------------------------------
    def init_config(self, extra_init="", extra_cluster="", extra_kubelet="", timeouts="20s", taints=None):
        p = self.ports
        if taints is not None:
            extra_init = "nodeRegistration:\n  name: %s\n  taints: %s\n  kubeletExtraArgs:\n  - name: node-ip\n" \
                         "    value: 127.0.0.1\n" % (self.name, taints) + extra_init
        return """apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
- token: %s
  description: test token
localAPIEndpoint:
  advertiseAddress: 127.0.0.1
  bindPort: %d
%stimeouts:
  kubeletHealthCheck: %s
  controlPlaneComponentHealthCheck: %s
  kubernetesAPICall: 30s
%s---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: %s
encryptionAlgorithm: ECDSA-P256
networking:
  podSubnet: 10.244.0.0/16
controllerManager:
  extraArgs:
  - name: secure-port
    value: "%d"
scheduler:
  extraArgs:
  - name: secure-port
    value: "%d"
%s%s---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
healthzPort: %d
port: %d
%s""" % (TOKEN, p["api"], "" if taints is not None else
         "nodeRegistration:\n  name: %s\n  kubeletExtraArgs:\n  - name: node-ip\n    value: 127.0.0.1\n" % self.name,
         timeouts, timeouts, extra_init, KUBE, p["kcm"], p["sched"], self.etcd_config(), extra_cluster,
         p["healthz"], p["kubelet"], extra_kubelet)

    def etcd_config(self):
        """Per-node etcd ports (the etcd member listens on them), so that several single control planes
        of the tests can run at once on one machine."""
        c, pp = self.ports["etcd-client"], self.ports["etcd-peer"]
        return """etcd:
  local:
    extraArgs:
    - name: listen-client-urls
      value: https://127.0.0.1:%d
    - name: advertise-client-urls
      value: https://127.0.0.1:%d
    - name: listen-peer-urls
      value: https://127.0.0.1:%d
    - name: initial-advertise-peer-urls
      value: https://127.0.0.1:%d
    - name: initial-cluster
      value: %s=https://127.0.0.1:%d
""" % (c, c, pp, pp, self.name, pp)

    def join_config(self, endpoint, token, hashes, discovery_timeout="3s", extra="", taints=None):
        self.write("/patches/kubeletconfiguration+merge.yaml",
                   "healthzPort: %d\nport: %d\n" % (self.ports["healthz"], self.ports["kubelet"]))
        return """apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: %s
    token: %s
    caCertHashes: [%s]
nodeRegistration:
  name: %s
  kubeletExtraArgs:
  - name: node-ip
    value: 127.0.0.1
%spatches:
  directory: /patches
timeouts:
  discovery: %s
  kubeletHealthCheck: 20s
  tlsBootstrap: 20s
%s""" % (endpoint, token, ", ".join(hashes), self.name, "  taints: %s\n" % taints if taints is not None else "",
         discovery_timeout, extra)


@pytest.fixture
def make_node(kadm_bin, kubelet_bin):
    nodes = []

    def _make(name="node1", **kw):
        n = Node(kadm_bin, kubelet_bin, name, **kw)
        nodes.append(n)
        return n
    yield _make
    for n in nodes:
        n.close()


def wait_for(fn, timeout=20, interval=0.1):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(interval)
    return fn()


def openssl_pin(ca_path):
    """The discovery hash through the openssl pipeline kubeadm's docs give."""
    p1 = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", ca_path], stdout=subprocess.PIPE, check=True)
    p2 = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=p1.stdout, stdout=subprocess.PIPE,
                        check=True)
    p3 = subprocess.run(["sha256sum"], input=p2.stdout, stdout=subprocess.PIPE, check=True)
    return "sha256:" + p3.stdout.decode().split()[0]
