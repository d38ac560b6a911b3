"""kubeadm/kubelet doubles: version output, config validate, built artifacts and the mirror layout."""
import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from k3s_double_helpers import DOUBLES
from kubeadm_double_helpers import KUBE, free_port, kadm_bin, kube_dir, kubelet_bin, make_node  # noqa: F401

GOOD = """# ansible managed
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
- token: abcdef.0123456789abcdef
  usages: [signing, authentication]
localAPIEndpoint:
  advertiseAddress: 10.0.0.10
  bindPort: 6443
nodeRegistration:
  criSocket: unix:///var/run/containerd/containerd.sock
  name: cp1
  kubeletExtraArgs:
  - name: node-labels
    value: a=b
  taints: []
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
clusterName: kubernetes
kubernetesVersion: v1.35.2
controlPlaneEndpoint: cp.example.net:6443
networking:
  podSubnet: 10.244.0.0/16
  serviceSubnet: 10.96.0.0/12
apiServer:
  extraArgs:
  - name: audit-log-maxage
    value: "7"
  certSANs: [cp.example.net, 10.0.0.100]
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
failSwapOn: false
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: ipvs
"""

JOIN = """apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: cp.example.net:6443
    token: abcdef.0123456789abcdef
    caCertHashes:
    - sha256:%s
nodeRegistration:
  name: w1
""" % ("a" * 64)


def kubeadm(binary, args, env=None, **kw):
    return subprocess.run([binary] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env, timeout=60, **kw)


def test_version_outputs(kadm_bin, host_arch):
    r = kubeadm(kadm_bin, ["version"])
    assert r.returncode == 0
    assert r.stdout.startswith('kubeadm version: &version.Info{Major:"1", Minor:"35", EmulationMajor:"", ')
    assert 'GitVersion:"v1.35.2"' in r.stdout and 'Platform:"linux/%s"}' % host_arch in r.stdout
    assert kubeadm(kadm_bin, ["version", "-o", "short"]).stdout == "v1.35.2\n"
    j = json.loads(kubeadm(kadm_bin, ["version", "-o", "json"]).stdout)
    assert j["clientVersion"]["gitVersion"] == "v1.35.2" and j["clientVersion"]["major"] == "1"
    assert "emulationMajor" not in j["clientVersion"]
    r = kubeadm(kadm_bin, ["version", "-o", "bogus"])
    assert r.returncode == 1 and r.stderr.startswith("error: invalid output format: bogus\n")


def test_kubelet_version_and_unknown_flag(kubelet_bin):
    assert kubeadm(kubelet_bin, ["--version"]).stdout == "Kubernetes v1.35.2\n"
    r = kubeadm(kubelet_bin, ["--no-such-flag"])
    assert r.returncode == 1
    assert '"command failed" err="failed to parse kubelet flag: unknown flag: --no-such-flag"' in r.stderr


def test_unknown_command_and_flag(kadm_bin):
    r = kubeadm(kadm_bin, ["frobnicate"])
    assert r.returncode == 1
    assert r.stderr == ('error: unknown command "frobnicate" for "kubeadm"\n'
                        "To see the stack trace of this error execute with --v=5 or higher\n")
    r = kubeadm(kadm_bin, ["init", "--bogus"])
    assert r.returncode == 1 and "error: unknown flag: --bogus" in r.stderr


def validate(node, text):
    node.write("/cfg.yaml", text)
    return node.kubeadm(["config", "validate", "--config", "/cfg.yaml"])


def test_config_validate_accepts_good(make_node):
    n = make_node()
    r = validate(n, GOOD)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok\n"
    r = validate(n, JOIN)
    assert r.returncode == 0 and r.stdout == "ok\n", r.stderr


def test_config_validate_needs_config(make_node):
    r = make_node().kubeadm(["config", "validate"])
    assert r.returncode == 1 and "error: the --config flag is mandatory" in r.stderr


def test_config_validate_v1beta3_is_deprecated_but_read(make_node):
    n = make_node()
    text = GOOD.replace("v1beta4", "v1beta3").replace(
        "  kubeletExtraArgs:\n  - name: node-labels\n    value: a=b\n", "  kubeletExtraArgs:\n    node-labels: a=b\n"
    ).replace('  extraArgs:\n  - name: audit-log-maxage\n    value: "7"\n', '  extraArgs:\n    audit-log-maxage: "7"\n')
    r = validate(n, text)
    assert r.returncode == 0, r.stderr
    assert 'your configuration file uses a deprecated API spec: "kubeadm.k8s.io/v1beta3"' in r.stderr
    # the v1beta4 list form is a type error in v1beta3
    r = validate(n, GOOD.replace("v1beta4", "v1beta3"))
    assert r.returncode == 1
    assert "json: cannot unmarshal array into Go struct field InitConfiguration.nodeRegistration.kubeletExtraArgs " \
           "of type map[string]string" in r.stderr


