"""Helpers and fixtures for the kubeforge K3s test double unit tests (imported by conftest.py).

Everything runs in temp dirs on loopback with free high ports; nothing under
/etc or /var is touched (K3S_CONFIG_FILE, --data-dir and -o always point into
tmp_path; HOME is a temp dir too; /etc/rancher/node, the node password, lies under
the KUBEFORGE_DOUBLE_ROOT test hook, tmp_path/host unless a test gives a host its own)."""
import os
import socket
import subprocess
import sys
import time

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DOUBLES = os.path.join(REPO, "tests", "doubles")
sys.path.insert(0, DOUBLES)

from k3s import version as kversion  # noqa: E402

NEW = "v1.35.1+k3s1"
OLD = "v1.34.2+k3s1"
OLDEST = "v1.33.6+k3s1"  # the last minor on etcd 3.5 (the others embed etcd 3.6)
BIN_NAME = {"amd64": "k3s", "arm64": "k3s-arm64", "arm": "k3s-armhf"}


@pytest.fixture(scope="session")
def release_root(tmp_path_factory):
    out = tmp_path_factory.mktemp("release")
    subprocess.run([sys.executable, os.path.join(DOUBLES, "build.py"), "--out", str(out),
                    "--versions", ",".join((OLDEST, OLD, NEW))], check=True, stdout=subprocess.DEVNULL)
    return out


def asset_dir(root, tag):
    return os.path.join(str(root), "k3s-io", "k3s", "releases", "download", tag)


@pytest.fixture(scope="session")
def host_arch():
    a = kversion.host_arch()
    if a not in BIN_NAME:
        pytest.skip("unsupported host arch %s" % a)
    return a


@pytest.fixture(scope="session")
def k3s_bin(release_root, host_arch):
    return os.path.join(asset_dir(release_root, NEW), BIN_NAME[host_arch])


@pytest.fixture(scope="session")
def k3s_bin_old(release_root, host_arch):
    return os.path.join(asset_dir(release_root, OLD), BIN_NAME[host_arch])


@pytest.fixture(scope="session")
def k3s_bin_oldest(release_root, host_arch):
    return os.path.join(asset_dir(release_root, OLDEST), BIN_NAME[host_arch])


_PORTS_GIVEN: set = set()


def free_port() -> int:
    """A loopback port nothing listens on, never the same twice in one test session.

    The kernel may hand the port it just released to the next bind to port 0, so two calls in a row could
    return one port for two listeners (seen in CI: a kubelet's healthz and its server on one port)."""
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        if p not in _PORTS_GIVEN:
            _PORTS_GIVEN.add(p)
            return p


class Env:
    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.config = tmp_path / "etc" / "config.yaml"
        self.config.parent.mkdir(parents=True, exist_ok=True)
        self.data = tmp_path / "data"
        self.kubeconfig = tmp_path / "kube" / "k3s.yaml"
        self.cgroup = tmp_path / "cgroup2"
        self.cgroup.mkdir()
        (self.cgroup / "cgroup.controllers").write_text("cpu memory pids\n")
        home = tmp_path / "home"
        home.mkdir()
        self.root = tmp_path / "host"  # the filesystem root of /etc/rancher/node (node password)
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
                    "K3S_CONFIG_FILE": str(self.config),
                    "KUBEFORGE_DOUBLE_CGROUP_ROOT": str(self.cgroup),
                    "KUBEFORGE_DOUBLE_ROOT": str(self.root)}
        self.port = free_port()

    def base_args(self):
        return ["server", "-d", str(self.data), "-o", str(self.kubeconfig),
                "--https-listen-port", str(self.port), "--bind-address", "127.0.0.1"]


@pytest.fixture
def kenv(tmp_path):
    return Env(tmp_path)


def run(binary, args, env, timeout=30):
    return subprocess.run([str(binary)] + list(args), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout)


class Server:
    def __init__(self, binary, args, env, notify=None):
        self.errpath = env.get("_ERRLOG")
        self.proc = subprocess.Popen([binary] + args, env={k: v for k, v in env.items() if k != "_ERRLOG"},
                                     stdout=subprocess.PIPE, stderr=open(self.errpath, "w"), text=True)

    def log(self):
        with open(self.errpath) as fh:
            return fh.read()

    def wait_up(self, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            if "k3s is up and running" in self.log():
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.05)
        raise AssertionError("server did not come up:\n" + self.log())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait(5)
        return self.proc.returncode


@pytest.fixture
def start_server(k3s_bin, kenv):
    servers = []

    def _start(extra=(), env_extra=None, binary=None, wait=True):
        env = dict(kenv.env)
        env.update(env_extra or {})
        env["_ERRLOG"] = str(kenv.tmp / ("server-%d.log" % len(servers)))
        s = Server(binary or k3s_bin, kenv.base_args() + list(extra), env)
        servers.append(s)
        if wait:
            s.up = s.wait_up()
        return s
    yield _start
    for s in servers:
        s.stop()
