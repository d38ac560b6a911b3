"""Stacked-etcd HA with the kubeadm/kubelet doubles: kubeadm init --upload-certs on a first control plane, then
kubeadm join --control-plane on a second one, both on this machine.

Each control plane has its own loopback address (cp1 127.0.0.2, cp2 127.0.0.3), so the etcd member of each
listens on the default ports 2379/2380 of its own address, as on separate machines.  What one machine cannot
give two nodes is handled with real configuration: the API servers (which bind 0.0.0.0) get distinct bindPorts,
cp2's controller-manager/scheduler get their own --secure-port through join patches (JSON patches appending a
flag to the static Pod command), its kubelet ports through a kubeletconfiguration patch.  The preflight
port checks of 2379/2380 bind the wildcard address and so see cp1's etcd: the join ignores them.
"""
import hashlib
import json
import os
import re
import stat
import subprocess

import pytest

from kubeadm_double_helpers import KUBE, TOKEN, Node, kadm_bin, kubelet_bin, make_node, openssl_pin  # noqa: F401
from kubeadm_double_helpers import wait_for
from kubeadm import kclient, kubeconfig  # noqa: E402  (tests/doubles is on sys.path via k3s_double_helpers)
from k3s import etcd as k3s_etcd  # noqa: E402

CP1_IP, CP2_IP, CP3_IP = "127.0.0.2", "127.0.0.3", "127.0.0.4"
IGNORE = ["Port-2379", "Port-2380"]


def init_config(n, ip):
    p = n.ports
    return """apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
- token: %s
localAPIEndpoint:
  advertiseAddress: %s
  bindPort: %d
nodeRegistration:
  name: %s
  kubeletExtraArgs:
  - name: node-ip
    value: %s
timeouts:
  kubeletHealthCheck: 20s
  controlPlaneComponentHealthCheck: 20s
  kubernetesAPICall: 30s
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: %s
controlPlaneEndpoint: "%s:%d"
encryptionAlgorithm: ECDSA-P256
controllerManager:
  extraArgs:
  - name: secure-port
    value: "%d"
scheduler:
  extraArgs:
  - name: secure-port
    value: "%d"
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
healthzPort: %d
port: %d
""" % (TOKEN, ip, p["api"], n.name, ip, KUBE, ip, p["api"], p["kcm"], p["sched"], p["healthz"], p["kubelet"])


def join_config(n, ip, endpoint, pin, key):
    p = n.ports
    n.write("/patches/kubeletconfiguration+merge.yaml", "healthzPort: %d\nport: %d\n" % (p["healthz"], p["kubelet"]))
    for comp, port in (("kube-controller-manager", p["kcm"]), ("kube-scheduler", p["sched"])):
        n.write("/patches/%s+json.yaml" % comp,
                '[{"op": "add", "path": "/spec/containers/0/command/-", "value": "--secure-port=%d"}]\n' % port)
    return """apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: %s
    token: %s
    caCertHashes: [%s]
nodeRegistration:
  name: %s
  ignorePreflightErrors: [%s]
  kubeletExtraArgs:
  - name: node-ip
    value: %s
controlPlane:
  localAPIEndpoint:
    advertiseAddress: %s
    bindPort: %d
  certificateKey: %s
patches:
  directory: /patches
timeouts:
  discovery: 10s
  kubeletHealthCheck: 20s
  tlsBootstrap: 90s
  controlPlaneComponentHealthCheck: 30s
  kubernetesAPICall: 30s
""" % (endpoint, TOKEN, pin, n.name, ", ".join(IGNORE), ip, ip, p["api"], key)


def client(n, ip=None):
    """admin.conf of node n, optionally aimed at the API server on ip (the node's own) instead of the endpoint."""
    cl, us = kubeconfig.load(n.path("/etc/kubernetes/admin.conf"))
    if ip:
        cl = dict(cl, server="https://%s:%d" % (ip, n.ports["api"]))
    return kclient.Client.from_kubeconfig(cl, us)