GVK_INIT = 'schema.GroupVersionKind{Group:"kubeadm.k8s.io", Version:"v1beta4", Kind:"InitConfiguration"}'
GVK_CLUSTER = 'schema.GroupVersionKind{Group:"kubeadm.k8s.io", Version:"v1beta4", Kind:"ClusterConfiguration"}'


@pytest.mark.parametrize("old,new,message", [
    ("  podSubnet: 10.244.0.0/16", "  podSubnet: 10.244.0.0/33",
     'networking.podSubnet: Invalid value: "10.244.0.0/33": couldn\'t parse subnet'),
    ("  podSubnet: 10.244.0.0/16", "  podSubnet: not-a-cidr",
     'networking.podSubnet: Invalid value: "not-a-cidr": couldn\'t parse subnet'),
    ("  bindPort: 6443", "  bindPort: 70000", "localAPIEndpoint.bindPort: Invalid value: 70000: port number is not valid"),
    ("  advertiseAddress: 10.0.0.10", "  advertiseAddress: 10.0.0.300",
     'localAPIEndpoint.advertiseAddress: Invalid value: "10.0.0.300": ip address is not valid'),
    ('  extraArgs:\n  - name: audit-log-maxage\n    value: "7"', '  extraArgs:\n    audit-log-maxage: "7"',
     "error unmarshaling configuration %s: json: cannot unmarshal object into Go struct field "
     "ClusterConfiguration.apiServer.extraArgs of type []v1beta4.Arg" % GVK_CLUSTER),
    ("- token: abcdef.0123456789abcdef", "- token: abcdef-0123456789abcdef",
     'error unmarshaling configuration %s: the bootstrap token "abcdef-0123456789abcdef" was not of the form '
     '"\\\\A([a-z0-9]{6})\\\\.([a-z0-9]{16})\\\\z"' % GVK_INIT),
    ("  name: cp1\n", "  name: cp1\n  foo: bar\n",
     'error unmarshaling configuration %s: strict decoding error: unknown field "nodeRegistration.foo"' % GVK_INIT),
    ("clusterName: kubernetes", "clusterName: kubernetes\nnetwork: {}",
     'error unmarshaling configuration %s: strict decoding error: unknown field "network"' % GVK_CLUSTER),
    ("failSwapOn: false", "failSwapOn: false\nswapOn: true",
     'error unmarshaling configuration schema.GroupVersionKind{Group:"kubelet.config.k8s.io", Version:"v1beta1", '
     'Kind:"KubeletConfiguration"}: strict decoding error: unknown field "swapOn"'),
    ("mode: ipvs", "mode: ipvs\nmodes: x",
     'strict decoding error: unknown field "modes"'),
    ("kind: ClusterConfiguration", "kind: ClusterConfig",
     'error: unknown configuration schema.GroupVersionKind{Group:"kubeadm.k8s.io", Version:"v1beta4", '
     'Kind:"ClusterConfig"}'),
    ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration",
     "apiVersion: kubeadm.k8s.io/v1beta2\nkind: ClusterConfiguration",
     'your configuration file uses an old API spec: "kubeadm.k8s.io/v1beta2" (kind: "ClusterConfiguration")'),
    ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration", "kind: ClusterConfiguration",
     "invalid configuration for GroupVersionKind {Group: Version: Kind:ClusterConfiguration}: kind and apiVersion "
     "is mandatory information that must be specified"),
    ("  usages: [signing, authentication]", "  usages: [signing, login]",
     "invalid bootstrap token usage string: login, valid usage options: signing,authentication"),
    ("  serviceSubnet: 10.96.0.0/12", "  serviceSubnet: 10.96.0.0/12\n  dnsDomain: Bad_Domain",
     'networking.dnsDomain: Invalid value: "Bad_Domain": a lowercase RFC 1123 subdomain'),
    ("  name: cp1", "  name: CP_1", 'nodeRegistration.name: Invalid value: "CP_1": a lowercase RFC 1123 subdomain'),
    ("failSwapOn: false", "failSwapOn: \"false\"",
     "json: cannot unmarshal string into Go struct field KubeletConfiguration.failSwapOn of type bool"),
    ("  bindPort: 6443", "  bindPort: \"6443\"",
     "json: cannot unmarshal string into Go struct field InitConfiguration.localAPIEndpoint.bindPort of type int32"),
    ("clusterName: kubernetes", "clusterName: kubernetes\nencryptionAlgorithm: DSA",
     'encryptionAlgorithm: Unsupported value: "DSA": supported values: "ECDSA-P256"'),
    ("  name: cp1", "  name: cp1\n  name: cp2", 'line 14: key "name" already set in map'),
])
def test_config_validate_refuses(make_node, old, new, message):
    n = make_node()
    assert old in GOOD
    r = validate(n, GOOD.replace(old, new, 1))
    assert r.returncode == 1, r.stdout
    assert message in r.stderr, r.stderr
    assert r.stderr.startswith("error: ") or "W" in r.stderr.splitlines()[0]
    assert r.stderr.endswith("To see the stack trace of this error execute with --v=5 or higher\n")


