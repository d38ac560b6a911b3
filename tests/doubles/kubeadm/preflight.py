"""kubeadm preflight checks (cmd/kubeadm/app/preflight/checks.go, the ones that matter here).

Output like kubeadm 1.35: warnings as ``\\t[WARNING <Name>]: <msg>`` on stdout;
fatal ones as ``[preflight] Some fatal errors occurred:`` + ``\\t[ERROR <Name>]: <msg>``
lines + the --ignore-preflight-errors hint (stderr), then the command fails with
``error execution phase preflight: preflight checks failed``.  Ignored errors
are printed as warnings.  Check names are matched case-insensitively.

The ImagePull check runs on its own after the others (kubeadm's RunPullImagesCheck), on the
first control plane and on a joining control plane; see run_pull_images.
"""
import json
import os
import socket
import sys

from . import criruntime, glog, images, paths, version

EUID_ENV = "KUBEFORGE_DOUBLE_EUID"  # TEST HOOK ONLY: pretend to run with this effective uid

SWAP_WARNING = ("swap is supported for cgroup v2 only. The kubelet must be properly configured to use swap. Please "
                "refer to https://kubernetes.io/docs/concepts/architecture/nodes/#swap-memory, or disable swap on "
                "the node")


# system-validators v1.12.1 (kubeadm 1.35): an error when the kubelet is 1.35 or newer.
CGROUP_V1_ERROR = ("cgroups v1 support is deprecated and will be removed in a future release. Please migrate to "
                   "cgroups v2. To explicitly enable cgroups v1 support for kubelet v1.35 or newer, you must set the "
                   "kubelet configuration option 'FailCgroupV1' to 'false'. You must also explicitly skip this "
                   "validation. For more information, see "
                   "https://git.k8s.io/enhancements/keps/sig-node/5573-remove-cgroup-v1")


class PreflightError(Exception):
    """Fatal preflight result; str() is kubeadm's phase error."""


def euid():
    v = os.environ.get(EUID_ENV)
    if v not in (None, ""):
        try:
            return int(v)
        except ValueError:
            pass
    return os.geteuid()


def path_name(prefix, p):
    return prefix + p.replace("/", "-")


class Check:
    def __init__(self, name, fn):
        self.name, self.fn = name, fn

    def run(self):
        return self.fn()


def is_privileged():
    if euid() != 0:
        return [], ["user is not running as root"]
    return [], []


def num_cpu():
    n = os.cpu_count() or 1
    if n < 2:
        return [], ["the number of available CPUs %d is less than the required 2" % n]
    return [], []


def file_available(p):
    def fn():
        if paths.exists(p):
            return [], ["%s already exists" % p]
        return [], []
    return Check(path_name("FileAvailable-", p), fn)


def dir_available(p):
    def fn():
        hp = paths.host(p)
        try:
            if os.listdir(hp):
                return [], ["%s is not empty" % p]
        except FileNotFoundError:
            pass
        except OSError as e:
            return [], ["unable to check if %s is empty: %s" % (p, e)]
        return [], []
    return Check(path_name("DirAvailable-", p), fn)


def file_content(p, want):
    def fn():
        try:
            got = paths.read_text(p)
        except OSError:
            return [], ["%s does not exist" % p]
        if got.strip() != want:
            return [], ["%s contents are not set to %s" % (p, want)]
        return [], []
    return Check(path_name("FileContent-", p), fn)


def port_open(port):
    def fn():
        s = socket.socket(socket.AF_INET6 if socket.has_ipv6 else socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                if s.family == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                    s.bind(("::", port))
                else:
                    s.bind(("", port))
            except OSError:
                if s.family == socket.AF_INET6:
                    s.close()
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("", port))
                else:
                    raise
            s.listen(1)
        except OSError:
            return [], ["Port %d is in use" % port]
        finally:
            s.close()
        return [], []
    return Check("Port-%d" % port, fn)


def cri_socket_path(endpoint):
    return endpoint.split("://", 1)[1] if "://" in endpoint else endpoint


