"""kubeadm double: the ImagePull preflight check (kubeadm's RunPullImagesCheck) and its sandbox image warning.

Most tests call the check in this process on a node root from kubeadm_double_helpers.Node (fake ctr first on
PATH, resolv.conf and containerd config under KUBEFORGE_DOUBLE_ROOT); the last ones run
``kubeadm init`` of the built double.
"""
import os
import re
import stat

import pytest

from kubeadm_double_helpers import KUBE, Node, kadm_bin, kubelet_bin, make_node  # noqa: F401

from kubeadm import criruntime, glog, images, preflight  # noqa: E402  (tests/doubles is on sys.path)

SOCK = "unix:///var/run/containerd/containerd.sock"
CLUSTER = {"kubernetesVersion": KUBE, "imageRepository": "registry.k8s.io", "etcd": {"local": {}}}
ALL = images.control_plane_images(CLUSTER)
PAUSE = "registry.k8s.io/pause:3.10.1"


def unreachable(image, repo, tag):
    """What the check reports for an image of registry.k8s.io: the test bed has no registry (containerd 1.x)."""
    return ('failed to pull image %s: failed to pull image %s: failed to pull and unpack image "%s": failed to '
            'resolve reference "%s": failed to do request: Head "https://registry.k8s.io/v2/%s/manifests/%s": dial '
            'tcp: lookup registry.k8s.io on 127.0.0.11:53: server misbehaving'
            % (image, image, image, image, repo, tag))


PAUSE_UNREACHABLE = unreachable(PAUSE, "pause", "3.10.1")
ETCD_UNREACHABLE = unreachable("registry.k8s.io/etcd:3.6.6-0", "etcd", "3.6.6-0")
KLOG = re.compile(r"^([IWE])\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ ([\w.]+:\d+)\] (.*)$")


@pytest.fixture
def node(monkeypatch):
    """A node root for in-process checks (no kubeadm or kubelet binary needed)."""
    made = []

    def _make(**kw):
        n = Node(None, None, "n1", **kw)
        made.append(n)
        for k in ("PATH", "KUBEFORGE_DOUBLE_ROOT"):
            monkeypatch.setenv(k, n.env[k])
        return n
    monkeypatch.setattr(glog, "VERBOSITY", 0)
    yield _make
    for n in made:
        n.close()


def check(policy="IfNotPresent", cluster=None, serial=None, ignore=()):
    init = {"nodeRegistration": {"criSocket": SOCK, "imagePullPolicy": policy}}
    if serial is not None:
        init["nodeRegistration"]["imagePullSerial"] = serial
    preflight.run_pull_images(init, cluster or CLUSTER, list(ignore))


def klog_lines(err):
    return [KLOG.match(ln).groups() for ln in err.splitlines() if KLOG.match(ln)]


def test_present_images_are_not_pulled(node, capsys):
    n = node()
    n.set_images(ALL + ["docker.io/library/busybox:1.36"])
    check()
    out, err = capsys.readouterr()
    assert out == "" and err == ""
    assert n.pull_log() == []
    # one listing through the node's CRI socket, in containerd's CRI namespace
    assert n.ctr_calls() == ["--address %s/var/run/containerd/containerd.sock --namespace k8s.io images list --quiet"
                             % n.root]


def test_absent_images_fail_to_pull_and_every_attempt_is_logged(node, capsys):
    """The double never pulls: the test bed has no registry, as an airgapped node has none."""
    n = node()
    n.set_images([i for i in ALL if i not in (PAUSE, "registry.k8s.io/etcd:3.6.6-0")])
    with pytest.raises(preflight.PreflightError) as e:
        check()
    assert str(e.value) == "preflight checks failed"
    out, err = capsys.readouterr()
    assert out == ""
    assert err == ("[preflight] Some fatal errors occurred:\n\t[ERROR ImagePull]: %s\n\t[ERROR ImagePull]: %s\n"
                   "[preflight] If you know what you are doing, you can make a check non-fatal with "
                   "`--ignore-preflight-errors=...`\n" % (PAUSE_UNREACHABLE, ETCD_UNREACHABLE))
    log = n.pull_log()
    assert [img for _, img, _ in log] == [PAUSE, "registry.k8s.io/etcd:3.6.6-0"]
    assert log[0][2] == "failed: " + PAUSE_UNREACHABLE.split(": ", 2)[2]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", log[0][0])
    path = n.path("/var/log/kubeforge-doubles/image-pulls.log")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o755
    # every attempt is appended
    with pytest.raises(preflight.PreflightError):
        check()
    assert [img for _, img, _ in n.pull_log()] == [PAUSE, "registry.k8s.io/etcd:3.6.6-0"] * 2


