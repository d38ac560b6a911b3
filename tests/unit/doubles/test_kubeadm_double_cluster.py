"""kubeadm init on a control plane whose kubelet serves the API, then worker joins, tokens and reset."""
import json
import os
import re
import stat
import subprocess

import pytest

from kubeadm_double_helpers import (KUBECTL, TOKEN, Node, kadm_bin, kubelet_bin, make_node,  # noqa: F401
                                    openssl_pin, wait_for)
from kubeadm import kclient, kubeconfig  # noqa: E402  (tests/doubles is on sys.path via k3s_double_helpers)


@pytest.fixture(scope="module")
def cluster(kadm_bin, kubelet_bin):
    cp = Node(kadm_bin, kubelet_bin, "cp1")
    cp.write("/etc/kubernetes/kubeadm-init.yaml", cp.init_config())
    cp.start_kubelet()
    cp.init = cp.kubeadm(["init", "--config", "/etc/kubernetes/kubeadm-init.yaml"])
    yield cp
    cp.close()


def admin(cp):
    cl, us = kubeconfig.load(cp.path("/etc/kubernetes/admin.conf"))
    return kclient.Client.from_kubeconfig(cl, us)


def endpoint(cp):
    return "127.0.0.1:%d" % cp.ports["api"]


def test_init_succeeds(cluster):
    r = cluster.init
    assert r.returncode == 0, r.stdout + r.stderr + cluster.kubelet_log()
    # containerd held every image (imported first, as the scenarios do): none was pulled
    assert cluster.pull_log() == []
    assert "Your Kubernetes control-plane has initialized successfully!" in r.stdout
    assert "[mark-control-plane] Marking the node cp1 as control-plane by adding the taints " \
           "[node-role.kubernetes.io/control-plane:NoSchedule]" in r.stdout
    # the kubelet crash-looped until kubeadm wrote its configuration
    assert "failed to load kubelet config file, path: /var/lib/kubelet/config.yaml" in cluster.kubelet_log()


def test_init_join_command_and_hash(cluster):
    lines = cluster.init.stdout.rstrip("\n").split("\n")
    assert lines[-2] == "kubeadm join %s --token %s \\" % (endpoint(cluster), TOKEN)
    m = re.match(r"^\t--discovery-token-ca-cert-hash (sha256:[0-9a-f]{64}) $", lines[-1])
    assert m, lines[-1]
    assert m.group(1) == openssl_pin(cluster.path("/etc/kubernetes/pki/ca.crt"))


FILES = ["/etc/kubernetes/admin.conf", "/etc/kubernetes/super-admin.conf", "/etc/kubernetes/kubelet.conf",
         "/etc/kubernetes/controller-manager.conf", "/etc/kubernetes/scheduler.conf",
         "/etc/kubernetes/manifests/etcd.yaml", "/etc/kubernetes/manifests/kube-apiserver.yaml",
         "/etc/kubernetes/manifests/kube-controller-manager.yaml", "/etc/kubernetes/manifests/kube-scheduler.yaml",
         "/var/lib/kubelet/config.yaml", "/var/lib/kubelet/kubeadm-flags.env",
         "/var/lib/kubelet/instance-config.yaml"] + \
        ["/etc/kubernetes/pki/%s" % f for f in (
            "ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "apiserver-kubelet-client.crt",
            "front-proxy-ca.crt", "front-proxy-client.crt", "etcd/ca.crt", "etcd/server.crt", "etcd/peer.crt",
            "etcd/healthcheck-client.crt", "apiserver-etcd-client.crt", "sa.key", "sa.pub")]


def test_init_writes_files(cluster):
    for f in FILES:
        assert cluster.exists(f), f
    for f in ("/etc/kubernetes/admin.conf", "/etc/kubernetes/pki/ca.key", "/etc/kubernetes/pki/sa.key"):
        assert stat.S_IMODE(os.stat(cluster.path(f)).st_mode) == 0o600, f
    flags = cluster.read("/var/lib/kubelet/kubeadm-flags.env")
    assert flags.startswith('KUBELET_KUBEADM_ARGS="') and "--node-ip=127.0.0.1" in flags
    assert "--hostname-override=cp1" in flags
    cfg = cluster.read("/var/lib/kubelet/config.yaml")
    assert "containerRuntimeEndpoint: unix:///var/run/containerd/containerd.sock" in cfg
    assert "staticPodPath: /etc/kubernetes/manifests" in cfg and "cgroupDriver: systemd" in cfg
    api = cluster.read("/etc/kubernetes/manifests/kube-apiserver.yaml")
    assert "- --secure-port=%d" % cluster.ports["api"] in api
    assert "- --tls-cert-file=/etc/kubernetes/pki/apiserver.crt" in api
    assert "- --etcd-servers=https://127.0.0.1:2379" in api
    assert "- --data-dir=/var/lib/etcd" in cluster.read("/etc/kubernetes/manifests/etcd.yaml")
    assert cluster.exists("/var/lib/etcd/member/snap/db")
    # kubelet-finalize pointed kubelet.conf at the rotatable client certificate
    assert "client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem" in \
        cluster.read("/etc/kubernetes/kubelet.conf")