def cri_dial_error(endpoint):
    """None if the CRI socket accepts a connection, else the gRPC-ish error text."""
    p = cri_socket_path(endpoint)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(paths.host(p))
        return None
    except FileNotFoundError:
        why = "no such file or directory"
    except ConnectionRefusedError:
        why = "connection refused"
    except PermissionError:
        why = "permission denied"
    except OSError as e:
        why = (e.strerror or str(e)).lower()
    finally:
        s.close()
    return ('rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial unix '
            '%s: connect: %s"' % (p, why))


def cri(endpoint):
    def fn():
        err = cri_dial_error(endpoint)
        if err:
            return [], ["container runtime is not running: %s" % err]
        return [], []
    return Check("CRI", fn)


def swap():
    def fn():
        try:
            lines = [l for l in paths.read_text(paths.PROC_SWAPS).splitlines() if l.strip()]
        except OSError:
            return [], []
        if len(lines) > 1:
            return [SWAP_WARNING], []
        return [], []
    return Check("Swap", fn)


def system_verification():
    """The cgroups part of kubeadm's SystemVerification (the kernel and OS report is not modelled).
    The kubelet version is taken to be kubeadm's own, as the release installs both."""
    def fn():
        if paths.cgroup_v1() and (version.MAJOR, version.MINOR) >= (1, 35):
            return [], [CGROUP_V1_ERROR]
        return [], []
    return Check("SystemVerification", fn)


def kubernetes_version(kv):
    def fn():
        try:
            ma, mi, pa = version.parse_tag(kv if kv.startswith("v") else "v" + kv)
        except ValueError:
            return [], []
        if (ma, mi) < (version.MAJOR, version.MINOR - 1):
            return [], ["this version of kubeadm only supports deploying clusters with the control plane version "
                        ">= %d.%d.0. Current version: %s" % (version.MAJOR, version.MINOR - 1, kv)]
        if (ma, mi, pa) > (version.MAJOR, version.MINOR, version.PATCH):
            return ["Kubernetes version is greater than kubeadm version. Please consider to upgrade kubeadm. "
                    "Kubernetes version: %d.%d.%d. Kubeadm version: %d.%d.x" % (ma, mi, pa, version.MAJOR,
                                                                                version.MINOR)], []
        return [], []
    return Check("KubernetesVersion", fn)


def run(checks, ignore):
    """Run checks; print warnings; raise PreflightError on unignored errors."""
    ign = {i.strip().lower() for i in ignore if i.strip()}
    fatal = []
    for c in checks:
        warns, errs = c.run()
        for w in warns:
            sys.stdout.write("\t[WARNING %s]: %s\n" % (c.name, w))
        for e in errs:
            if "all" in ign or c.name.lower() in ign:
                sys.stdout.write("\t[WARNING %s]: %s\n" % (c.name, e))
            else:
                fatal.append((c.name, e))
    sys.stdout.flush()
    if fatal:
        fatal_block("".join("\t[ERROR %s]: %s\n" % (name, e) for name, e in fatal))


def fatal_block(msg):
    """kubeadm's handleError: the fatal block on stderr, then the phase fails. msg is printed as it is (an error
    that belongs to no check, such as a CRI connection failure, has no newline before the hint, as in kubeadm)."""
    sys.stderr.write("[preflight] Some fatal errors occurred:\n%s" % msg)
    sys.stderr.write(IGNORE_HINT)
    sys.stderr.flush()
    raise PreflightError("preflight checks failed")


IGNORE_HINT = ("[preflight] If you know what you are doing, you can make a check non-fatal with "
               "`--ignore-preflight-errors=...`\n")


def root_check(ignore):
    run([Check("IsPrivilegedUser", is_privileged)], ignore)


def init_checks(init, cluster, kubelet, secondary=False):
    """kubeadm's RunInitNodeChecks; secondary: a joining control plane (the node checks already ran)."""
    ep = init["localAPIEndpoint"]
    checks = [Check("NumCPU", num_cpu), kubernetes_version(cluster.get("kubernetesVersion", "")),
              port_open(int(ep["bindPort"])), port_open(10259), port_open(10257)]
    for comp in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"):
        checks.append(file_available("%s/%s.yaml" % (paths.MANIFESTS_DIR, comp)))
    local = (cluster.get("etcd") or {}).get("local")
    if local is not None:
        checks += [port_open(2379), port_open(2380), dir_available(local.get("dataDir") or paths.ETCD_DIR)]
    if not secondary:
        checks += node_checks(init["nodeRegistration"]["criSocket"])
    return checks