@pytest.mark.parametrize("old,new,message", [
    ("    caCertHashes:\n    - sha256:%s\n" % ("a" * 64), "",
     "discovery.bootstrapToken.caCertHashes: Invalid value: []string{}: using token-based discovery without "
     "caCertHashes can be unsafe"),
    ("    token: abcdef.0123456789abcdef", "    token: abcdef.0123",
     'discovery.bootstrapToken.token: Invalid value: "abcdef.0123": the bootstrap token is invalid'),
    ("    apiServerEndpoint: cp.example.net:6443", "    apiServerEndpoint: cp.example.net:99999",
     "port must be a valid number between 1 and 65535, inclusive"),
    ("    apiServerEndpoint: cp.example.net:6443", "    apiServerEndpoint: cp.example.net",
     'discovery.bootstrapToken.apiServerEndpoint: Invalid value: "cp.example.net": address cp.example.net: '
     'missing port in address'),
])
def test_config_validate_refuses_join(make_node, old, new, message):
    r = validate(make_node(), JOIN.replace(old, new))
    assert r.returncode == 1 and message in r.stderr, r.stderr


def test_built_files_refuse_wrong_arch(release_root, host_arch):
    other = [a for a in ("amd64", "arm64", "arm") if a != host_arch]
    for arch in other:
        for prog in ("kubeadm", "kubelet"):
            p = os.path.join(kube_dir(release_root, arch), prog)
            r = subprocess.run([p, "version"] if prog == "kubeadm" else [p, "--version"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
            assert r.returncode == 126, (arch, prog)
            assert r.stderr == "%s: cannot execute binary file: Exec format error\n" % p
            assert r.stdout == ""


def test_build_tree_and_digests(release_root):
    base = os.path.join(str(release_root), "dl.k8s.io", "release")
    assert open(os.path.join(base, "stable.txt")).read() == KUBE
    for arch in ("amd64", "arm64", "arm"):
        d = kube_dir(release_root, arch)
        for prog in ("kubeadm", "kubelet"):
            data = open(os.path.join(d, prog), "rb").read()
            assert data.startswith(b"#!/usr/bin/env python3\n")
            assert os.stat(os.path.join(d, prog)).st_mode & 0o777 == 0o755
            digest = open(os.path.join(d, prog + ".sha256")).read()
            assert digest == hashlib.sha256(data).hexdigest()
            r = subprocess.run(["sha256sum", "--check", "--quiet"], input="%s  %s\n" % (digest, prog), cwd=d,
                               text=True)
            assert r.returncode == 0
    # the K3s release files are still there
    assert os.path.exists(os.path.join(str(release_root), "k3s-io", "k3s", "releases", "download", "v1.35.1+k3s1",
                                       "k3s"))


def test_build_rejects_bad_kube_version(tmp_path):
    r = subprocess.run([sys.executable, os.path.join(DOUBLES, "build.py"), "--out", str(tmp_path),
                        "--kube-versions", "1.35"], stderr=subprocess.PIPE, text=True)
    assert r.returncode != 0 and "invalid Kubernetes version tag" in r.stderr


def test_mirror_serves_dl_k8s_io(release_root, host_arch, tmp_path):
    port = free_port()
    p = subprocess.Popen([sys.executable, os.path.join(DOUBLES, "mirror.py"), "--root", str(release_root),
                          "--port", str(port)], stderr=subprocess.DEVNULL)
    try:
        base = "http://127.0.0.1:%d/dl.k8s.io/release" % port
        for _ in range(100):
            try:
                stable = urllib.request.urlopen(base + "/stable.txt", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        assert stable == KUBE.encode()
        url = "%s/%s/bin/linux/%s/kubeadm" % (base, KUBE, host_arch)
        data = urllib.request.urlopen(url).read()
        digest = urllib.request.urlopen(url + ".sha256").read().decode()
        assert hashlib.sha256(data).hexdigest() == digest
    finally:
        p.terminate()
        p.wait(10)