def test_ignore_preflight_errors_image_pull(node, capsys):
    n = node(images=False)
    check(ignore=["imagepull"])
    out, err = capsys.readouterr()
    assert out.count("\t[WARNING ImagePull]: failed to pull image ") == len(ALL)
    assert "\t[WARNING ImagePull]: %s\n" % PAUSE_UNREACHABLE in out
    assert err == ""
    assert len(n.pull_log()) == len(ALL)


def test_policy_never_does_nothing(node, capsys):
    n = node(images=False, sandbox="registry.k8s.io/pause:3.6")
    check("Never")
    assert capsys.readouterr() == ("", "")
    assert n.ctr_calls() == [] and n.pull_log() == []


def test_policy_always_pulls_present_images(node, capsys):
    n = node()
    n.set_images(ALL)
    with pytest.raises(preflight.PreflightError):
        check("Always")
    assert capsys.readouterr()[1].count("\t[ERROR ImagePull]: ") == len(ALL)
    assert [img for _, img, _ in n.pull_log()] == ALL
    assert n.ctr_calls() == []  # no look-up: Always does not ask


def test_failing_ctr_is_a_warning_then_the_image_is_pulled(node, capsys):
    """kubeadm 1.35's ImageExists logs a failed image status and reports the image as absent."""
    n = node()
    n.set_images(ALL)
    n.write("/fake-ctr/fail", 'ctr: failed to dial "%s/var/run/containerd/containerd.sock": context deadline '
                              'exceeded\n' % n.root)
    glog.VERBOSITY = 1
    with pytest.raises(preflight.PreflightError):
        check()
    out, err = capsys.readouterr()
    lines = klog_lines(err)
    warnings = [m for sev, _, m in lines if sev == "W"]
    assert warnings == ['Failed to get image status, image: "%s", error: failed to dial "%s/var/run/containerd/'
                        'containerd.sock": context deadline exceeded' % (i, n.root) for i in ALL]
    assert [m for sev, src, m in lines if sev == "I" and m.startswith("pulling: ")] == ["pulling: " + i for i in ALL]
    assert ("I", "checks.go:809", "using image pull policy: IfNotPresent") in lines
    assert [img for _, img, _ in n.pull_log()] == ALL
    assert out == "" and err.count("\t[ERROR ImagePull]: ") == len(ALL)


def test_ctr_missing_from_path(node, capsys, monkeypatch):
    n = node()
    os.remove(n.path("/fakebin/ctr"))
    monkeypatch.setenv("PATH", n.path("/fakebin"))
    with pytest.raises(preflight.PreflightError):
        check()
    out, err = capsys.readouterr()
    assert 'W' in err and 'Failed to get image status, image: "registry.k8s.io/kube-apiserver:v1.35.2", error: ' \
        'exec: "ctr": executable file not found in $PATH' in err
    assert err.count("\t[ERROR ImagePull]: ") == len(ALL)


def test_dead_cri_socket_is_not_ignorable(node, capsys):
    n = node(cri=False)
    with pytest.raises(preflight.PreflightError):
        check(ignore=["all"])
    out, err = capsys.readouterr()
    assert err == ('[preflight] Some fatal errors occurred:\nfailed to create new CRI runtime service: validate '
                   'service connection: validate CRI v1 runtime API for endpoint '
                   '"unix:///var/run/containerd/containerd.sock": rpc error: code = Unavailable desc = connection '
                   'error: desc = "transport: Error while dialing: dial unix /var/run/containerd/containerd.sock: '
                   'connect: no such file or directory"[preflight] If you know what you are doing, you can make a '
                   'check non-fatal with `--ignore-preflight-errors=...`\n')
    assert n.pull_log() == [] and n.ctr_calls() == []


def test_parallel_pulls_make_one_aggregated_error(node, capsys):
    n = node()
    n.set_images([i for i in ALL if i not in (PAUSE, "registry.k8s.io/etcd:3.6.6-0")])
    with pytest.raises(preflight.PreflightError):
        check(serial=False)
    err = capsys.readouterr()[1]
    assert err.count("\t[ERROR ImagePull]: ") == 1
    assert "\t[ERROR ImagePull]: [%s, %s]\n" % (PAUSE_UNREACHABLE, ETCD_UNREACHABLE) in err