def node_checks(cri_socket):
    return [cri(cri_socket), system_verification(), swap(), file_content(paths.IP_FORWARD, "1"), port_open(10250)]


def join_checks(join):
    checks = [dir_available(paths.MANIFESTS_DIR), file_available(paths.KUBELET_CONF),
              file_available(paths.BOOTSTRAP_KUBELET_CONF)]
    if join.get("controlPlane") is None:
        # a joining control plane gets ca.crt from the kubeadm-certs Secret (or has it already)
        checks.append(file_available(join.get("caCertPath") or paths.PKI_DIR + "/ca.crt"))
    return checks + node_checks(join["nodeRegistration"]["criSocket"])


def image_pull(init, cluster):
    """ImagePullCheck: nodeRegistration.imagePullPolicy Never skips everything; otherwise the sandbox image of
    the runtime is compared with kubeadm's pause image (a klog warning when they differ), then every image of
    images.control_plane_images is pulled: IfNotPresent only when containerd does not hold it (a failed look-up
    is a klog warning, then the image is pulled, as kubeadm's ImageExists does), Always in any case. A failed
    pull is ``failed to pull image <img>: failed to pull image <img>: <containerd's error>`` (the check's and
    the runtime's wrapping). imagePullSerial false (parallel pulls) makes one aggregated error of them."""
    nr = init["nodeRegistration"]
    sock = nr["criSocket"]
    policy = nr.get("imagePullPolicy") or "IfNotPresent"
    serial = nr.get("imagePullSerial") is not False
    wanted = images.component_images(cluster, version.VERSION)

    def fn():
        if policy in ("Always", "IfNotPresent"):
            glog.v(1, "checks.go:809", "using image pull policy: %s" % policy)
        elif policy == "Never":
            glog.v(1, "checks.go:811", "skipping the pull of all images due to policy: %s" % policy)
            return [], []
        else:
            return [], ["unsupported pull policy %s" % json.dumps(policy)]
        ctrd = criruntime.containerd_version()
        sandbox, why = criruntime.sandbox_image(ctrd)
        if why:
            glog.v(4, "checks.go:822", "failed to detect the sandbox image for local container runtime, %s" % why)
        elif sandbox != wanted["pause"]:
            glog.warning("checks.go:827", "detected that the sandbox image %s of the container runtime is inconsistent "
                         "with that used by kubeadm. It is recommended to use %s as the CRI sandbox image."
                         % (json.dumps(sandbox), json.dumps(wanted["pause"])))
        held, listing_error = None, None
        errs = []
        for image in wanted.values():
            if policy == "IfNotPresent":
                if held is None:
                    try:
                        held = criruntime.image_names(sock)
                    except criruntime.CtrError as e:
                        held, listing_error = set(), str(e)
                if listing_error is not None:
                    glog.warning("runtime.go:206", "Failed to get image status, image: %s, error: %s"
                                 % (json.dumps(image), listing_error))
                elif images.normalize_reference(image) in held:
                    glog.v(1, "checks.go:850", "image exists: %s" % image)
                    continue
            glog.v(1, "checks.go:854", "pulling: %s" % image)
            err = criruntime.pull_image(image, ctrd)
            if err:
                errs.append("failed to pull image %s: failed to pull image %s: %s" % (image, image, err))
        if not serial and len(errs) > 1:
            errs = ["[" + ", ".join(dict.fromkeys(errs)) + "]"]
        return [], errs
    return Check("ImagePull", fn)


def run_pull_images(init, cluster, ignore):
    """RunPullImagesCheck: connect to the CRI (a dead socket fails preflight whatever is ignored, with the
    connection error as the whole message), then the ImagePull check through run()."""
    sock = init["nodeRegistration"]["criSocket"]
    err = cri_dial_error(sock)
    if err:
        fatal_block("failed to create new CRI runtime service: validate service connection: validate CRI v1 "
                    "runtime API for endpoint %s: %s" % (json.dumps(sock), err))
    run([image_pull(init, cluster)], ignore)