def etcd_members(n, ip):
    with open(n.path("/etc/kubernetes/pki/etcd/ca.key"), "rb") as fh:
        secret = k3s_etcd.peer_secret(hashlib.sha256(fh.read()).hexdigest())
    return k3s_etcd.peer_call("https://%s:2380" % ip, "GET", "/members", secret)["members"]


@pytest.fixture(scope="module")
def ha(kadm_bin, kubelet_bin):
    cp1 = Node(kadm_bin, kubelet_bin, "cp1")
    cp2 = Node(kadm_bin, kubelet_bin, "cp2")
    try:
        cp1.write("/init.yaml", init_config(cp1, CP1_IP))
        cp1.start_kubelet()
        cp1.init = cp1.kubeadm(["init", "--config", "/init.yaml", "--upload-certs"])
        assert cp1.init.returncode == 0, cp1.init.stdout + cp1.init.stderr + cp1.kubelet_log()
        m = re.search(r"^\[upload-certs\] Using certificate key:\n([0-9a-f]{64})$", cp1.init.stdout, re.M)
        assert m, cp1.init.stdout
        cp1.key = m.group(1)
        cp1.endpoint = "%s:%d" % (CP1_IP, cp1.ports["api"])
        cp1.pin = openssl_pin(cp1.path("/etc/kubernetes/pki/ca.crt"))
        cp2.write("/join.yaml", join_config(cp2, CP2_IP, cp1.endpoint, cp1.pin, cp1.key))
        cp2.start_kubelet()
        cp2.join = cp2.kubeadm(["join", "--config", "/join.yaml"], timeout=180)
        yield cp1, cp2
    finally:
        cp2.close()
        cp1.close()


def test_init_prints_control_plane_join_command(ha):
    cp1, _ = ha
    out = cp1.init.stdout
    assert "You can now join any number of control-plane nodes" in out
    assert "  kubeadm join %s --token %s \\\n\t--discovery-token-ca-cert-hash %s \\\n\t--control-plane " % (
        cp1.endpoint, TOKEN, cp1.pin) in out
    etcd = cp1.read("/etc/kubernetes/manifests/etcd.yaml")
    for flag in ("--name=cp1", "--initial-advertise-peer-urls=https://%s:2380" % CP1_IP,
                 "--listen-peer-urls=https://%s:2380" % CP1_IP,
                 "--listen-client-urls=https://127.0.0.1:2379,https://%s:2379" % CP1_IP,
                 "--initial-cluster=cp1=https://%s:2380" % CP1_IP, "--data-dir=/var/lib/etcd"):
        assert "- " + flag + "\n" in etcd, flag
    assert "--initial-cluster-state" not in etcd


def test_join_control_plane_succeeds(ha):
    cp1, cp2 = ha
    r = cp2.join
    assert r.returncode == 0, r.stdout + r.stderr + cp2.kubelet_log()
    lines = r.stdout.splitlines()

    def idx(line):
        assert line in lines, line
        return lines.index(line)
    order = [
        "[preflight] Running pre-flight checks",
        "[preflight] Running pre-flight checks before initializing the new control plane instance",
        '[download-certs] Downloading the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace',
        '[certs] Using certificateDir folder "/etc/kubernetes/pki"',
        '[certs] Generating "apiserver" certificate and key',
        "[kubeconfig] Generating kubeconfig files",
        '[kubeconfig] Writing "admin.conf" kubeconfig file',
        '[control-plane] Creating static Pod manifest for "kube-apiserver"',
        "[check-etcd] Checking that the etcd cluster is healthy",
        "[kubelet-start] Starting the kubelet",
        "[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap",
        "[etcd] Announced new etcd member joining to the existing etcd cluster",
        '[etcd] Creating static Pod manifest for "etcd"',
        "[etcd] Waiting for the new etcd member to join the cluster. This can take up to 40s",
        "[control-plane-check] Checking kube-apiserver at https://%s:%d/livez" % (CP2_IP, cp2.ports["api"]),
        "[mark-control-plane] Marking the node cp2 as control-plane by adding the labels: "
        "[node-role.kubernetes.io/control-plane node.kubernetes.io/exclude-from-external-load-balancers]",
        "[mark-control-plane] Marking the node cp2 as control-plane by adding the taints "
        "[node-role.kubernetes.io/control-plane:NoSchedule]",
        "This node has joined the cluster and a new control plane instance was created:",
        "* A new etcd member was added to the local/stacked etcd cluster.",
        "Run 'kubectl get nodes' to see this node join the cluster.",
    ]
    pos = [idx(l) for l in order]
    assert pos == sorted(pos), list(zip(order, pos))
    assert '[kubeconfig] Writing "super-admin.conf" kubeconfig file' not in lines
    assert '[patches] Applied patch of type "application/json-patch+json" to target "kube-controller-manager"' \
        in lines