def test_init_real_ca_and_sans(cluster):
    pki = cluster.path("/etc/kubernetes/pki")
    for crt, ca in (("apiserver.crt", "ca.crt"), ("apiserver-kubelet-client.crt", "ca.crt"),
                    ("front-proxy-client.crt", "front-proxy-ca.crt"), ("etcd/server.crt", "etcd/ca.crt")):
        r = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(pki, ca), os.path.join(pki, crt)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert r.returncode == 0, r.stderr
    text = subprocess.run(["openssl", "x509", "-in", os.path.join(pki, "apiserver.crt"), "-noout", "-text"],
                          stdout=subprocess.PIPE, text=True).stdout
    for san in ("DNS:kubernetes.default.svc.cluster.local", "DNS:cp1", "IP Address:10.96.0.1",
                "IP Address:127.0.0.1"):
        assert san in text
    ca = subprocess.run(["openssl", "x509", "-in", os.path.join(pki, "ca.crt"), "-noout", "-subject", "-ext",
                         "basicConstraints"], stdout=subprocess.PIPE, text=True).stdout
    assert "CN = kubernetes" in ca and "CA:TRUE" in ca
    cl, us = kubeconfig.load(cluster.path("/etc/kubernetes/admin.conf"))
    assert cl["server"] == "https://" + endpoint(cluster)
    subj = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=us["cert"], stdout=subprocess.PIPE).stdout
    assert b"O = kubeadm:cluster-admins, CN = kubernetes-admin" in subj


def test_configmaps_and_cluster_info(cluster):
    c = admin(cluster)
    code, cm = c.get("/api/v1/namespaces/kube-system/configmaps/kubeadm-config")
    assert code == 200 and "kind: ClusterConfiguration" in cm["data"]["ClusterConfiguration"]
    assert "podSubnet: 10.244.0.0/16" in cm["data"]["ClusterConfiguration"]
    code, cm = c.get("/api/v1/namespaces/kube-system/configmaps/kubelet-config")
    assert code == 200 and "kind: KubeletConfiguration" in cm["data"]["kubelet"]
    anon = kclient.Client("https://" + endpoint(cluster), insecure=True)
    code, ci = anon.get("/api/v1/namespaces/kube-public/configmaps/cluster-info")
    assert code == 200
    assert "jws-kubeconfig-abcdef" in ci["data"] and "certificate-authority-data" in ci["data"]["kubeconfig"]
    code, doc = anon.get("/api/v1/nodes")
    assert code == 401
    code, sec = c.get("/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef")
    assert code == 200 and sec["type"] == "bootstrap.kubernetes.io/token"


def test_node_registered_with_role_and_taint(cluster):
    code, node = admin(cluster).get("/api/v1/nodes/cp1")
    assert code == 200
    assert "node-role.kubernetes.io/control-plane" in node["metadata"]["labels"]
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "cp1"
    assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in node["spec"]["taints"]
    ready = [x for x in node["status"]["conditions"] if x["type"] == "Ready"][0]
    assert ready["status"] == "True"


