"""kubeadm upgrade with the kubeadm/kubelet doubles: a v1.34.3 control plane (kubeadm and kubelet v1.34.3) and a
v1.34.3 worker, then the refusals of kubeadm's version policy and preflight, `kubeadm upgrade apply v1.35.2` with
the v1.35.2 kubeadm (the kubelet double restarts every static Pod whose manifest changed), a second apply, `kubeadm
upgrade node` on the worker and on the control plane, and the kubelet binary upgrade.

One cluster for the whole module; the tests run in file order and build on each other.  The kubeadm double tests
bind loopback ports: run them one pytest process at a time (-p no:xdist).
"""
import glob
import hashlib
import os
import re
import time

import pytest

from kubeadm_double_helpers import TOKEN, Node, kube_dir, openssl_pin, wait_for
from kubeadm import images, kclient, kubeconfig  # noqa: E402  (tests/doubles is on sys.path via k3s_double_helpers)

OLD, NEW = "v1.34.3", "v1.35.2"


def kube_images(v):
    """What the test bed's archive of that version holds (a kubeadm of that version, local etcd)."""
    return images.control_plane_images({"kubernetesVersion": v, "etcd": {"local": {}}})


@pytest.fixture(scope="module")
def bins(release_root, host_arch):
    return {v: (os.path.join(kube_dir(release_root, host_arch, v), "kubeadm"),
                os.path.join(kube_dir(release_root, host_arch, v), "kubelet")) for v in (OLD, NEW)}


def admin(cp):
    cl, us = kubeconfig.load(cp.path("/etc/kubernetes/admin.conf"))
    return kclient.Client.from_kubeconfig(cl, us, retry_for=20)


def endpoint(cp):
    return "127.0.0.1:%d" % cp.ports["api"]


def run(node, binary, args, stdin="", timeout=180):
    """kubeadm of the given version on that node."""
    saved = node.kadm
    node.kadm = binary
    try:
        return node.kubeadm(args, timeout=timeout, stdin=stdin)
    finally:
        node.kadm = saved


def mirror(cp, comp):
    code, pod = admin(cp).get("/api/v1/namespaces/kube-system/pods/%s-cp1" % comp)
    assert code == 200, pod
    return pod


def server_version(cp):
    code, doc = kclient.Client("https://" + endpoint(cp), insecure=True, retry_for=20).get("/version")
    assert code == 200
    return doc["gitVersion"]


def kubelet_version(cp, node):
    code, doc = admin(cp).get("/api/v1/nodes/" + node)
    assert code == 200
    return doc["status"]["nodeInfo"]["kubeletVersion"]


def stderr_error(r):
    """The error kubeadm printed, without the stack trace hint."""
    assert r.stderr.endswith("To see the stack trace of this error execute with --v=5 or higher\n"), r.stderr
    return r.stderr[:-len("To see the stack trace of this error execute with --v=5 or higher\n")]


@pytest.fixture(scope="module")
def cluster(bins):
    cp = Node(bins[OLD][0], bins[OLD][1], "cp1")
    w = Node(bins[OLD][0], bins[OLD][1], "w1")
    try:
        for n in (cp, w):
            n.set_images(kube_images(OLD) + kube_images(NEW))
        cp.write("/etc/kubernetes/kubeadm-init.yaml",
                 cp.init_config().replace("kubernetesVersion: v1.35.2", "kubernetesVersion: " + OLD))
        cp.start_kubelet()
        cp.init = cp.kubeadm(["init", "--config", "/etc/kubernetes/kubeadm-init.yaml"])
        assert cp.init.returncode == 0, cp.init.stdout + cp.init.stderr + cp.kubelet_log()
        pin = openssl_pin(cp.path("/etc/kubernetes/pki/ca.crt"))
        w.write("/join.yaml", w.join_config(endpoint(cp), TOKEN, [pin]))
        w.start_kubelet()
        w.join = w.kubeadm(["join", "--config", "/join.yaml"])
        assert w.join.returncode == 0, w.join.stdout + w.join.stderr + w.kubelet_log()
        yield cp, w
    finally:
        w.close()
        cp.close()