def test_docker_hub_names_are_matched_and_named_as_containerd_does(node, capsys):
    n = node()
    cluster = dict(CLUSTER, imageRepository="kubeforge")
    want = images.control_plane_images(cluster)
    # ctr lists what containerd holds under its normalized name
    n.set_images(["docker.io/" + i for i in want if "pause" not in i])
    with pytest.raises(preflight.PreflightError):
        check(cluster=cluster)
    err = capsys.readouterr()[1]
    assert err.count("\t[ERROR ImagePull]: ") == 1
    assert ('\t[ERROR ImagePull]: failed to pull image kubeforge/pause:3.10.1: failed to pull image '
            'kubeforge/pause:3.10.1: failed to pull and unpack image "docker.io/kubeforge/pause:3.10.1": failed to '
            'resolve reference "docker.io/kubeforge/pause:3.10.1": failed to do request: Head '
            '"https://registry-1.docker.io/v2/kubeforge/pause/manifests/3.10.1": dial tcp: lookup '
            'registry-1.docker.io on 127.0.0.11:53: server misbehaving\n') in err


def test_unreachable_wording_follows_containerd_and_the_resolver(node):
    n = node()
    ref = "registry.k8s.io/pause:3.10.1"
    msg = criruntime.unreachable_pull_error(ref, (2, 1))
    assert msg == ('failed to pull and unpack image "registry.k8s.io/pause:3.10.1": failed to resolve image: failed '
                   'to do request: Head "https://registry.k8s.io/v2/pause/manifests/3.10.1": dial tcp: lookup '
                   'registry.k8s.io on 127.0.0.11:53: server misbehaving')
    n.write("/etc/resolv.conf", "nameserver 10.0.0.2\nnameserver 192.168.1.1\n")
    assert criruntime.unreachable_pull_error(ref, (1, 7)).endswith(
        "dial tcp: lookup registry.k8s.io on 192.168.1.1:53: dial udp 192.168.1.1:53: connect: network is "
        "unreachable")
    n.write("/etc/resolv.conf", "# no servers\n")
    assert re.search(r"dial tcp: lookup registry\.k8s\.io on \[::1\]:53: read udp \[::1\]:\d+->\[::1\]:53: read: "
                     r"connection refused$", criruntime.unreachable_pull_error(ref, None))
    assert 'Head "https://localhost:5000/v2/k8s/pause/manifests/3.10.1": dial tcp: lookup localhost on ' in \
        criruntime.unreachable_pull_error("localhost:5000/k8s/pause:3.10.1", (1, 6))


# --- the sandbox image warning ------------------------------------------------------------------

SANDBOX_WARNING = ('detected that the sandbox image "%s" of the container runtime is inconsistent with that used by '
                   'kubeadm. It is recommended to use "%s" as the CRI sandbox image.')


def sandbox_warnings(err):
    return [(src, m) for sev, src, m in klog_lines(err) if sev == "W" and m.startswith("detected that the sandbox")]


def test_sandbox_image_differs_from_kubeadms_pause(node, capsys):
    node(sandbox="registry.k8s.io/pause:3.10").set_images(ALL)
    check()
    out, err = capsys.readouterr()
    assert sandbox_warnings(err) == [("checks.go:827", SANDBOX_WARNING % ("registry.k8s.io/pause:3.10", PAUSE))]
    assert err.startswith("W")  # a klog line on stderr, nothing on stdout
    assert out == ""


def test_sandbox_image_matching_kubeadms_pause_is_quiet(node, capsys):
    node().set_images(ALL)
    check()
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("version,config,warned", [
    # no config file: containerd's own default for its release
    ("ctr github.com/containerd/containerd 1.6.20~ds1", None, "registry.k8s.io/pause:3.6"),
    ("ctr github.com/containerd/containerd 1.7.24~ds1", None, "registry.k8s.io/pause:3.8"),
    ("ctr github.com/containerd/containerd 1.5.9", None, None),  # a default the double does not know
    # a version 2 file without sandbox_image keeps the default
    ("ctr github.com/containerd/containerd 1.6.20~ds1", 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n'
     "  enable_cdi = true\n", "registry.k8s.io/pause:3.6"),
    # version 1 layout (no version key)
    ("ctr github.com/containerd/containerd 1.6.20~ds1", '[plugins.cri]\nsandbox_image = "k8s.gcr.io/pause:3.5"\n',
     "k8s.gcr.io/pause:3.5"),
    # containerd 2.x does not report its sandbox image through the CRI: kubeadm 1.35 stays quiet
    ("ctr github.com/containerd/containerd/v2 v2.1.4",
     "version = 3\n[plugins.'io.containerd.cri.v1.images'.pinned_images]\n  sandbox = 'registry.k8s.io/pause:3.10'\n",
     None),
    ("ctr github.com/containerd/containerd/v2 v2.1.4", None, None),
    # a file containerd could not read either
    ("ctr github.com/containerd/containerd 1.6.20~ds1", "version = 2\n[plugins\n", None),
])
def test_sandbox_image_sources(node, capsys, version, config, warned):
    n = node(sandbox=None)
    n.set_images(ALL)
    n.write("/fake-ctr/version", version + "\n")
    if config is not None:
        n.write("/etc/containerd/config.toml", config)
    glog.VERBOSITY = 4
    check()
    err = capsys.readouterr()[1]
    if warned:
        assert sandbox_warnings(err) == [("checks.go:827", SANDBOX_WARNING % (warned, PAUSE))]
    else:
        assert sandbox_warnings(err) == []
        assert "failed to detect the sandbox image for local container runtime, " in err


