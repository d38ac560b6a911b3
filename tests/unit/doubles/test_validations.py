"""Startup validations of the K3s double (as real K3s makes them): message substrings, fatal line, exit 1."""
import pytest

from k3s_double_helpers import run

CASES = [
    (["--cluster-cidr=10.42.0.0/33"], "invalid cluster-cidr 10.42.0.0/33"),
    (["--cluster-cidr=banana"], "invalid cluster-cidr banana"),
    (["--service-cidr=10.43.0.0"], "invalid service-cidr 10.43.0.0"),
    (["--cluster-dns=10.43.0.300"], "invalid cluster-dns address 10.43.0.300"),
    (["--service-node-port-range=30000"], None),  # valid single port: not refused here
    (["--service-node-port-range=32767-30000"], "invalid port range 32767-30000"),
    (["--service-node-port-range=abc"], "invalid port range abc"),
    (["--egress-selector-mode=everything"], "invalid egress-selector-mode everything"),
    (["--cluster-reset-restore-path=/tmp/snap"], "invalid flag use; --cluster-reset required with --cluster-reset-restore-path"),
    (["--server=http://10.0.0.1:6443", "-t", "x"], "only https:// URLs are supported, invalid scheme: http://10.0.0.1:6443"),
    (["--server=10.0.0.1:6443", "-t", "x"], "only https:// URLs are supported, invalid scheme: 10.0.0.1:6443"),
    (["--token=K10abc::server:pw"], "invalid token CA hash length"),
    (["--token=K10" + "a" * 64], "invalid token format"),
    (["--agent-token=K10" + "b" * 10 + "::node:x"], "invalid token CA hash length"),
    (["--cluster-reset", "--server=https://1.2.3.4:6443"],
     "cannot perform cluster-reset while server URL is set - remove server from configuration before resetting"),
    (["--flannel-backend=ipsec"], "ipsec backend was deprecated"),
    (["--flannel-backend=carrier-pigeon"], "invalid flannel backend: carrier-pigeon"),
    (["--cluster-cidr=10.42.0.0/16", "--service-cidr=fd00::/112"],
     "cluster-cidr: 10.42.0.0/16 and service-cidr: fd00::/112, must share the same IP version"),
    (["--cluster-cidr=10.42.0.0/16,fd00:42::/56", "--service-cidr=10.43.0.0/16,fd00:43::/112", "--node-ip=10.1.1.1"],
     "must share the same IP version"),
    (["--disable-etcd"], "invalid flag use; --server is required with --disable-etcd"),
]


@pytest.mark.parametrize("extra,msg", [c for c in CASES if c[1]], ids=lambda v: str(v)[:40])
def test_refusals(k3s_bin, kenv, extra, msg):
    r = run(k3s_bin, kenv.base_args() + extra, kenv.env)
    assert r.returncode == 1, r.stderr
    fatal = [l for l in r.stderr.splitlines() if "level=fatal" in l]
    assert fatal, r.stderr
    assert msg in fatal[-1]
    assert not (kenv.data / "server" / "token").exists()


def test_refusal_via_env(k3s_bin, kenv):
    env = dict(kenv.env, K3S_URL="ftp://x")
    r = run(k3s_bin, kenv.base_args(), env)
    assert r.returncode == 1
    assert "only https:// URLs are supported, invalid scheme: ftp://x" in r.stderr


def test_cgroup_v1_refused_on_135(k3s_bin, kenv):
    (kenv.cgroup / "cgroup.controllers").unlink()
    r = run(k3s_bin, kenv.base_args(), kenv.env)
    assert r.returncode == 1
    assert "kubelet is configured to not run on a host using cgroup v1" in r.stderr
    # fail-cgroupv1=false in config lets it through to the next check
    kenv.config.write_text("kubelet-arg:\n  - fail-cgroupv1=false\n")
    r = run(k3s_bin, kenv.base_args() + ["--egress-selector-mode=x"], kenv.env)
    assert "cgroup v1" not in r.stderr
    assert "invalid egress-selector-mode x" in r.stderr


@pytest.mark.parametrize("build", ["k3s_bin_old", "k3s_bin_oldest"])
def test_cgroup_v1_allowed_before_135(request, build, kenv):
    """The kubelet of 1.33 and 1.34 still runs on cgroup v1 (fail-cgroupv1 defaults to true from 1.35 on)."""
    (kenv.cgroup / "cgroup.controllers").unlink()
    r = run(request.getfixturevalue(build), kenv.base_args() + ["--egress-selector-mode=x"], kenv.env)
    assert "cgroup v1" not in r.stderr
    assert "invalid egress-selector-mode x" in r.stderr


def test_join_without_token(k3s_bin, kenv):
    r = run(k3s_bin, kenv.base_args() + ["--server=https://10.0.0.1:6443"], kenv.env)
    assert r.returncode == 1
    assert "token must not be empty" in r.stderr