def test_join_control_plane_pulls_images_in_preflight(ha):
    cp1, cp2 = ha
    lines = cp2.join.stdout.splitlines()
    i = lines.index("[preflight] Running pre-flight checks before initializing the new control plane instance")
    j = lines.index("[preflight] Pulling images required for setting up a Kubernetes cluster")
    # after the control-plane checks (the ignored etcd port checks print as warnings), before download-certs
    assert i < j and all(ln.startswith("\t[WARNING Port-") for ln in lines[i + 1:j])
    assert lines[j + 1:j + 3] == [
        "[preflight] This might take a minute or two, depending on the speed of your internet connection",
        "[preflight] You can also perform this action beforehand using 'kubeadm config images pull'"]
    assert lines[j + 3].startswith("[download-certs] ")
    # the images of the cluster's configuration (from the kubeadm-config ConfigMap) were all in containerd
    assert cp2.pull_log() == [] and cp1.pull_log() == []


def test_join_control_plane_without_its_images(ha, make_node):
    cp1, _ = ha
    n = make_node("cp7")
    n.set_images(["registry.k8s.io/kube-apiserver:v1.35.2"])
    r = n.kubeadm(["join", cp1.endpoint, "--token", TOKEN, "--discovery-token-ca-cert-hash", cp1.pin,
                   "--control-plane", "--certificate-key", cp1.key, "--apiserver-advertise-address", CP3_IP,
                   "--apiserver-bind-port", str(n.ports["api"]), "--node-name", "cp7",
                   "--ignore-preflight-errors", ",".join(IGNORE)])
    assert r.returncode == 1
    assert r.stdout.endswith("[preflight] You can also perform this action beforehand using 'kubeadm config "
                             "images pull'\n")
    assert "\t[ERROR ImagePull]: failed to pull image registry.k8s.io/kube-apiserver" not in r.stderr
    assert r.stderr.count("\t[ERROR ImagePull]: failed to pull image ") == 6
    assert r.stderr.endswith("error: error execution phase preflight: preflight checks failed\n"
                             "To see the stack trace of this error execute with --v=5 or higher\n")
    assert len(n.pull_log()) == 6
    assert not n.exists("/etc/kubernetes/pki/ca.key")