def test_sandbox_image_is_compared_with_the_configured_repository(node, capsys):
    node(sandbox="mirror.example/k8s/pause:3.10.1").set_images(
        images.control_plane_images(dict(CLUSTER, imageRepository="mirror.example/k8s")))
    check(cluster=dict(CLUSTER, imageRepository="mirror.example/k8s"))
    assert capsys.readouterr() == ("", "")


# --- kubeadm init of the built double ----------------------------------------------------------

PULL_LINES = ("[preflight] Pulling images required for setting up a Kubernetes cluster\n"
              "[preflight] This might take a minute or two, depending on the speed of your internet connection\n"
              "[preflight] You can also perform this action beforehand using 'kubeadm config images pull'\n")


def init(n, *extra):
    n.write("/etc/kubernetes/kubeadm-init.yaml", n.init_config(timeouts="2s"))
    return n.kubeadm(["init", "--config", "/etc/kubernetes/kubeadm-init.yaml"] + list(extra))


def test_init_fails_preflight_when_images_cannot_be_pulled(make_node):
    n = make_node(images=False)
    r = init(n)
    assert r.returncode == 1
    assert r.stdout.endswith("[preflight] Running pre-flight checks\n" + PULL_LINES)
    assert r.stderr.startswith("[preflight] Some fatal errors occurred:\n\t[ERROR ImagePull]: failed to pull image "
                               "registry.k8s.io/kube-apiserver:v1.35.2: failed to pull image "
                               "registry.k8s.io/kube-apiserver:v1.35.2: failed to pull and unpack image ")
    assert "\t[ERROR ImagePull]: %s\n" % PAUSE_UNREACHABLE in r.stderr
    assert r.stderr.endswith("`--ignore-preflight-errors=...`\nerror: error execution phase preflight: preflight "
                             "checks failed\nTo see the stack trace of this error execute with --v=5 or higher\n")
    assert [img for _, img, _ in n.pull_log()] == ALL
    assert not n.exists("/etc/kubernetes/pki/ca.crt")


def test_init_with_imported_images_pulls_nothing(make_node):
    """The airgap case (and every scenario's): the images are in containerd before kubeadm init."""
    n = make_node(images=False)
    n.set_images(ALL)
    r = init(n)  # gets past preflight and times out waiting for a kubelet that is not running
    assert PULL_LINES + '[certs] Using certificateDir folder "/etc/kubernetes/pki"\n' in r.stdout, r.stderr
    assert "ImagePull" not in r.stdout + r.stderr
    assert n.pull_log() == []


def test_init_ignore_preflight_errors_image_pull(make_node):
    n = make_node(images=False)
    r = init(n, "--ignore-preflight-errors=ImagePull")
    assert "\t[WARNING ImagePull]: %s\n" % PAUSE_UNREACHABLE in r.stdout
    assert '[certs] Generating "ca" certificate and key' in r.stdout
    assert len(n.pull_log()) == len(ALL)


def test_init_image_pull_policy_from_the_configuration(make_node):
    n = make_node(images=False)
    n.write("/c.yaml", n.init_config(timeouts="2s").replace("nodeRegistration:\n  name: node1\n",
                                                            "nodeRegistration:\n  name: node1\n"
                                                            "  imagePullPolicy: Never\n"))
    assert "imagePullPolicy: Never" in n.read("/c.yaml")
    r = n.kubeadm(["init", "--config", "/c.yaml"])
    assert '[certs] Generating "ca" certificate and key' in r.stdout, r.stderr
    assert n.pull_log() == [] and n.ctr_calls() == []