@pytest.mark.skipif(not KUBECTL, reason="no kubectl")
def test_real_kubectl_get_nodes(cluster):
    r = subprocess.run([KUBECTL[0], "--kubeconfig", cluster.path("/etc/kubernetes/admin.conf"), "get", "nodes",
                        "--no-headers"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert re.match(r"^cp1\s+Ready\s+control-plane\s+\S+\s+v1\.35\.2", r.stdout), r.stdout
    r = subprocess.run([KUBECTL[0], "--kubeconfig", cluster.path("/etc/kubernetes/admin.conf"), "get", "pods", "-n",
                        "kube-system", "--no-headers"], stdout=subprocess.PIPE, text=True, timeout=60)
    assert "kube-apiserver-cp1" in r.stdout and "etcd-cp1" in r.stdout


def test_token_list_and_create(cluster):
    r = cluster.kubeadm(["token", "list"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert re.match(r"^TOKEN +TTL +EXPIRES +USAGES +DESCRIPTION +EXTRA GROUPS$", lines[0])
    assert re.match(r"^abcdef\.0123456789abcdef +2[34]h +\S+Z +authentication,signing +test token +"
                    r"system:bootstrappers:kubeadm:default-node-token$", lines[1]), lines
    r = cluster.kubeadm(["token", "create", "--kubeconfig", "/etc/kubernetes/admin.conf", "--ttl", "2h",
                         "--description", "kubeforge join token"])
    assert r.returncode == 0, r.stderr
    tok = r.stdout.strip()
    assert re.match(r"^[a-z0-9]{6}\.[a-z0-9]{16}$", tok)
    r = cluster.kubeadm(["token", "list", "--kubeconfig", "/etc/kubernetes/admin.conf"])
    row = [l for l in r.stdout.splitlines() if l.startswith(tok)][0]
    assert re.search(r" (1h|2h) .* kubeforge join token ", row), row
    r = cluster.kubeadm(["token", "create", "--print-join-command"])
    assert r.returncode == 0
    m = re.match(r"^kubeadm join (\S+) --token ([a-z0-9]{6}\.[a-z0-9]{16}) --discovery-token-ca-cert-hash "
                 r"(sha256:[0-9a-f]{64}) \n$", r.stdout)
    assert m and m.group(1) == endpoint(cluster)
    assert m.group(3) == openssl_pin(cluster.path("/etc/kubernetes/pki/ca.crt"))
    r = cluster.kubeadm(["token", "create", "bad-token"])
    assert r.returncode == 1 and 'the bootstrap token "bad-token" was not of the form' in r.stderr


def test_upload_certs_phase(cluster):
    r = cluster.kubeadm(["init", "phase", "upload-certs", "--upload-certs"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == '[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" ' \
                       'Namespace'
    assert lines[1] == "[upload-certs] Using certificate key:"
    assert re.match(r"^[0-9a-f]{64}$", lines[2])
    code, sec = admin(cluster).get("/api/v1/namespaces/kube-system/secrets/kubeadm-certs")
    assert code == 200 and "ca.key" in sec["data"]


def test_init_again_fails_preflight(cluster):
    r = cluster.kubeadm(["init", "--config", "/etc/kubernetes/kubeadm-init.yaml"])
    assert r.returncode == 1
    assert "[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]: " \
           "/etc/kubernetes/manifests/kube-apiserver.yaml already exists" in r.stderr
    assert "[ERROR Port-%d]: Port %d is in use" % (cluster.ports["api"], cluster.ports["api"]) in r.stderr
    assert "[ERROR DirAvailable--var-lib-etcd]: /var/lib/etcd is not empty" in r.stderr


def test_join_wrong_hash(cluster, make_node):
    w = make_node("w-bad")
    r = w.kubeadm(["join", endpoint(cluster), "--token", TOKEN, "--discovery-token-ca-cert-hash",
                   "sha256:" + "0" * 64])
    assert r.returncode == 1
    pin = openssl_pin(cluster.path("/etc/kubernetes/pki/ca.crt"))
    assert r.stderr == ('error: error execution phase preflight: couldn\'t validate the identity of the API Server: '
                        'cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "%s" are '
                        'pinned\nTo see the stack trace of this error execute with --v=5 or higher\n' % pin)
    assert not w.exists("/etc/kubernetes/bootstrap-kubelet.conf")


def test_join_unknown_token(cluster, make_node):
    w = make_node("w-tok")
    pin = openssl_pin(cluster.path("/etc/kubernetes/pki/ca.crt"))
    w.write("/join.yaml", w.join_config(endpoint(cluster), "zzzzzz.zzzzzzzzzzzzzzzz", [pin]))
    r = w.kubeadm(["join", "--config", "/join.yaml"])
    assert r.returncode == 1
    assert "error: error execution phase preflight: couldn't validate the identity of the API Server: could not " \
           "find a JWS signature in the cluster-info ConfigMap for token ID \"zzzzzz\"" in r.stderr
    # right id, wrong secret: the signature does not verify
    w.write("/join2.yaml", w.join_config(endpoint(cluster), "abcdef.zzzzzzzzzzzzzzzz", [pin]))
    r = w.kubeadm(["join", "--config", "/join2.yaml"])
    assert r.returncode == 1
    assert "failed to verify JWS signature of received cluster info object, can't trust this API Server" in r.stderr


def test_join_unreachable(make_node):
    w = make_node("w-off")
    w.write("/join.yaml", w.join_config("127.0.0.1:1", TOKEN, ["sha256:" + "0" * 64], discovery_timeout="2s"))
    r = w.kubeadm(["join", "--config", "/join.yaml"])
    assert r.returncode == 1
    assert 'couldn\'t validate the identity of the API Server: Get "https://127.0.0.1:1/api/v1/namespaces/' \
           'kube-public/configmaps/cluster-info?timeout=10s": dial tcp 127.0.0.1:1: connect: connection refused' \
           in r.stderr


def test_join_control_plane_needs_control_plane_endpoint(cluster, make_node):
    # this cluster was initialised without controlPlaneEndpoint (see test_kubeadm_double_ha.py for a real join)
    w = make_node("cp2")
    pin = openssl_pin(cluster.path("/etc/kubernetes/pki/ca.crt"))
    r = w.kubeadm(["join", endpoint(cluster), "--token", TOKEN, "--discovery-token-ca-cert-hash", pin,
                   "--control-plane", "--certificate-key", "a" * 64])
    assert r.returncode == 1
    assert r.stderr == ("error: error execution phase preflight: \n"
                        "One or more conditions for hosting a new control plane instance is not satisfied.\n\n"
                        "unable to add a new control plane instance to a cluster that doesn't have a stable "
                        "controlPlaneEndpoint address\n\n"
                        "Please ensure that:\n"
                        "* The cluster has a stable controlPlaneEndpoint address.\n"
                        "* The certificates that must be shared among control plane instances are provided.\n\n\n"
                        "To see the stack trace of this error execute with --v=5 or higher\n"), r.stderr
    assert not w.exists("/etc/kubernetes/pki/ca.key")


def test_join_worker_and_reset(cluster, make_node, monkeypatch):
    w = make_node("w1")
    pin = openssl_pin(cluster.path("/etc/kubernetes/pki/ca.crt"))
    w.write("/join.yaml", w.join_config(endpoint(cluster), TOKEN, [pin],
                                        taints="[{key: dedicated, value: infra, effect: NoSchedule}]"))
    w.start_kubelet()
    r = w.kubeadm(["join", "--config", "/join.yaml"])
    assert r.returncode == 0, r.stdout + r.stderr + w.kubelet_log()
    assert "This node has joined the cluster:" in r.stdout
    assert "[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap" in r.stdout
    # kubeadm stops the kubelet before it writes the kubelet's files, then starts it again
    assert w.systemctl_calls() == ["stop kubelet", "daemon-reload", "restart kubelet"]
    for f in ("/etc/kubernetes/kubelet.conf", "/etc/kubernetes/pki/ca.crt", "/var/lib/kubelet/config.yaml",
              "/var/lib/kubelet/kubeadm-flags.env", "/var/lib/kubelet/pki/kubelet-client-current.pem"):
        assert w.exists(f), f
    assert not w.exists("/etc/kubernetes/bootstrap-kubelet.conf")
    # a worker pulls nothing in kubeadm (join's preflight runs the ImagePull check for control planes only)
    assert "Pulling images" not in r.stdout and w.pull_log() == [] and w.ctr_calls() == []
    assert w.read("/etc/kubernetes/pki/ca.crt") == cluster.read("/etc/kubernetes/pki/ca.crt")
    assert "healthzPort: %d" % w.ports["healthz"] in w.read("/var/lib/kubelet/config.yaml")
    code, node = admin(cluster).get("/api/v1/nodes/w1")
    assert code == 200
    assert "node-role.kubernetes.io/control-plane" not in node["metadata"]["labels"]
    assert node["spec"]["taints"] == [{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}]
    assert "--register-with-taints=dedicated=infra:NoSchedule" in w.read("/var/lib/kubelet/kubeadm-flags.env")
    # the worker's kubelet uses a node certificate and may only touch its own node
    with monkeypatch.context() as m:
        m.setenv("KUBEFORGE_DOUBLE_ROOT", w.root)
        cl, us = kubeconfig.load("/etc/kubernetes/kubelet.conf")
    assert cl["server"] == "https://" + endpoint(cluster)
    code, doc = kclient.Client.from_kubeconfig(cl, us).patch("/api/v1/nodes/cp1", {"metadata": {"labels": {"x": "y"}}})
    assert code == 403 and 'node "w1" is not allowed to modify node "cp1"' in doc["message"]
    if KUBECTL:
        out = subprocess.run([KUBECTL[0], "--kubeconfig", cluster.path("/etc/kubernetes/admin.conf"), "get", "nodes",
                              "-o", "name"], stdout=subprocess.PIPE, text=True, timeout=60).stdout
        assert out.split() == ["node/cp1", "node/w1"]
    # a second join refuses: already joined
    r = w.kubeadm(["join", "--config", "/join.yaml"])
    assert r.returncode == 1 and "[ERROR FileAvailable--etc-kubernetes-kubelet.conf]" in r.stderr
    # reset
    w.stop_kubelet()
    w.write("/etc/cni/net.d/10-test.conflist", "{}")
    r = w.kubeadm(["reset", "-f"])
    assert r.returncode == 0, r.stderr
    assert "[reset] Deleting files: [/etc/kubernetes/admin.conf /etc/kubernetes/super-admin.conf " \
           "/etc/kubernetes/kubelet.conf /etc/kubernetes/bootstrap-kubelet.conf " \
           "/etc/kubernetes/controller-manager.conf /etc/kubernetes/scheduler.conf]" in r.stdout
    for f in ("/etc/kubernetes/kubelet.conf", "/etc/kubernetes/pki/ca.crt", "/var/lib/kubelet/config.yaml",
              "/var/lib/kubelet/kubeadm-flags.env", "/var/lib/kubelet/pki/kubelet-client-current.pem"):
        assert not w.exists(f), f
    assert w.exists("/etc/cni/net.d/10-test.conflist")
    assert w.systemctl_calls()[-1] == "stop kubelet"
    r = w.kubeadm(["reset", "-f"])
    assert r.returncode == 0
    # after reset the kubelet crash-loops again
    r = w.kubelet_once()
    assert r.returncode == 1 and "failed to load kubelet config file" in r.stderr


def test_reset_warns_about_a_cri_socket_that_does_not_answer(make_node):
    n = make_node()
    r = n.kubeadm(["reset", "-f", "--cri-socket", "unix:///var/run/containerd/containerd.sock"])
    assert r.returncode == 0 and "Failed to remove containers" not in r.stderr
    r = n.kubeadm(["reset", "-f", "--cri-socket", "unix:///run/crio/crio.sock"])
    assert r.returncode == 0, r.stderr
    assert ('[reset] Failed to remove containers: failed to create new CRI runtime service: validate service '
            'connection: validate CRI v1 runtime API for endpoint "unix:///run/crio/crio.sock": rpc error: code = '
            'Unavailable desc = connection error: desc = "transport: Error while dialing: dial unix '
            '/run/crio/crio.sock: connect: no such file or directory"') in r.stderr
    assert "[reset] Deleting files: [" in r.stdout


def test_reset_without_force_asks(make_node):
    n = make_node()
    r = n.kubeadm(["reset"], stdin="n\n")
    assert r.returncode == 1
    assert "[reset] Are you sure you want to proceed? [y/N]: " in r.stdout
    assert "error: error execution phase preflight: won't proceed; the user didn't answer (Y|y) in order to continue" \
        in r.stderr


def test_reset_control_plane(make_node):
    cp = make_node("cp9")
    cp.write("/c.yaml", cp.init_config())
    cp.start_kubelet()
    r = cp.kubeadm(["init", "--config", "/c.yaml"])
    assert r.returncode == 0, r.stdout + r.stderr
    cp.stop_kubelet()
    r = cp.kubeadm(["reset", "--force"])
    assert r.returncode == 0
    assert "Failed to remove etcd member" not in r.stderr  # the only member: nothing to remove
    assert "[reset] Deleted contents of the etcd data directory: /var/lib/etcd" in r.stdout
    assert os.listdir(cp.path("/var/lib/etcd")) == []
    assert os.listdir(cp.path("/etc/kubernetes/manifests")) == []
    assert os.listdir(cp.path("/etc/kubernetes/pki")) == []
    assert not cp.exists("/etc/kubernetes/admin.conf")
    # a fresh init works again on the same node; taints: [] means no control-plane taint
    cp.write("/c.yaml", cp.init_config(taints="[]"))
    cp.start_kubelet()
    r = cp.kubeadm(["init", "--config", "/c.yaml"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "by adding the taints" not in r.stdout
    code, node = admin(cp).get("/api/v1/nodes/cp9")
    assert code == 200 and not node["spec"].get("taints")
    assert "node-role.kubernetes.io/control-plane" in node["metadata"]["labels"]
    assert json.loads(json.dumps(kubeconfig.load(cp.path("/etc/kubernetes/admin.conf"))[0]["server"])) == \
        "https://127.0.0.1:%d" % cp.ports["api"]