def test_joined_control_plane_files(ha):
    cp1, cp2 = ha
    for f in ("admin.conf", "controller-manager.conf", "scheduler.conf", "kubelet.conf",
              "manifests/etcd.yaml", "manifests/kube-apiserver.yaml", "manifests/kube-controller-manager.yaml",
              "manifests/kube-scheduler.yaml") + tuple("pki/" + p for p in (
                  "ca.crt", "ca.key", "sa.key", "sa.pub", "front-proxy-ca.crt", "front-proxy-ca.key", "etcd/ca.crt",
                  "etcd/ca.key", "apiserver.crt", "apiserver-kubelet-client.crt", "front-proxy-client.crt",
                  "etcd/server.crt", "etcd/peer.crt", "etcd/healthcheck-client.crt", "apiserver-etcd-client.crt")):
        assert cp2.exists("/etc/kubernetes/" + f), f
    assert not cp2.exists("/etc/kubernetes/super-admin.conf")
    assert not cp2.exists("/etc/kubernetes/bootstrap-kubelet.conf")
    for f in ("ca.crt", "ca.key", "sa.key", "sa.pub", "front-proxy-ca.key", "etcd/ca.key"):
        assert cp2.read("/etc/kubernetes/pki/" + f) == cp1.read("/etc/kubernetes/pki/" + f), f
    assert stat.S_IMODE(os.stat(cp2.path("/etc/kubernetes/pki/ca.key")).st_mode) == 0o600
    assert cp2.read("/etc/kubernetes/pki/apiserver.crt") != cp1.read("/etc/kubernetes/pki/apiserver.crt")
    # the kubelet was stopped while kubeadm wrote its files, so its TLS bootstrap was under the node's name
    assert cp2.systemctl_calls() == ["stop kubelet", "daemon-reload", "restart kubelet"]
    subject = subprocess.run(["openssl", "x509", "-in", cp2.path("/var/lib/kubelet/pki/kubelet-client-current.pem"),
                              "-noout", "-subject", "-nameopt", "RFC2253"], stdout=subprocess.PIPE, text=True).stdout
    assert subject == "subject=CN=system:node:cp2,O=system:nodes\n", subject
    text = subprocess.run(["openssl", "x509", "-in", cp2.path("/etc/kubernetes/pki/apiserver.crt"), "-noout",
                           "-text"], stdout=subprocess.PIPE, text=True).stdout
    for san in ("DNS:cp2", "IP Address:%s" % CP2_IP, "IP Address:%s" % CP1_IP, "IP Address:10.96.0.1"):
        assert san in text, san
    api = cp2.read("/etc/kubernetes/manifests/kube-apiserver.yaml")
    assert "- --advertise-address=%s\n" % CP2_IP in api and "- --secure-port=%d\n" % cp2.ports["api"] in api
    etcd = cp2.read("/etc/kubernetes/manifests/etcd.yaml")
    assert "- --initial-cluster=cp1=https://%s:2380,cp2=https://%s:2380\n" % (CP1_IP, CP2_IP) in etcd
    assert "- --initial-cluster-state=existing\n" in etcd and "- --name=cp2\n" in etcd
    kcm = cp2.read("/etc/kubernetes/manifests/kube-controller-manager.yaml")
    assert "- --secure-port=%d\n" % cp2.ports["kcm"] in kcm
    cl, _ = kubeconfig.load(cp2.path("/etc/kubernetes/admin.conf"))
    assert cl["server"] == "https://" + cp1.endpoint
    cl, _ = kubeconfig.load(cp2.path("/etc/kubernetes/controller-manager.conf"))
    assert cl["server"] == "https://%s:%d" % (CP2_IP, cp2.ports["api"])
    assert "--register-with-taints" not in cp2.read("/var/lib/kubelet/kubeadm-flags.env")
    assert cp2.exists("/var/lib/etcd/member/snap/db")


def test_etcd_has_two_members(ha):
    cp1, cp2 = ha
    for ip in (CP1_IP, CP2_IP):
        names = sorted((m["name"], m["peerURL"]) for m in etcd_members(cp1, ip))
        assert names == [("cp1", "https://%s:2380" % CP1_IP), ("cp2", "https://%s:2380" % CP2_IP)]


def test_both_nodes_ready_control_planes_on_each_api(ha):
    cp1, cp2 = ha
    for c in (client(cp1, CP1_IP), client(cp2, CP2_IP)):
        for name in ("cp1", "cp2"):
            code, node = c.get("/api/v1/nodes/" + name)
            assert code == 200, (name, node)
            assert "node-role.kubernetes.io/control-plane" in node["metadata"]["labels"]
            assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in node["spec"]["taints"]
            ready = [x for x in node["status"]["conditions"] if x["type"] == "Ready"][0]
            assert ready["status"] == "True"
        code, pods = c.get("/api/v1/namespaces/kube-system/pods")
        names = {p["metadata"]["name"] for p in pods["items"]}
        assert {"etcd-cp1", "etcd-cp2", "kube-apiserver-cp2"} <= names


