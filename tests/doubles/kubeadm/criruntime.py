"""What kubeadm's ImagePull preflight check asks the container runtime (cmd/kubeadm/app/util/runtime).

Real kubeadm speaks CRI (gRPC) to the runtime. The double asks the node's real containerd
through ``ctr`` (shipped in Debian's containerd package) which images it holds, and reads
containerd's configuration for its sandbox image. It never pulls: the test bed has no
registry, so every pull fails the way containerd fails when the registry's name cannot be
resolved (what an airgapped node sees), and the scenarios load kubeadm's images from an
archive first (kubeadm_images_archive), as an airgapped site does. A double that "pulled"
would let a role that forgot the images pass. Every pull attempt is appended to
``paths.IMAGE_PULL_LOG``, so a test can show that no node tried to reach a registry.
"""
import datetime
import ipaddress
import os
import re
import subprocess

from . import glog, images, paths

CTR = "ctr"
CRI_NAMESPACE = "k8s.io"
CTR_TIMEOUT = 30
_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.\d+")
# containerd's own sandbox image when its configuration names none (config default of the release)
DEFAULT_SANDBOX_IMAGE = {(1, 6): "registry.k8s.io/pause:3.6", (1, 7): "registry.k8s.io/pause:3.8"}


class CtrError(Exception):
    """ctr could not be run or failed; str() is the cause as ctr (or Go's exec) words it."""


def socket_path(cri_socket):
    return cri_socket.split("://", 1)[1] if "://" in cri_socket else cri_socket


def ctr(cri_socket, args):
    """stdout of ``ctr --address <socket> --namespace k8s.io ARGS``."""
    cmd = [CTR, "--address", paths.host(socket_path(cri_socket)), "--namespace", CRI_NAMESPACE] + list(args)
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=CTR_TIMEOUT)
    except FileNotFoundError:
        raise CtrError('exec: "%s": executable file not found in $PATH' % CTR)
    except subprocess.TimeoutExpired:
        raise CtrError("context deadline exceeded")
    except OSError as e:
        raise CtrError("fork/exec %s: %s" % (CTR, (e.strerror or str(e)).lower()))
    if p.returncode != 0:
        lines = [ln.strip() for ln in p.stderr.splitlines() if ln.strip()]
        msg = lines[-1] if lines else "exit status %d" % p.returncode
        raise CtrError(msg[len("ctr: "):] if msg.startswith("ctr: ") else msg)
    return p.stdout


def image_names(cri_socket):
    """The names containerd holds in the CRI namespace (``ctr images list --quiet``), as listed."""
    return {ln.strip() for ln in ctr(cri_socket, ["images", "list", "--quiet"]).splitlines() if ln.strip()}


