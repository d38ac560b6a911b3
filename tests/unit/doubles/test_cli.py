"""Binary-level CLI behaviour of the built double (no server start)."""
import hashlib
import os
import platform

import pytest

from k3s_double_helpers import BIN_NAME, NEW, OLD, OLDEST, asset_dir, run


def test_version_shape(k3s_bin, kenv):
    for flag in ("--version", "-v"):
        r = run(k3s_bin, [flag], kenv.env)
        assert r.returncode == 0
        lines = r.stdout.splitlines()
        commit = hashlib.sha1(NEW.encode()).hexdigest()[:8]
        assert lines == ["k3s version %s (%s)" % (NEW, commit), "go version go1.25.5"]
        assert lines[0].split()[2] == NEW


def test_old_version_baked(k3s_bin_old, kenv):
    r = run(k3s_bin_old, ["--version"], kenv.env)
    assert r.stdout.split()[2] == OLD


def test_oldest_version_baked(k3s_bin_oldest, kenv):
    r = run(k3s_bin_oldest, ["--version"], kenv.env)
    commit = hashlib.sha1(OLDEST.encode()).hexdigest()[:8]
    assert r.stdout.splitlines() == ["k3s version %s (%s)" % (OLDEST, commit), "go version go1.24.9"]


def test_wrong_arch_refused(release_root, host_arch, kenv):
    other = "arm64" if host_arch != "arm64" else "amd64"
    path = os.path.join(asset_dir(release_root, NEW), BIN_NAME[other])
    r = run(path, ["--version"], kenv.env)
    assert r.returncode == 126
    assert r.stdout == ""
    assert r.stderr.strip() == "%s: cannot execute binary file: Exec format error" % path


def test_unknown_subcommand(k3s_bin, kenv):
    r = run(k3s_bin, ["frobnicate"], kenv.env)
    assert r.returncode == 3
    assert "No help topic for 'frobnicate'" in r.stdout


def test_unknown_cli_flag(k3s_bin, kenv):
    r = run(k3s_bin, kenv.base_args() + ["--no-deploy=traefik"], kenv.env)
    assert r.returncode == 1
    assert r.stdout.startswith("Incorrect Usage: flag provided but not defined: -no-deploy")
    assert 'level=fatal msg="flag provided but not defined: -no-deploy"' in r.stderr


def test_unknown_config_key_warns_and_is_dropped(k3s_bin, kenv):
    # bad cluster-cidr makes the server stop right after config handling
    kenv.config.write_text("frobnicate: 1\ncluster-cidr: nope\n")
    r = run(k3s_bin, kenv.base_args(), kenv.env)
    assert 'level=warning msg="Unknown flag --frobnicate found in config.yaml, skipping"' in r.stderr
    assert "invalid cluster-cidr nope" in r.stderr
    assert r.returncode == 1


def test_config_parse_error_is_fatal(k3s_bin, kenv):
    kenv.config.write_text("a:\n  b: c\n")
    r = run(k3s_bin, kenv.base_args(), kenv.env)
    assert r.returncode == 1
    assert "level=fatal" in r.stderr and "failed to parse config file" in r.stderr


def test_config_last_dropin_wins_end_to_end(k3s_bin, kenv):
    kenv.config.write_text("cluster-dns: 1.1.1.x\n")
    d = kenv.tmp / "etc" / "config.yaml.d"
    d.mkdir()
    (d / "50-z.YAML").write_text("cluster-dns: 2.2.2.x\n")
    r = run(k3s_bin, kenv.base_args(), kenv.env)
    assert "invalid cluster-dns address 2.2.2.x" in r.stderr


def test_cli_value_beats_config(k3s_bin, kenv):
    kenv.config.write_text("egress-selector-mode: fromconfig\n")
    r = run(k3s_bin, kenv.base_args() + ["--egress-selector-mode=fromcli"], kenv.env)
    assert "invalid egress-selector-mode fromcli" in r.stderr


def test_agent_config_key_for_server_is_flag_error(k3s_bin, kenv):
    kenv.config.write_text("cluster-init: true\n")
    r = run(k3s_bin, ["agent", "--server", "https://127.0.0.1:6443", "-t", "x"], kenv.env)
    assert r.returncode == 1
    assert "flag provided but not defined: -cluster-init" in r.stderr


@pytest.mark.parametrize("args,msg", [
    ([], "--server is required"),
    (["--server", "http://x:6443", "-t", "a"], "only https:// URLs are supported, invalid scheme: http://x:6443"),
    (["--server", "https://x:6443"], "--token is required"),
])
def test_agent_validations(k3s_bin, kenv, args, msg):
    r = run(k3s_bin, ["agent", "-d", str(kenv.data)] + args, kenv.env)
    assert r.returncode == 1
    assert msg in r.stderr


def test_kubectl_dispatch_via_symlink(k3s_bin, kenv, tmp_path):
    link = tmp_path / "kubectl"
    link.symlink_to(k3s_bin)
    fake = tmp_path / "fake-kubectl"
    fake.write_text("#!/bin/sh\necho \"KUBECONFIG=$KUBECONFIG ARGS=$*\"\n")
    fake.chmod(0o755)
    env = dict(kenv.env, KUBEFORGE_DOUBLE_KUBECTL=str(fake))
    r = run(str(link), ["get", "nodes"], env)
    assert r.returncode == 0, r.stderr
    home = env["HOME"]
    expected = "/etc/rancher/k3s/k3s.yaml" if os.path.exists("/etc/rancher/k3s/k3s.yaml") \
        else os.path.join(home, ".kube", "k3s.yaml")
    assert r.stdout.strip() == "KUBECONFIG=%s ARGS=get nodes" % expected
    r = run(k3s_bin, ["kubectl", "version"], dict(env, KUBECONFIG="/x/y"))
    assert r.stdout.strip() == "KUBECONFIG=/x/y ARGS=version"


def test_kubectl_missing_is_clear_error(k3s_bin, kenv, tmp_path):
    env = dict(kenv.env, KUBEFORGE_DOUBLE_KUBECTL=str(tmp_path / "nope"))
    r = run(k3s_bin, ["kubectl", "get", "nodes"], env)
    assert r.returncode == 1
    assert "not found" in r.stderr


def test_ctr_and_crictl(k3s_bin, kenv, tmp_path):
    ctr = tmp_path / "ctr"
    ctr.symlink_to(k3s_bin)
    r = run(str(ctr), ["version"], kenv.env)
    assert r.returncode == 0 and "Client:" in r.stdout and "Server:" in r.stdout
    r = run(str(ctr), ["images", "ls"], kenv.env)
    assert r.returncode == 1
    assert r.stderr.strip() == "ctr images ls: not implemented by the kubeforge K3s test double"
    r = run(k3s_bin, ["crictl", "ps"], kenv.env)
    assert r.returncode == 1 and "crictl ps: not implemented" in r.stderr


def test_etcd_snapshot_on_sqlite(k3s_bin, kenv):
    r = run(k3s_bin, ["etcd-snapshot", "save", "-d", str(kenv.data)], kenv.env)
    assert r.returncode == 1
    assert "etcd database not found in %s/server" % kenv.data in r.stderr