def test_v134_cluster(cluster):
    cp, w = cluster
    assert server_version(cp) == OLD
    assert kubelet_version(cp, "cp1") == OLD and kubelet_version(cp, "w1") == OLD
    api = cp.read("/etc/kubernetes/manifests/kube-apiserver.yaml")
    assert "image: registry.k8s.io/kube-apiserver:v1.34.3" in api
    # kubeadm 1.34's pinned etcd
    assert "image: registry.k8s.io/etcd:3.6.5-0" in cp.read("/etc/kubernetes/manifests/etcd.yaml")
    # the mirror Pod carries the kubelet's config hash of the manifest
    with open(cp.path("/etc/kubernetes/manifests/kube-apiserver.yaml"), "rb") as fh:
        want = hashlib.md5(fh.read()).hexdigest()
    assert wait_for(lambda: mirror(cp, "kube-apiserver")["metadata"]["annotations"].get(
        "kubernetes.io/config.hash") == want)
    assert mirror(cp, "kube-apiserver")["metadata"]["annotations"]["kubernetes.io/config.mirror"] == want


def test_plan_offline(cluster, bins):
    cp, _ = cluster
    r = run(cp, bins[NEW][0], ["upgrade", "plan"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'could not fetch a Kubernetes version from the internet: unable to get URL ' \
           '"https://dl.k8s.io/release/stable.txt"' in r.stderr
    assert "falling back to the local client version: v1.35.2" in r.stderr
    lines = r.stdout.splitlines()
    assert lines[:3] == ["[preflight] Running pre-flight checks.",
                         '[upgrade/config] Reading configuration from the "kubeadm-config" ConfigMap in namespace '
                         '"kube-system"...',
                         "[upgrade/config] Use 'kubeadm init phase upload-config kubeadm --config "
                         "your-config-file' to re-upload it."]
    for line in ("[upgrade/versions] Cluster version: 1.34.3", "[upgrade/versions] kubeadm version: v1.35.2",
                 "[upgrade/versions] Target version: v1.35.2",
                 "[upgrade/versions] Latest version in the v1.34 series: v1.35.2",
                 "Upgrade to the latest version in the v1.34 series:",
                 "kubelet     cp1       v1.34.3   v1.35.2",
                 "kubelet     w1        v1.34.3   v1.35.2",
                 "kube-apiserver            cp1       v1.34.3   v1.35.2",
                 "kube-proxy                          1.34.3    v1.35.2",
                 "etcd                      cp1       3.6.5-0   3.6.6-0",
                 "\tkubeadm upgrade apply v1.35.2"):
        assert line in lines, (line, r.stdout)
    assert re.search(r"^kubeproxy\.config\.k8s\.io +v1alpha1 +v1alpha1 +no$", r.stdout, re.M)


def test_plan_with_a_version(cluster, bins):
    cp, _ = cluster
    r = run(cp, bins[OLD][0], ["upgrade", "plan", NEW])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "could not fetch" not in r.stderr
    lines = r.stdout.splitlines()
    for line in ("[upgrade/versions] Target version: v1.35.2",
                 "[upgrade/versions] Latest version in the v1.34 series: v1.35.2",
                 "\tkubeadm upgrade apply v1.35.2",
                 "Note: Before you can perform this upgrade, you have to update kubeadm to v1.35.2."):
        assert line in lines, (line, r.stdout)


def test_refuses_a_skipped_minor(cluster, bins):
    cp, _ = cluster
    r = run(cp, bins[NEW][0], ["upgrade", "apply", "v1.36.0", "-y"])
    assert r.returncode == 1
    assert '[upgrade/preflight] You have chosen to upgrade the cluster version to "v1.36.0"' in r.stdout
    assert "[upgrade/versions] Cluster version: v1.34.3\n[upgrade/versions] kubeadm version: v1.35.2\n" in r.stdout
    assert stderr_error(r) == (
        'error: error execution phase preflight: the version argument is invalid due to these fatal errors:\n\n'
        '\t- Specified version to upgrade to "v1.36.0" is too high; kubeadm can upgrade only 1 minor version at a '
        'time\n'
        '\t- Specified version to upgrade to "v1.36.0" is at least one minor release higher than the kubeadm minor '
        'release (36 > 35). Such an upgrade is not supported\n\n'
        'Please fix the misalignments highlighted above and try upgrading again\n')
    assert "kube-apiserver:v1.34.3" in cp.read("/etc/kubernetes/manifests/kube-apiserver.yaml")


def test_refuses_a_target_newer_than_kubeadm(cluster, bins):
    cp, _ = cluster
    r = run(cp, bins[OLD][0], ["upgrade", "apply", NEW, "-y"])
    assert r.returncode == 1
    assert stderr_error(r) == (
        'error: error execution phase preflight: the version argument is invalid due to these fatal errors:\n\n'
        '\t- Specified version to upgrade to "v1.35.2" is at least one minor release higher than the kubeadm minor '
        'release (35 > 34). Such an upgrade is not supported\n\n'
        'Please fix the misalignments highlighted above and try upgrading again\n')
    # a newer patch of kubeadm's own minor is only refused without --force
    r = run(cp, bins[NEW][0], ["upgrade", "apply", "v1.35.9", "-y"])
    assert r.returncode == 1
    assert stderr_error(r) == (
        'error: error execution phase preflight: the version argument is invalid due to these errors:\n\n'
        '\t- Specified version to upgrade to "v1.35.9" is higher than the kubeadm version "v1.35.2". Upgrade kubeadm '
        'first using the tool you used to install kubeadm\n\n'
        'Can be bypassed if you pass the --force flag\n')


def test_refuses_a_target_older_than_the_cluster(cluster, bins):
    cp, _ = cluster
    r = run(cp, bins[OLD][0], ["upgrade", "apply", "v1.33.5", "-y"])
    assert r.returncode == 1
    assert stderr_error(r) == (
        'error: error execution phase preflight: the version argument is invalid due to these errors:\n\n'
        '\t- Kubeadm version v1.34.3 can only be used to upgrade to Kubernetes version 1.34\n\n'
        'Can be bypassed if you pass the --force flag\n')
    r = run(cp, bins[OLD][0], ["upgrade", "apply", "v1.32.0", "-y"])
    assert r.returncode == 1
    err = stderr_error(r)
    assert 'these fatal errors:\n\n\t- Specified version to upgrade to "v1.32.0" is equal to or lower than the ' \
           'minimum supported version "v1.34.3". Please specify a higher version to upgrade to\n' \
           '\t- Specified version to downgrade to "v1.32.0" is too low; kubeadm can downgrade only 1 minor version ' \
           'at a time\n\n' in err


def test_apply_without_yes_asks_and_stops_on_closed_stdin(cluster, bins):
    cp, _ = cluster
    r = run(cp, bins[OLD][0], ["upgrade", "apply", OLD], stdin="")
    assert r.returncode == 1
    assert r.stdout.endswith("[upgrade/versions] kubeadm version: v1.34.3\n"
                             "[upgrade] Are you sure you want to proceed? [y/N]: "), r.stdout
    assert stderr_error(r) == ("error: error execution phase preflight: won't proceed; the user didn't answer (Y|y) "
                               "in order to continue\n")
    r = run(cp, bins[OLD][0], ["upgrade", "apply", OLD], stdin="n\n")
    assert r.returncode == 1 and "won't proceed" in r.stderr


def test_refuses_not_ready_control_planes_and_old_kubelets(cluster, bins):
    cp, _ = cluster
    c = admin(cp)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    ghost = {"apiVersion": "v1", "kind": "Node",
             "metadata": {"name": "cp-ghost", "labels": {"node-role.kubernetes.io/control-plane": ""}},
             "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady",
                                        "lastHeartbeatTime": now, "lastTransitionTime": now}],
                        "nodeInfo": {"kubeletVersion": "v1.31.0"}}}
    code, doc = c.post("/api/v1/nodes", ghost)
    assert code == 201, doc
    try:
        r = run(cp, bins[NEW][0], ["upgrade", "apply", NEW, "-y"])
        assert r.returncode == 1
        assert "[ERROR ControlPlaneNodesReady]: there are NotReady control-planes in the cluster: [cp-ghost]\n" \
            in r.stderr
        assert r.stderr.endswith("error: error execution phase preflight: preflight checks failed\n"
                                 "To see the stack trace of this error execute with --v=5 or higher\n")
        # ignored, the kubelet skew check refuses the kubelet that is more than three minors older than v1.35
        r = run(cp, bins[NEW][0], ["upgrade", "apply", NEW, "-y", "--ignore-preflight-errors=ControlPlaneNodesReady"])
        assert r.returncode == 1
        assert "[WARNING ControlPlaneNodesReady]: there are NotReady control-planes in the cluster: [cp-ghost]" \
            in r.stdout
        assert stderr_error(r) == (
            'error: error execution phase preflight: the version argument is invalid due to these errors:\n\n'
            '\t- There are kubelets in this cluster that are too old that have these versions [v1.31.0]\n\n'
            'Can be bypassed if you pass the --force flag\n')
    finally:
        c.delete("/api/v1/nodes/cp-ghost")
    assert "kube-apiserver:v1.34.3" in cp.read("/etc/kubernetes/manifests/kube-apiserver.yaml")