def test_state_replicated_between_api_servers(ha):
    cp1, cp2 = ha
    c1, c2 = client(cp1, CP1_IP), client(cp2, CP2_IP)
    cm = {"metadata": {"name": "ha-probe", "namespace": "default"}, "data": {"from": "cp2"}}
    code, doc = c2.request("POST", "/api/v1/namespaces/default/configmaps", cm)
    assert code == 201, doc
    code, doc = c1.get("/api/v1/namespaces/default/configmaps/ha-probe")
    assert code == 200 and doc["data"] == {"from": "cp2"}
    code, doc = c1.request("DELETE", "/api/v1/namespaces/default/configmaps/ha-probe")
    assert code == 200
    assert wait_for(lambda: c2.get("/api/v1/namespaces/default/configmaps/ha-probe")[0] == 404, timeout=5)


def test_join_wrong_certificate_key(ha, make_node):
    cp1, _ = ha
    n = make_node("cp3")
    wrong = "0" * 64 if cp1.key != "0" * 64 else "1" * 64
    r = n.kubeadm(["join", cp1.endpoint, "--token", TOKEN, "--discovery-token-ca-cert-hash", cp1.pin,
                   "--control-plane", "--certificate-key", wrong, "--apiserver-advertise-address", CP3_IP,
                   "--apiserver-bind-port", str(n.ports["api"]), "--node-name", "cp3",
                   "--ignore-preflight-errors", ",".join(IGNORE)])
    assert r.returncode == 1
    assert "[preflight] Running pre-flight checks before initializing the new control plane instance" in r.stdout
    assert r.stderr == ("error: error execution phase control-plane-prepare/download-certs: error downloading certs: "
                        "error decoding secret data with provided key: cipher: message authentication failed\n"
                        "To see the stack trace of this error execute with --v=5 or higher\n"), r.stderr
    assert not n.exists("/etc/kubernetes/pki/ca.key")


def test_join_certificate_key_validation(ha, make_node):
    cp1, _ = ha
    n = make_node("cp4")
    base = ["join", cp1.endpoint, "--token", TOKEN, "--discovery-token-ca-cert-hash", cp1.pin, "--control-plane",
            "--apiserver-advertise-address", CP3_IP]
    r = n.kubeadm(base + ["--certificate-key", "xyz"])
    assert r.returncode == 1
    assert r.stderr.startswith('error: controlPlane.certificateKey: Invalid value: "xyz": certificate key decoding '
                               "error: encoding/hex: invalid byte: U+0078 'x'\n"), r.stderr
    r = n.kubeadm(base + ["--certificate-key", "abcd"])
    assert r.returncode == 1
    assert 'controlPlane.certificateKey: Invalid value: "abcd": invalid certificate key size 2, the key must be ' \
           'an AES key of size 32' in r.stderr


def test_join_without_certs_secret(ha, make_node):
    cp1, _ = ha
    code, _ = client(cp1, CP1_IP).request("DELETE", "/api/v1/namespaces/kube-system/secrets/kubeadm-certs")
    assert code == 200
    n = make_node("cp5")
    r = n.kubeadm(["join", cp1.endpoint, "--token", TOKEN, "--discovery-token-ca-cert-hash", cp1.pin,
                   "--control-plane", "--certificate-key", cp1.key, "--apiserver-advertise-address", CP3_IP,
                   "--apiserver-bind-port", str(n.ports["api"]), "--ignore-preflight-errors", ",".join(IGNORE)])
    assert r.returncode == 1
    assert 'error: error execution phase control-plane-prepare/download-certs: error downloading certs: error ' \
           'downloading the secret: Secret "kubeadm-certs" was not found in the "kube-system" Namespace. This Secret ' \
           'might have expired. Please, run `kubeadm init phase upload-certs --upload-certs` on a control plane to ' \
           'generate a new one\n' in r.stderr, r.stderr
    # a new key uploads the Secret again
    r = cp1.kubeadm(["init", "phase", "upload-certs", "--upload-certs", "--certificate-key", cp1.key])
    assert r.returncode == 0, r.stderr