def containerd_version():
    """(major, minor) from ``ctr --version`` (``ctr github.com/containerd/containerd 1.6.20~ds1``,
    ``ctr github.com/containerd/containerd/v2 v2.1.4``), or None when ctr cannot tell."""
    try:
        p = subprocess.run([CTR, "--version"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True, timeout=CTR_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return None
    fields = p.stdout.split()
    for f in fields[2:]:
        m = _VERSION.match(f)
        if m:
            return int(m.group(1)), int(m.group(2))
    return None


def sandbox_image(version):
    """(image, None) or (None, why): the sandbox image containerd's CRI reports (kubeadm reads it from the CRI
    status; the double from /etc/containerd/config.toml). version: containerd_version().

    containerd 1.x: ``sandbox_image`` of ``[plugins."io.containerd.grpc.v1.cri"]`` (config version 2) or
    ``[plugins.cri]`` (version 1), else the release's default. containerd 2.x (config version 3, where the image is
    ``[plugins.'io.containerd.cri.v1.images'.pinned_images] sandbox``) no longer puts it in the CRI status, so
    kubeadm finds none and does not warn (kubernetes/kubeadm#3146)."""
    try:
        text = paths.read_text(paths.CONTAINERD_CONFIG)
    except FileNotFoundError:
        text = None
    except OSError as e:
        return None, "failed to read %s: %s" % (paths.CONTAINERD_CONFIG, (e.strerror or str(e)).lower())
    doc = {}
    if text is not None:
        try:
            import tomllib
        except ImportError:  # Python < 3.11: no TOML reader in the standard library
            return None, "cannot read %s without tomllib (Python 3.11+)" % paths.CONTAINERD_CONFIG
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            return None, "failed to parse %s: %s" % (paths.CONTAINERD_CONFIG, e)
    cfg_version = doc.get("version", 1) if isinstance(doc.get("version", 1), int) else 1
    if (version and version[0] >= 2) or cfg_version >= 3:
        return None, "no 'sandboxImage' field in CRI info config"
    plugins = doc.get("plugins") if isinstance(doc.get("plugins"), dict) else {}
    cri = plugins.get("io.containerd.grpc.v1.cri" if cfg_version == 2 else "cri")
    image = cri.get("sandbox_image") if isinstance(cri, dict) else None
    if isinstance(image, str) and image:
        return image, None
    default = DEFAULT_SANDBOX_IMAGE.get(tuple(version[:2])) if version else None
    if default is None:
        return None, "the default sandbox image of containerd %s is not known to the kubeforge double" % (
            "%d.%d" % tuple(version[:2]) if version else "(version unknown)")
    return default, None


def nameservers():
    """The resolver's servers as Go reads them from /etc/resolv.conf (at most three)."""
    out = []
    try:
        text = paths.read_text(paths.RESOLV_CONF)
    except OSError:
        return out
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] == "nameserver" and len(out) < 3:
            try:
                out.append(str(ipaddress.ip_address(f[1].split("%")[0])))
            except ValueError:
                pass
    return out


def lookup_error(host):
    """What Go's resolver (inside containerd) reports for ``host`` when the registry cannot be reached: a local
    stub resolver (Docker's 127.0.0.11, systemd-resolved) cannot forward and answers SERVFAIL ("server
    misbehaving"); a remote server cannot be reached at all; no server at all means Go's default [::1]:53,
    where nothing listens. Go reports the last server it tried."""
    servers = nameservers()
    if not servers:
        port = 32768 + os.getpid() % 28000
        return "lookup %s on [::1]:53: read udp [::1]:%d->[::1]:53: read: connection refused" % (host, port)
    ns = servers[-1]
    hp = "[%s]:53" % ns if ":" in ns else "%s:53" % ns
    if ipaddress.ip_address(ns).is_loopback:
        return "lookup %s on %s: server misbehaving" % (host, hp)
    return "lookup %s on %s: dial udp %s: connect: network is unreachable" % (host, hp, hp)


def unreachable_pull_error(image, version):
    """containerd's PullImage error for an image whose registry cannot be reached (as kubeadm 1.35 shows it:
    cri-client strips the gRPC "rpc error: code = Unknown desc =" prefix). containerd 1.x resolves through its
    client ("failed to resolve reference"), 2.x through the transfer service ("failed to resolve image")."""
    ref = images.normalize_reference(image)
    domain, path, tag = images.split_reference(image)
    registry = "registry-1.docker.io" if domain == "docker.io" else domain
    host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry
    cause = 'failed to do request: Head "https://%s/v2/%s/manifests/%s": dial tcp: %s' % (
        registry, path, tag, lookup_error(host))
    if version and version[0] >= 2:
        return 'failed to pull and unpack image "%s": failed to resolve image: %s' % (ref, cause)
    return 'failed to pull and unpack image "%s": failed to resolve reference "%s": %s' % (ref, ref, cause)


def log_pull(image, result):
    """Append ``<UTC time>\\t<image>\\t<result>`` to the image pull log (directory 0755, file 0644)."""
    path = paths.host(paths.IMAGE_PULL_LOG)
    d = os.path.dirname(path)
    try:
        if not os.path.isdir(d):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size == 0:
                os.fchmod(fd, 0o644)
            os.write(fd, ("%s\t%s\t%s\n" % (stamp, image, result)).encode())
        finally:
            os.close(fd)
    except OSError as e:
        glog.warning("runtime.go:170", "kubeforge double: cannot append to %s: %s" % (paths.IMAGE_PULL_LOG, e))


def pull_image(image, version):
    """PullImage as it ends in the test bed, where no registry is reachable: containerd's error, logged."""
    err = unreachable_pull_error(image, version)
    log_pull(image, "failed: " + err)
    return err