def test_apply_v135(cluster, bins):
    cp, _ = cluster
    before = {comp: mirror(cp, comp)["metadata"]["annotations"]["kubernetes.io/config.hash"]
              for comp in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")}
    old_crt = cp.read("/etc/kubernetes/pki/apiserver.crt")
    r = run(cp, bins[NEW][0], ["upgrade", "apply", NEW, "--yes"])
    assert r.returncode == 0, r.stdout + r.stderr + cp.kubelet_log()[-3000:]
    out = r.stdout
    assert out.endswith('\n[upgrade] SUCCESS! A control plane node of your cluster was upgraded to "v1.35.2".\n\n'
                        '[upgrade] Now please proceed with upgrading the rest of the nodes by following the right '
                        'order.\n')
    for line in ('[upgrade/control-plane] Upgrading your static Pod-hosted control plane to version "v1.35.2" '
                 '(timeout: 5m0s)...',
                 '[upgrade/staticpods] Preparing for "etcd" upgrade',
                 "[upgrade/staticpods] Renewing etcd-server certificate",
                 "[upgrade/staticpods] Waiting for the kubelet to restart the component",
                 "[upgrade/staticpods] This can take up to 5m0s",
                 "[apiclient] Found 1 Pods for label selector component=kube-apiserver",
                 '[upgrade/staticpods] Component "kube-scheduler" upgraded successfully!',
                 "[upgrade/etcd] Waiting for etcd to become available",
                 "[upgrade/control-plane] The control plane instance for this node was successfully upgraded!",
                 '[upload-config] Storing the configuration used in ConfigMap "kubeadm-config" in the "kube-system" '
                 'Namespace',
                 "[upgrade/kubelet-config] The kubelet configuration for this node was successfully upgraded!",
                 "[addons] Applied essential addon: CoreDNS"):
        assert line in out.splitlines(), (line, out)
    m = re.search(r'Moving new manifest to "/etc/kubernetes/manifests/kube-apiserver\.yaml" and backing up old '
                  r'manifest to "(/etc/kubernetes/tmp/kubeadm-backup-manifests-\d{4}(?:-\d\d){5})'
                  r'/kube-apiserver\.yaml"', out)
    assert m, out
    # the API server runs the v1.35.2 image; the kubelet is still v1.34.3
    assert server_version(cp) == NEW
    assert kubelet_version(cp, "cp1") == OLD
    for comp in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        assert "image: registry.k8s.io/%s:v1.35.2" % comp in cp.read("/etc/kubernetes/manifests/%s.yaml" % comp)
        assert os.path.exists(cp.path(m.group(1) + "/%s.yaml" % comp))
    assert "image: registry.k8s.io/etcd:3.6.6-0" in cp.read("/etc/kubernetes/manifests/etcd.yaml")
    assert "image: registry.k8s.io/kube-apiserver:v1.34.3" in cp.read(m.group(1) + "/kube-apiserver.yaml")
    etcd_backup = glob.glob(cp.path("/etc/kubernetes/tmp/kubeadm-backup-etcd-*/etcd/member/snap/db"))
    assert etcd_backup, os.listdir(cp.path("/etc/kubernetes/tmp"))
    assert not glob.glob(cp.path("/etc/kubernetes/tmp/kubeadm-upgraded-manifests*"))
    # the mirror Pods follow the new manifests
    for comp, h in before.items():
        pod = mirror(cp, comp)
        assert pod["metadata"]["annotations"]["kubernetes.io/config.hash"] != h, comp
        with open(cp.path("/etc/kubernetes/manifests/%s.yaml" % comp), "rb") as fh:
            assert pod["metadata"]["annotations"]["kubernetes.io/config.hash"] == hashlib.md5(fh.read()).hexdigest()
    assert mirror(cp, "kube-apiserver")["status"]["containerStatuses"][0]["image"] == \
        "registry.k8s.io/kube-apiserver:v1.35.2"
    code, cm = admin(cp).get("/api/v1/namespaces/kube-system/configmaps/kubeadm-config")
    assert code == 200 and "kubernetesVersion: v1.35.2" in cm["data"]["ClusterConfiguration"]
    # certificates were renewed, and the data survived the etcd restart
    assert cp.read("/etc/kubernetes/pki/apiserver.crt") != old_crt
    code, _ = admin(cp).get("/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef")
    assert code == 200


def test_apply_again_is_a_no_op(cluster, bins):
    cp, _ = cluster
    h = mirror(cp, "kube-apiserver")["metadata"]["annotations"]["kubernetes.io/config.hash"]
    r = run(cp, bins[NEW][0], ["upgrade", "apply", NEW, "-y"])
    assert r.returncode == 0, r.stdout + r.stderr
    for comp in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        assert "[upgrade/staticpods] Current and new manifests of %s are equal, skipping upgrade" % comp \
            in r.stdout.splitlines()
    assert '[upgrade] SUCCESS! A control plane node of your cluster was upgraded to "v1.35.2".' in r.stdout
    assert mirror(cp, "kube-apiserver")["metadata"]["annotations"]["kubernetes.io/config.hash"] == h


def test_upgrade_node_on_the_worker(cluster, bins):
    cp, w = cluster
    r = run(w, bins[NEW][0], ["upgrade", "node", "--patches", "/patches"])
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[:6] == ['[upgrade] Reading configuration from the "kubeadm-config" ConfigMap in namespace '
                         '"kube-system"...',
                         "[upgrade] Use 'kubeadm init phase upload-config kubeadm --config your-config-file' to "
                         "re-upload it.",
                         "[upgrade/preflight] Running pre-flight checks",
                         "[upgrade/preflight] Skipping prepull. Not a control plane node.",
                         "[upgrade/control-plane] Skipping phase. Not a control plane node.",
                         "[upgrade/kubeconfig] Skipping phase. Not a control plane node."]
    assert "[upgrade/kubelet-config] The kubelet configuration for this node was successfully upgraded!" in lines
    assert "[upgrade/addon] Skipping the addon/coredns phase. Not a control plane node." in lines
    assert re.search(r"W\d{4} .* postupgrade\.go:105\] Using temporary directory "
                     r"/etc/kubernetes/tmp/kubeadm-kubelet-config-\d{4}(-\d\d){5} for kubelet config", r.stderr)
    # the node's own kubelet ports come back through its patches
    assert "healthzPort: %d" % w.ports["healthz"] in w.read("/var/lib/kubelet/config.yaml")
    assert glob.glob(w.path("/etc/kubernetes/tmp/kubeadm-kubelet-config-*/config.yaml"))
    assert not w.exists("/etc/kubernetes/manifests/kube-apiserver.yaml")


def test_upgrade_node_on_the_control_plane(cluster, bins):
    cp, _ = cluster
    # the cluster runs v1.35.2 now: kubeadm 1.34 cannot upgrade this control plane to it
    r = run(cp, bins[OLD][0], ["upgrade", "node"])
    assert r.returncode == 1
    assert 'error: error execution phase control-plane: Specified version to upgrade to "v1.35.2" is at least one ' \
           'minor release higher than the kubeadm minor release (35 > 34). Such an upgrade is not supported\n' \
           in r.stderr
    r = run(cp, bins[NEW][0], ["upgrade", "node"])
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert '[upgrade/control-plane] Upgrading your Static Pod-hosted control plane instance to version "v1.35.2"...' \
        in lines
    assert "[upgrade/staticpods] Current and new manifests of kube-apiserver are equal, skipping upgrade" in lines
    assert "[upgrade/control-plane] The control plane instance for this node was successfully upgraded!" in lines


def test_kubelet_binary_upgrade(cluster, bins):
    cp, _ = cluster
    assert kubelet_version(cp, "cp1") == OLD
    cp.kubelet_bin = bins[NEW][1]
    cp._set_want("running")  # systemctl restart kubelet, now with the v1.35.2 binary
    assert wait_for(lambda: _try(lambda: kubelet_version(cp, "cp1")) == NEW, timeout=60), cp.kubelet_log()[-3000:]
    assert server_version(cp) == NEW
    assert kubelet_version(cp, "w1") == OLD


def _try(fn):
    try:
        return fn()
    except (AssertionError, kclient.APIError, KeyError):
        return None