def test_join_without_certificate_key_needs_shared_certs(ha, make_node):
    cp1, _ = ha
    n = make_node("cp6")
    r = n.kubeadm(["join", cp1.endpoint, "--token", TOKEN, "--discovery-token-ca-cert-hash", cp1.pin,
                   "--control-plane", "--apiserver-advertise-address", CP3_IP])
    assert r.returncode == 1
    assert "One or more conditions for hosting a new control plane instance is not satisfied.\n\n[failure " \
           "loading certificate for CA: couldn't load the certificate file /etc/kubernetes/pki/ca.crt: open " \
           "/etc/kubernetes/pki/ca.crt: no such file or directory, failure loading key for service account: " \
           in r.stderr


def test_member_restart_needs_quorum_and_syncs(ha):
    """Two members, one down: no quorum for writes.  The restarted member syncs from its peer."""
    cp1, cp2 = ha
    c1 = client(cp1, CP1_IP)
    cp2.stop_kubelet()
    cm = {"metadata": {"name": "while-cp2-down", "namespace": "default"}, "data": {"n": "1"}}
    code, doc = c1.request("POST", "/api/v1/namespaces/default/configmaps", cm)
    assert code == 500 and doc["message"] == "etcdserver: request timed out", doc
    cp2.start_kubelet()
    c2 = client(cp2, CP2_IP)

    def up():
        try:
            return c2.get("/livez")[0] == 200
        except kclient.APIError:
            return False
    assert wait_for(up, timeout=30), cp2.kubelet_log()[-3000:]
    code, doc = c1.request("POST", "/api/v1/namespaces/default/configmaps", cm)
    assert code == 201, doc
    code, doc = c2.get("/api/v1/namespaces/default/configmaps/while-cp2-down")
    assert code == 200 and doc["data"] == {"n": "1"}


def test_a_member_that_starts_before_its_peers_keeps_the_member_list_of_its_data(ha):
    """Both members down (a restore starts them all together), cp2 first: no peer answers, and its member.json, which
    kubeadm reset reads to find the other members, is the list its data hold, not nothing."""
    cp1, cp2 = ha
    cp1.stop_kubelet()
    cp2.stop_kubelet()
    os.remove(cp2.path("/var/lib/etcd/member.json"))
    cp2.start_kubelet()
    assert wait_for(lambda: os.path.exists(cp2.path("/var/lib/etcd/member.json")), timeout=30), \
        cp2.kubelet_log()[-3000:]
    with open(cp2.path("/var/lib/etcd/member.json")) as fh:
        assert sorted(m["name"] for m in json.load(fh)["members"]) == ["cp1", "cp2"]
    cp1.start_kubelet()
    c2 = client(cp2, CP2_IP)

    def writable():
        try:
            return c2.request("POST", "/api/v1/namespaces/default/configmaps",
                              {"metadata": {"name": "both-back", "namespace": "default"}})[0] == 201
        except kclient.APIError:
            return False
    assert wait_for(writable, timeout=60), cp2.kubelet_log()[-3000:]


def test_reset_removes_etcd_member(ha):
    """Last: cp2 leaves; cp1 is then a one-member cluster again and keeps accepting writes."""
    cp1, cp2 = ha
    cp2.stop_kubelet()
    r = cp2.kubeadm(["reset", "-f"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Failed to remove etcd member" not in r.stderr
    assert "[reset] Deleted contents of the etcd data directory: /var/lib/etcd" in r.stdout
    assert [m["name"] for m in etcd_members(cp1, CP1_IP)] == ["cp1"]
    cm = {"metadata": {"name": "after-reset", "namespace": "default"}, "data": {"ok": "1"}}
    code, doc = client(cp1, CP1_IP).request("POST", "/api/v1/namespaces/default/configmaps", cm)
    assert code == 201, json.dumps(doc)
