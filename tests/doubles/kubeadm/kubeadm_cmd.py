"""The ``kubeadm`` program of the double: version, config validate, init, join, reset, token."""
import base64
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from . import (certs, cpapi, der, flags, glog, kclient, kconfig, kubeconfig, paths, preflight, systemd, tokens,
               version, yamlk)
from .k3slib import etcd as etcdmod
from .kconfig import ConfigError

GLOBAL_FLAGS = {"v": "int", "add-dir-header": "bool", "log-file": "str", "log-file-max-size": "int",
                "one-output": "bool", "rootfs": "str", "skip-headers": "bool", "skip-log-headers": "bool",
                "help": "bool"}
STACK_HINT = "To see the stack trace of this error execute with --v=5 or higher\n"


class Fail(Exception):
    def __init__(self, msg, phase=None):
        Exception.__init__(self, msg)
        self.phase = phase


def out(s=""):
    sys.stdout.write(s + "\n")
    sys.stdout.flush()


def parse(args, extra, short=None):
    spec = flags.Spec(dict(GLOBAL_FLAGS, **extra), dict({"v": "v"}, **(short or {})))
    try:
        vals, pos, given = flags.parse(args, spec)
    except flags.FlagError as e:
        raise Fail(str(e))
    glog.VERBOSITY = vals.get("v", 0)
    return vals, pos, given


# ---------------------------------------------------------------------------
# helpers

def api_endpoint(init, cluster):
    """host:port of the control plane for kubeconfigs and join commands."""
    cpe = cluster.get("controlPlaneEndpoint") or ""
    port = init["localAPIEndpoint"]["bindPort"]
    if cpe:
        host, sep, p = cpe.rpartition(":")
        if sep and p.isdigit() and not cpe.endswith("]"):
            return cpe
        return "%s:%d" % (cpe, port)
    return local_endpoint(init)


def local_endpoint(init):
    ep = init["localAPIEndpoint"]
    a = ep["advertiseAddress"]
    if ":" in a:
        a = "[%s]" % a
    return "%s:%d" % (a, ep["bindPort"])


def split_hostport(hp):
    host, _, port = hp.rpartition(":")
    return host.strip("[]"), int(port)


def ca_pin(ca_crt):
    return der.pin(der.pem_blocks(paths.read_bytes(ca_crt))[0])


def wait_http(url, timeout_s, insecure_tls=False):
    """Poll url until it answers 200; returns (ok, elapsed, last error)."""
    ctx = None
    if url.startswith("https"):
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    t0 = time.time()
    last = "context deadline exceeded"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2, context=ctx) as r:
                if r.status == 200:
                    return True, time.time() - t0, None
                last = "unexpected status %d" % r.status
        except urllib.error.HTTPError as e:
            last = 'Get "%s": %d %s' % (url, e.code, e.reason)
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            if isinstance(reason, ConnectionRefusedError):
                hp = url.split("://", 1)[1].split("/", 1)[0]
                last = 'Get "%s": dial tcp %s: connect: connection refused' % (url, hp)
            else:
                last = 'Get "%s": %s' % (url, reason)
        if time.time() - t0 >= timeout_s:
            return False, time.time() - t0, last
        time.sleep(0.25)


def fmt_secs(s):
    if s < 1:
        return "%.3fms" % (s * 1000)
    return "%.9fs" % s if s < 60 else kconfig.format_duration(s)


def write_kubelet_files(kubelet_cfg, cri_socket, node_name, extra_args, patches_dir, taints=None):
    """kubelet-start: kubeadm-flags.env, instance-config.yaml, config.yaml (+ patches), in kubeadm 1.35's order
    (the flags file first: a crash-looping kubelet that finds config.yaml already sees its flags)."""
    args = []
    if node_name != socket.gethostname().lower():
        args.append(("hostname-override", node_name))
    if taints:
        # join of a worker: kubeadm registers the node with its taints through the kubelet flag
        args.append(("register-with-taints", ",".join(
            "%s%s:%s" % (t["key"], "=" + t["value"] if t.get("value") else "", t["effect"]) for t in taints)))
    merged = []
    for k, v in args + list(extra_args):
        merged = [(a, b) for a, b in merged if a != k] + [(k, v)]
    line = " ".join("--%s=%s" % (k, v) for k, v in sorted(merged, key=lambda kv: kv[0]))
    out('[kubelet-start] Writing kubelet environment file with flags to file "%s"' % paths.KUBEADM_FLAGS_ENV)
    paths.write(paths.KUBEADM_FLAGS_ENV, 'KUBELET_KUBEADM_ARGS="%s"\n' % line, 0o644)
    instance = {"apiVersion": kconfig.KUBELET_GV, "kind": "KubeletConfiguration",
                "containerRuntimeEndpoint": cri_socket}
    out('[kubelet-start] Writing kubelet configuration to file "%s"' % paths.KUBELET_INSTANCE_CONFIG)
    paths.write(paths.KUBELET_INSTANCE_CONFIG, yamlk.dump(instance), 0o644)
    cfg = dict(kubelet_cfg)
    cfg["containerRuntimeEndpoint"] = cri_socket
    out('[patches] Applied patch of type "application/strategic-merge-patch+json" to target "kubeletconfiguration"')
    cfg = apply_patches(cfg, patches_dir, "kubeletconfiguration")
    out('[kubelet-start] Writing kubelet configuration to file "%s"' % paths.KUBELET_CONFIG)
    paths.write(paths.KUBELET_CONFIG, yamlk.dump(cfg), 0o644)
    return cfg


def apply_patches(obj, directory, target):
    """kubeadm --patches / patches.directory for one target: files <target>[suffix][+type].(yaml|json)."""
    if not directory:
        return obj
    d = paths.host(directory)
    try:
        names = sorted(os.listdir(d))
    except OSError as e:
        raise Fail("could not list patch files for path %s: %s" % (go_q(directory), e))
    for n in names:
        base, dot, ext = n.rpartition(".")
        if ext not in ("yaml", "yml", "json"):
            continue
        tgt, plus, ptype = base.partition("+")
        ptype = ptype or "strategic"
        if not tgt.startswith(target):
            continue
        try:
            patch = yamlk.safe_load(open(os.path.join(d, n), encoding="utf-8").read())
        except (OSError, yamlk.YamlError) as e:
            raise Fail("could not parse patch file %s: %s" % (n, e))
        if ptype in ("strategic", "merge"):
            obj = merge_patch(obj, patch)
        elif ptype == "json":
            obj = json_patch(obj, patch)
        else:
            raise Fail("unknown patch type %s in %s" % (go_q(ptype), n))
        out('[patches] Applied patch of type "application/%s" to target "%s"'
            % ({"strategic": "strategic-merge-patch+json", "merge": "merge-patch+json",
                "json": "json-patch+json"}[ptype], target))
    return obj


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return patch
    res = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            res.pop(k, None)
        else:
            res[k] = merge_patch(res.get(k), v)
    return res


def json_patch(obj, ops):
    obj = json.loads(json.dumps(obj))
    for op in ops or []:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op.get("path", "").split("/")[1:]]
        parent = obj
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent.setdefault(p, {})
        last = parts[-1] if parts else None
        if op.get("op") in ("add", "replace"):
            if isinstance(parent, list):
                if last == "-":
                    parent.append(op.get("value"))
                else:
                    parent.insert(int(last), op.get("value")) if op["op"] == "add" else \
                        parent.__setitem__(int(last), op.get("value"))
            else:
                parent[last] = op.get("value")
        elif op.get("op") == "remove":
            if isinstance(parent, list):
                parent.pop(int(last))
            else:
                parent.pop(last, None)
    return obj


def go_q(s):
    return json.dumps(s)


def start_kubelet():
    """TryStartKubelet: systemctl daemon-reload + restart kubelet when an init system is there."""
    out("[kubelet-start] Starting the kubelet")
    sc = systemd.systemctl()
    if sc is None:
        out("[kubelet-start] No supported init system detected, won't make sure the kubelet is running properly.")
        return
    err = systemd.restart(sc, "kubelet")
    if err:
        glog.warning("kubelet.go:74", "[kubelet-start] WARNING: unable to start the kubelet service: [%s]\n" % err)
        out("[kubelet-start] Please ensure kubelet is reloaded and running manually.")


def wait_kubelet(kubelet_cfg, timeout_s, phase):
    port = int(kubelet_cfg.get("healthzPort", 10248) or 10248)
    addr = kubelet_cfg.get("healthzBindAddress") or "127.0.0.1"
    url = "http://%s:%d/healthz" % ("[%s]" % addr if ":" in addr else addr, port)
    out("[kubelet-check] Waiting for a healthy kubelet at %s. This can take up to %s"
        % (url, kconfig.format_duration(timeout_s)))
    ok, el, err = wait_http(url, timeout_s)
    if ok:
        out("[kubelet-check] The kubelet is healthy after %s" % fmt_secs(el))
        return
    out("[kubelet-check] The kubelet is not healthy after %s" % fmt_secs(el))
    out("")
    out("Unfortunately, an error has occurred, likely caused by:")
    out("\t- The kubelet is not running")
    out("\t- The kubelet is unhealthy due to a misconfiguration of the node in some way (required cgroups disabled)")
    out("")
    out("If you are on a systemd-powered system, you can try to troubleshoot the error with the following commands:")
    out("\t- 'systemctl status kubelet'")
    out("\t- 'journalctl -xeu kubelet'")
    out("")
    raise Fail("failed while waiting for the kubelet to start: The HTTP call equal to 'curl -sSL %s' returned "
               "error: %s" % (url, err), phase=phase)


# ---------------------------------------------------------------------------
# version

def cmd_version(args):
    vals, pos, _ = parse(args, {"output": "str"}, {"o": "output"})
    o = vals.get("output", "")
    if o == "":
        out("kubeadm version: " + version.info_go())
    elif o == "short":
        out(version.VERSION)
    elif o == "json":
        out(json.dumps({"clientVersion": version.info_json()}, indent=2))
    elif o == "yaml":
        sys.stdout.write(yamlk.dump({"clientVersion": dict(sorted(version.info_json().items()))}))
    else:
        raise Fail('invalid output format: %s' % o)
    return 0


# ---------------------------------------------------------------------------
# config

def cmd_config(args):
    if not args or args[0] in ("-h", "--help"):
        out("Usage:\n  kubeadm config [command]\n\nAvailable Commands:\n  images\n  migrate\n  print\n  validate")
        return 0
    sub, rest = args[0], args[1:]
    if sub == "validate":
        vals, pos, _ = parse(rest, {"config": "str", "allow-experimental-api": "bool", "kubeconfig": "str"})
        if not vals.get("config"):
            raise Fail("the --config flag is mandatory")
        text = read_config(vals["config"])
        ld = kconfig.load_text(text, strict=True)
        errs = kconfig.validate_loaded(ld, version.VERSION)
        if errs:
            raise Fail(kconfig.aggregate(errs))
        out("ok")
        return 0
    if sub == "print":
        what = rest[0] if rest else ""
        if what == "init-defaults":
            init, cluster = kconfig.default_init({"bootstrapTokens": [{"token": "abcdef.0123456789abcdef"}],
                                                  "localAPIEndpoint": {"advertiseAddress": "1.2.3.4"},
                                                  "nodeRegistration": {"name": "node"}},
                                                 {"kubernetesVersion": "%d.%d.0" % (version.MAJOR, version.MINOR)},
                                                 version.VERSION)
            sys.stdout.write(yamlk.dump_all([init, cluster]))
            return 0
        if what == "join-defaults":
            j = kconfig.default_join({"discovery": {"bootstrapToken": {"token": "abcdef.0123456789abcdef",
                                                                       "apiServerEndpoint": "kube-apiserver:6443",
                                                                       "unsafeSkipCAVerification": True}},
                                      "nodeRegistration": {"name": "node"}})
            sys.stdout.write(yamlk.dump(j))
            return 0
    raise Fail('"kubeadm config %s" is not implemented by the kubeforge kubeadm test double' % " ".join(args))


def read_config(path):
    try:
        return paths.read_text(path)
    except FileNotFoundError:
        raise Fail("unable to read config from %s : open %s: no such file or directory" % (go_q(path), path))
    except OSError as e:
        raise Fail("unable to read config from %s : open %s: %s" % (go_q(path), path, (e.strerror or "").lower()))


# ---------------------------------------------------------------------------
# init

INIT_FLAGS = {"config": "str", "ignore-preflight-errors": "list", "upload-certs": "bool", "skip-phases": "list",
              "patches": "str", "apiserver-advertise-address": "str", "apiserver-bind-port": "int",
              "apiserver-cert-extra-sans": "list", "control-plane-endpoint": "str", "pod-network-cidr": "str",
              "service-cidr": "str", "service-dns-domain": "str", "kubernetes-version": "str", "node-name": "str",
              "cri-socket": "str", "token": "str", "token-ttl": "str", "certificate-key": "str",
              "skip-token-print": "bool", "skip-certificate-key-print": "bool", "cert-dir": "str",
              "image-repository": "str", "feature-gates": "str", "dry-run": "bool"}
# flags that may be combined with --config (kubeadm's allowlist)
INIT_CONFIG_OK = {"config", "ignore-preflight-errors", "upload-certs", "skip-phases", "patches", "skip-token-print",
                  "skip-certificate-key-print", "certificate-key", "dry-run", "v"} | set(GLOBAL_FLAGS)


def init_from_flags(vals):
    init = {"localAPIEndpoint": {}, "nodeRegistration": {}}
    cluster = {"networking": {}}
    if vals.get("apiserver-advertise-address"):
        init["localAPIEndpoint"]["advertiseAddress"] = vals["apiserver-advertise-address"]
    if vals.get("apiserver-bind-port"):
        init["localAPIEndpoint"]["bindPort"] = vals["apiserver-bind-port"]
    if vals.get("node-name"):
        init["nodeRegistration"]["name"] = vals["node-name"]
    if vals.get("cri-socket"):
        init["nodeRegistration"]["criSocket"] = vals["cri-socket"]
    if vals.get("token"):
        if not kconfig.TOKEN_RE.match(vals["token"]):
            raise Fail("the bootstrap token %s was not of the form %s" % (go_q(vals["token"]),
                                                                         go_q(kconfig.TOKEN_PATTERN)))
        init["bootstrapTokens"] = [{"token": vals["token"], "ttl": vals.get("token-ttl") or "24h0m0s"}]
    if vals.get("control-plane-endpoint"):
        cluster["controlPlaneEndpoint"] = vals["control-plane-endpoint"]
    if vals.get("pod-network-cidr"):
        cluster["networking"]["podSubnet"] = vals["pod-network-cidr"]
    if vals.get("service-cidr"):
        cluster["networking"]["serviceSubnet"] = vals["service-cidr"]
    if vals.get("service-dns-domain"):
        cluster["networking"]["dnsDomain"] = vals["service-dns-domain"]
    if vals.get("kubernetes-version"):
        cluster["kubernetesVersion"] = vals["kubernetes-version"]
    if vals.get("apiserver-cert-extra-sans"):
        cluster["apiServer"] = {"certSANs": vals["apiserver-cert-extra-sans"]}
    if vals.get("cert-dir"):
        cluster["certificatesDir"] = vals["cert-dir"]
    if vals.get("image-repository"):
        cluster["imageRepository"] = vals["image-repository"]
    if vals.get("certificate-key"):
        init["certificateKey"] = vals["certificate-key"]
    return init, cluster


def check_ignore(ign):
    low = [i.lower() for i in ign]
    if "all" in low and len(low) > 1:
        raise Fail("ignorePreflightErrors: Invalid value: %s: don't specify individual checks if 'all' is used"
                   % go_q(",".join(ign)))
    return ign


class InitContext:
    def __init__(self, init, cluster, kubelet):
        self.init, self.cluster, self.kubelet = init, cluster, kubelet
        self.pki = cluster["certificatesDir"]
        self.algo = cluster.get("encryptionAlgorithm") or "RSA-2048"
        self.leaf_h = kconfig.parse_duration(cluster.get("certificateValidityPeriod") or "8760h") / 3600
        self.ca_h = kconfig.parse_duration(cluster.get("caCertificateValidityPeriod") or "87600h") / 3600
        self.node = init["nodeRegistration"]["name"]
        self.adv = init["localAPIEndpoint"]["advertiseAddress"]
        self.port = init["localAPIEndpoint"]["bindPort"]
        self.endpoint = api_endpoint(init, cluster)
        self.local = local_endpoint(init)

    def p(self, name):
        return "%s/%s" % (self.pki, name)


def phase_certs(c):
    out('[certs] Using certificateDir folder "%s"' % c.pki)
    paths.makedirs(c.pki)

    def ca(name, cn, label):
        if paths.exists(c.p(name + ".crt")) and paths.exists(c.p(name + ".key")):
            out("[certs] Using existing %s certificate authority" % label)
            return
        out('[certs] Generating "%s" certificate and key' % name)
        certs.make_ca(c.p(name + ".crt"), c.p(name + ".key"), cn, c.algo, c.ca_h)

    def leaf(name, ca_name, cn, orgs=(), dns=(), ips=(), client=False, server=False, label=None):
        if paths.exists(c.p(name + ".crt")) and paths.exists(c.p(name + ".key")):
            out("[certs] Using existing %s certificate and key on disk" % name)
            return
        out('[certs] Generating "%s" certificate and key' % name)
        if dns or ips:
            out("[certs] %s serving cert is signed for DNS names [%s] and IPs [%s]"
                % (label or name, " ".join(dns), " ".join(ips)))
        certs.make_leaf(c.p(name + ".crt"), c.p(name + ".key"), c.p(ca_name + ".crt"), c.p(ca_name + ".key"),
                        cn, orgs, dns, ips, client=client, server=server, algo=c.algo, hours=c.leaf_h)

    net = c.cluster["networking"]
    svc = ipaddress.ip_network(net["serviceSubnet"].split(",")[0], strict=False)
    dom = net.get("dnsDomain", "cluster.local")
    dns = ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + dom, c.node]
    ips = [str(svc.network_address + 1), c.adv]
    cpe = c.cluster.get("controlPlaneEndpoint") or ""
    extra = list((c.cluster.get("apiServer") or {}).get("certSANs") or [])
    if cpe:
        extra.insert(0, split_hostport(cpe)[0] if ":" in cpe.strip("[]").rstrip("0123456789") or
                     cpe.rpartition(":")[2].isdigit() else cpe)
    d2, i2 = [], []
    for s in extra:
        try:
            ipaddress.ip_address(s)
            i2.append(s)
        except ValueError:
            d2.append(s)
    dns = list(dict.fromkeys(dns + d2))
    ips = list(dict.fromkeys(ips + i2))
    ca("ca", "kubernetes", "ca")
    leaf("apiserver", "ca", "kube-apiserver", dns=dns, ips=ips, server=True, label="apiserver")
    leaf("apiserver-kubelet-client", "ca", "kube-apiserver-kubelet-client", ["kubeadm:cluster-admins"], client=True)
    ca("front-proxy-ca", "front-proxy-ca", "front-proxy-ca")
    leaf("front-proxy-client", "front-proxy-ca", "front-proxy-client", client=True)
    local = (c.cluster.get("etcd") or {}).get("local")
    if local is not None:
        ca("etcd/ca", "etcd-ca", "etcd/ca")
        edns = list(dict.fromkeys(["localhost", c.node] + [s for s in local.get("serverCertSANs") or []]))
        eips = list(dict.fromkeys([c.adv, "127.0.0.1", "::1"]))
        leaf("etcd/server", "etcd/ca", c.node, dns=edns, ips=eips, client=True, server=True, label="etcd/server")
        leaf("etcd/peer", "etcd/ca", c.node, dns=edns, ips=eips, client=True, server=True, label="etcd/peer")
        leaf("etcd/healthcheck-client", "etcd/ca", "kube-etcd-healthcheck-client", client=True)
        leaf("apiserver-etcd-client", "etcd/ca", "kube-apiserver-etcd-client", client=True)
    if paths.exists(c.p("sa.key")) and paths.exists(c.p("sa.pub")):
        out('[certs] Using the existing "sa" key')
    else:
        out('[certs] Generating "sa" key and public key')
        certs.make_keypair(c.p("sa.key"), c.p("sa.pub"), c.algo)


def run_phase_certs(c, phase):
    """phase_certs, with an openssl failure reported as an error of ``phase``."""
    try:
        phase_certs(c)
    except Fail:
        raise
    except Exception as e:  # openssl failures
        raise Fail(str(e), phase=phase)


def write_conf(path, ctx, cn, orgs, server_hp):
    ca_pem = paths.read_bytes(ctx.p("ca.crt"))
    crt, key = certs.client_cert_pem(ctx.p("ca.crt"), ctx.p("ca.key"), cn, orgs, ctx.algo, ctx.leaf_h)
    cfg = kubeconfig.build(ctx.cluster.get("clusterName", "kubernetes"), "https://" + server_hp, ca_pem, cn,
                           cert_pem=crt, key_pem=key)
    kubeconfig.write(path, cfg)


def phase_kubeconfig(c):
    out('[kubeconfig] Using kubeconfig folder "%s"' % paths.KUBERNETES_DIR)
    for name, cn, orgs, ep in (("admin.conf", "kubernetes-admin", ["kubeadm:cluster-admins"], c.endpoint),
                               ("super-admin.conf", "kubernetes-super-admin", ["system:masters"], c.endpoint),
                               ("kubelet.conf", "system:node:" + c.node, ["system:nodes"], c.local),
                               ("controller-manager.conf", "system:kube-controller-manager", [], c.local),
                               ("scheduler.conf", "system:kube-scheduler", [], c.local)):
        path = "%s/%s" % (paths.KUBERNETES_DIR, name)
        if paths.exists(path):
            out('[kubeconfig] Using existing kubeconfig file: "%s"' % path)
            continue
        out('[kubeconfig] Writing "%s" kubeconfig file' % name)
        write_conf(path, c, cn, orgs, ep)


def merged_args(defaults, extra):
    """kubeadm: user extraArgs override the defaults by name; the command is sorted by name."""
    args = dict(defaults)
    seen = set()
    dup = []
    for k, v in kconfig.args_dict(extra):
        if k in seen:
            dup.append((k, v))
        else:
            args[k] = v
            seen.add(k)
    items = sorted(args.items()) + dup
    return ["--%s=%s" % (k, v) for k, v in items]


def static_pod(name, image, command, annotations=None, port_probe=None):
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"annotations": annotations or {}, "labels": {"component": name, "tier": "control-plane"},
                        "name": name, "namespace": "kube-system"},
           "spec": {"containers": [{"command": command, "image": image, "imagePullPolicy": "IfNotPresent",
                                    "name": name, "resources": {"requests": {"cpu": "250m"}}}],
                    "hostNetwork": True, "priority": 2000001000, "priorityClassName": "system-node-critical",
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}},
           "status": {}}
    if not annotations:
        del pod["metadata"]["annotations"]
    return pod


def host_url(scheme, host, port):
    return "%s://%s:%d" % (scheme, "[%s]" % host if ":" in host else host, port)


def etcd_peer_url(c):
    """etcdutil.GetPeerURL: https://<advertise address>:2380."""
    return host_url("https", c.adv, 2380)


def write_etcd_manifest(c, patches_dir=None, initial_cluster=None):
    """etcd.yaml; initial_cluster = [(name, peerURL)] of a joining member (then --initial-cluster-state=existing)."""
    cl = c.cluster
    local = cl["etcd"]["local"]
    repo = cl.get("imageRepository", "registry.k8s.io")
    url = host_url("https", c.adv, 2379)
    defaults = {
        "advertise-client-urls": url, "cert-file": c.p("etcd/server.crt"), "client-cert-auth": "true",
        "data-dir": local.get("dataDir") or paths.ETCD_DIR, "experimental-initial-corrupt-check": "true",
        "initial-advertise-peer-urls": etcd_peer_url(c),
        "initial-cluster": "%s=%s" % (c.node, etcd_peer_url(c)), "key-file": c.p("etcd/server.key"),
        "listen-client-urls": "https://127.0.0.1:2379,%s" % url, "listen-metrics-urls": "http://127.0.0.1:2381",
        "listen-peer-urls": etcd_peer_url(c), "name": c.node, "peer-cert-file": c.p("etcd/peer.crt"),
        "peer-client-cert-auth": "true", "peer-key-file": c.p("etcd/peer.key"),
        "peer-trusted-ca-file": c.p("etcd/ca.crt"), "snapshot-count": "10000",
        "trusted-ca-file": c.p("etcd/ca.crt")}
    if initial_cluster is not None:
        defaults["initial-cluster"] = ",".join("%s=%s" % m for m in initial_cluster)
        defaults["initial-cluster-state"] = "existing"
    cmd = ["etcd"] + merged_args(defaults, local.get("extraArgs"))
    pod = static_pod("etcd", "%s/etcd:3.6.6-0" % repo, cmd,
                     {"kubeadm.kubernetes.io/etcd.advertise-client-urls": url})
    pod = apply_patches(pod, patches_dir, "etcd")
    paths.makedirs(paths.MANIFESTS_DIR)
    paths.write(paths.MANIFESTS_DIR + "/etcd.yaml", yamlk.dump(pod), 0o600)


def phase_manifests(c, patches_dir=None):
    if (c.cluster.get("etcd") or {}).get("local") is not None:
        out('[etcd] Creating static Pod manifest for local etcd in "%s"' % paths.MANIFESTS_DIR)
        write_etcd_manifest(c, patches_dir)
    write_control_plane_manifests(c, patches_dir)


def write_control_plane_manifests(c, patches_dir=None):
    cl = c.cluster
    repo = cl.get("imageRepository", "registry.k8s.io")
    kv = cl["kubernetesVersion"]
    paths.makedirs(paths.MANIFESTS_DIR)
    out('[control-plane] Using manifest folder "%s"' % paths.MANIFESTS_DIR)
    net = cl["networking"]
    dom = net.get("dnsDomain", "cluster.local")
    ext = cl.get("etcd", {}).get("external")
    apiserver = {
        "advertise-address": c.adv, "allow-privileged": "true", "authorization-mode": "Node,RBAC",
        "client-ca-file": c.p("ca.crt"), "enable-admission-plugins": "NodeRestriction",
        "enable-bootstrap-token-auth": "true",
        "etcd-servers": ",".join(ext["endpoints"]) if ext else "https://127.0.0.1:2379",
        "kubelet-client-certificate": c.p("apiserver-kubelet-client.crt"),
        "kubelet-client-key": c.p("apiserver-kubelet-client.key"),
        "kubelet-preferred-address-types": "InternalIP,ExternalIP,Hostname",
        "proxy-client-cert-file": c.p("front-proxy-client.crt"), "proxy-client-key-file": c.p("front-proxy-client.key"),
        "requestheader-allowed-names": "front-proxy-client", "requestheader-client-ca-file": c.p("front-proxy-ca.crt"),
        "requestheader-extra-headers-prefix": "X-Remote-Extra-", "requestheader-group-headers": "X-Remote-Group",
        "requestheader-username-headers": "X-Remote-User", "secure-port": str(c.port),
        "service-account-issuer": "https://kubernetes.default.svc." + dom,
        "service-account-key-file": c.p("sa.pub"), "service-account-signing-key-file": c.p("sa.key"),
        "service-cluster-ip-range": net["serviceSubnet"], "tls-cert-file": c.p("apiserver.crt"),
        "tls-private-key-file": c.p("apiserver.key")}
    if not ext:
        apiserver.update({"etcd-cafile": c.p("etcd/ca.crt"), "etcd-certfile": c.p("apiserver-etcd-client.crt"),
                          "etcd-keyfile": c.p("apiserver-etcd-client.key")})
    kcm = {"authentication-kubeconfig": paths.CONTROLLER_MANAGER_CONF,
           "authorization-kubeconfig": paths.CONTROLLER_MANAGER_CONF, "bind-address": "127.0.0.1",
           "client-ca-file": c.p("ca.crt"), "cluster-name": cl.get("clusterName", "kubernetes"),
           "cluster-signing-cert-file": c.p("ca.crt"), "cluster-signing-key-file": c.p("ca.key"),
           "controllers": "*,bootstrapsigner,tokencleaner", "kubeconfig": paths.CONTROLLER_MANAGER_CONF,
           "leader-elect": "true", "requestheader-client-ca-file": c.p("front-proxy-ca.crt"),
           "root-ca-file": c.p("ca.crt"), "service-account-private-key-file": c.p("sa.key"),
           "use-service-account-credentials": "true"}
    if net.get("podSubnet"):
        kcm.update({"allocate-node-cidrs": "true", "cluster-cidr": net["podSubnet"]})
    kcm["service-cluster-ip-range"] = net["serviceSubnet"]
    sched = {"authentication-kubeconfig": paths.SCHEDULER_CONF, "authorization-kubeconfig": paths.SCHEDULER_CONF,
             "bind-address": "127.0.0.1", "kubeconfig": paths.SCHEDULER_CONF, "leader-elect": "true"}
    for name, defaults, key, ann in (
            ("kube-apiserver", apiserver, "apiServer",
             {"kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": c.local}),
            ("kube-controller-manager", kcm, "controllerManager", None),
            ("kube-scheduler", sched, "scheduler", None)):
        out('[control-plane] Creating static Pod manifest for "%s"' % name)
        cmd = [name] + merged_args(defaults, (cl.get(key) or {}).get("extraArgs"))
        pod = static_pod(name, "%s/%s:%s" % (repo, name, kv), cmd, ann)
        pod = apply_patches(pod, patches_dir, name)
        paths.write("%s/%s.yaml" % (paths.MANIFESTS_DIR, name), yamlk.dump(pod), 0o600)


def manifest_flags(name):
    try:
        pod = yamlk.safe_load(paths.read_text("%s/%s.yaml" % (paths.MANIFESTS_DIR, name))) or {}
        cmd = pod["spec"]["containers"][0]["command"]
    except (OSError, KeyError, IndexError, TypeError, yamlk.YamlError):
        return {}
    outd = {}
    for a in cmd[1:]:
        if a.startswith("--"):
            k, _, v = a[2:].partition("=")
            outd[k] = v
    return outd


def wait_control_plane(c, timeout_s):
    out("[control-plane-check] Waiting for healthy control plane components. This can take up to %s"
        % kconfig.format_duration(timeout_s))
    kcm, sch = manifest_flags("kube-controller-manager"), manifest_flags("kube-scheduler")
    checks = [("kube-apiserver", "https://%s/livez" % c.local),
              ("kube-controller-manager", "https://%s:%s/healthz" % (kcm.get("bind-address", "127.0.0.1"),
                                                                     kcm.get("secure-port", "10257"))),
              ("kube-scheduler", "https://%s:%s/livez" % (sch.get("bind-address", "127.0.0.1"),
                                                          sch.get("secure-port", "10259")))]
    for name, url in checks:
        out("[control-plane-check] Checking %s at %s" % (name, url))
    t0 = time.time()
    for name, url in checks:
        left = max(0.5, timeout_s - (time.time() - t0))
        ok, el, err = wait_http(url, left)
        if ok:
            out("[control-plane-check] %s is healthy after %s" % (name, fmt_secs(time.time() - t0)))
            continue
        out("[control-plane-check] %s is not healthy after %s" % (name, fmt_secs(time.time() - t0)))
        sock = c.init["nodeRegistration"]["criSocket"]
        out("")
        out("A control plane component may have crashed or exited when started by the container runtime.")
        out("To troubleshoot, list all containers using your preferred container runtimes CLI.")
        out("Here is one example how you may list all running Kubernetes containers by using crictl:")
        out("\t- 'crictl --runtime-endpoint %s ps -a | grep kube | grep -v pause'" % sock)
        out("\tOnce you have found the failing container, you can inspect its logs with:")
        out("\t- 'crictl --runtime-endpoint %s logs CONTAINERID'" % sock)
        out("")
        raise Fail("failed while waiting for the control plane to start: %s check failed at %s: %s"
                   % (name, url, err), phase="wait-control-plane")


def admin_client(path=paths.ADMIN_CONF, retry_for=0.0):
    try:
        cl, us = kubeconfig.load(path)
    except kubeconfig.KubeconfigError as e:
        raise Fail("failed to load admin kubeconfig: %s" % e)
    return kclient.Client.from_kubeconfig(cl, us, retry_for=retry_for), cl


def api(client, method, path, body=None, ok=(200, 201), phase=None, what=""):
    try:
        code, doc = client.request(method, path, body,
                                   "application/merge-patch+json" if method == "PATCH" else "application/json")
    except kclient.APIError as e:
        raise Fail("%s%s" % (what + ": " if what else "", e), phase=phase)
    if code not in ok:
        raise Fail("%s%s" % (what + ": " if what else "", kclient.status_message(doc, code)), phase=phase)
    return code, doc


def apply_object(client, path_list, name, obj):
    """Create or replace an object (kubeadm's CreateOrUpdate)."""
    code, doc = client.request("POST", path_list, obj)
    if code == 409:
        code, doc = client.request("PUT", "%s/%s" % (path_list, name), obj)
    if code not in (200, 201):
        raise Fail("unable to create %s: %s" % (name, kclient.status_message(doc, code)))


def cluster_info_kubeconfig(ctx):
    ca_pem = paths.read_bytes(ctx.p("ca.crt"))
    return yamlk.dump({"apiVersion": "v1",
                       "clusters": [{"cluster": {"certificate-authority-data": kubeconfig.b64(ca_pem),
                                                 "server": "https://" + ctx.endpoint}, "name": ""}],
                       "contexts": None, "current-context": "", "kind": "Config", "preferences": {},
                       "users": None})


def token_secret_obj(t):
    ttl = kconfig.parse_duration(t["ttl"]) if t.get("ttl") else None
    return tokens.secret_for(t["token"], t.get("description", ""), ttl=ttl, expires=t.get("expires"),
                             usages=t.get("usages") or [], groups=t.get("groups") or [])


def cmd_init(args):
    if args and args[0] == "phase":
        return cmd_init_phase(args[1:])
    vals, pos, given = parse(args, INIT_FLAGS)
    if pos:
        raise Fail('unknown command "%s" for "kubeadm init"' % pos[0])
    if vals.get("dry-run"):
        raise Fail("--dry-run is not implemented by the kubeforge kubeadm test double")
    ld = kconfig.Loaded()
    if vals.get("config"):
        bad = sorted(n for n in given if n not in INIT_CONFIG_OK)
        if bad:
            raise Fail("can not mix '--config' with arguments %s" % "[" + " ".join(bad) + "]")
        ld = kconfig.load_text(read_config(vals["config"]), strict=False)
        init_in, cluster_in = ld.init, ld.cluster
        if "certificate-key" in given:
            init_in = dict(init_in or {}, certificateKey=vals["certificate-key"])
    else:
        init_in, cluster_in = init_from_flags(vals)
    init, cluster = kconfig.default_init(init_in, cluster_in, version.VERSION)
    kubelet = kconfig.default_kubelet(ld.kubelet, cluster)
    errs = kconfig.validate_init(init, cluster) + kconfig.validate_kubelet(kubelet)
    if errs:
        raise Fail(kconfig.aggregate(errs))
    ign = check_ignore(list(init["nodeRegistration"].get("ignorePreflightErrors") or []) +
                       list(vals.get("ignore-preflight-errors") or []))
    skip = set(vals.get("skip-phases") or []) | set(init.get("skipPhases") or [])
    patches_dir = vals.get("patches") or (init.get("patches") or {}).get("directory")
    c = InitContext(init, cluster, kubelet)
    out("[init] Using Kubernetes version: %s" % cluster["kubernetesVersion"])
    if "preflight" not in skip:
        try:
            preflight.root_check(ign)
            out("[preflight] Running pre-flight checks")
            preflight.run(preflight.init_checks(init, cluster, kubelet), ign)
        except preflight.PreflightError as e:
            raise Fail(str(e), phase="preflight")
        out("[preflight] Pulling images required for setting up a Kubernetes cluster")
        out("[preflight] This might take a minute or two, depending on the speed of your internet connection")
        out("[preflight] You can also perform this action beforehand using 'kubeadm config images pull'")
    run_phase_certs(c, "certs")
    phase_kubeconfig(c)
    phase_manifests(c, patches_dir)
    systemd.stop_quietly("kubelet")
    extra = kconfig.args_dict(init["nodeRegistration"].get("kubeletExtraArgs"))
    kcfg = write_kubelet_files(kubelet, init["nodeRegistration"]["criSocket"], c.node, extra, patches_dir)
    start_kubelet()
    out('[wait-control-plane] Waiting for the kubelet to boot up the control plane as static Pods from directory '
        '"%s"' % paths.MANIFESTS_DIR)
    wait_kubelet(kcfg, kconfig.timeout(init, "kubeletHealthCheck", "4m0s"), "wait-control-plane")
    wait_control_plane(c, kconfig.timeout(init, "controlPlaneComponentHealthCheck", "4m0s"))
    client, _ = admin_client(retry_for=kconfig.timeout(init, "kubernetesAPICall", "1m0s"))
    out('[upload-config] Storing the configuration used in ConfigMap "kubeadm-config" in the "kube-system" Namespace')
    stored = {k: v for k, v in cluster.items()}
    stored["apiVersion"], stored["kind"] = kconfig.V1BETA4, "ClusterConfiguration"
    apply_object(client, "/api/v1/namespaces/kube-system/configmaps", "kubeadm-config",
                 {"metadata": {"name": "kubeadm-config", "namespace": "kube-system"},
                  "data": {"ClusterConfiguration": yamlk.dump(stored)}})
    out('[kubelet] Creating a ConfigMap "kubelet-config" in namespace kube-system with the configuration for the '
        'kubelets in the cluster')
    shared = dict(kubelet)
    shared.pop("containerRuntimeEndpoint", None)
    apply_object(client, "/api/v1/namespaces/kube-system/configmaps", "kubelet-config",
                 {"metadata": {"name": "kubelet-config", "namespace": "kube-system"},
                  "data": {"kubelet": yamlk.dump(shared)}})
    if vals.get("upload-certs"):
        key = init.get("certificateKey") or secrets.token_hex(32)
        upload_certs(client, c, key, print_key=not vals.get("skip-certificate-key-print"))
    else:
        out("[upload-certs] Skipping phase. Please see --upload-certs")
    mark_control_plane(client, c, kconfig.timeout(init, "kubernetesAPICall", "1m0s"))
    toks = init["bootstrapTokens"]
    out("[bootstrap-token] Using token: %s" % toks[0]["token"])
    out("[bootstrap-token] Configuring bootstrap tokens, cluster-info ConfigMap, RBAC Roles")
    for t in toks:
        obj = token_secret_obj(t)
        apply_object(client, "/api/v1/namespaces/kube-system/secrets", obj["metadata"]["name"], obj)
    out("[bootstrap-token] Configured RBAC rules to allow Node Bootstrap tokens to get nodes")
    out("[bootstrap-token] Configured RBAC rules to allow Node Bootstrap tokens to post CSRs in order for nodes to "
        "get long term certificate credentials")
    out("[bootstrap-token] Configured RBAC rules to allow the csrapprover controller automatically approve CSRs "
        "from a Node Bootstrap Token")
    out("[bootstrap-token] Configured RBAC rules to allow certificate rotation for all node client certificates in "
        "the cluster")
    out('[bootstrap-token] Creating the "cluster-info" ConfigMap in the "kube-public" namespace')
    apply_object(client, "/api/v1/namespaces/kube-public/configmaps", "cluster-info",
                 {"metadata": {"name": "cluster-info", "namespace": "kube-public"},
                  "data": {"kubeconfig": cluster_info_kubeconfig(c)}})
    finalize_kubelet_conf(c)
    addons(client, c)
    pin = ca_pin(c.p("ca.crt"))
    out("")
    out("Your Kubernetes control-plane has initialized successfully!")
    out("")
    out("To start using your cluster, you need to run the following as a regular user:")
    out("")
    out("  mkdir -p $HOME/.kube")
    out("  sudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config")
    out("  sudo chown $(id -u):$(id -g) $HOME/.kube/config")
    out("")
    out("Alternatively, if you are the root user, you can run:")
    out("")
    out("  export KUBECONFIG=/etc/kubernetes/admin.conf")
    out("")
    out("You should now deploy a pod network to the cluster.")
    out('Run "kubectl apply -f [podnetwork].yaml" with one of the options listed at:')
    out("  https://kubernetes.io/docs/concepts/cluster-administration/addons/")
    out("")
    tok = "<value withheld>" if vals.get("skip-token-print") else toks[0]["token"]
    if cluster.get("controlPlaneEndpoint"):
        out("You can now join any number of control-plane nodes by copying certificate authorities")
        out("and service account keys on each node and then running the following as root:")
        out("")
        out("  kubeadm join %s --token %s \\" % (c.endpoint, tok))
        out("\t--discovery-token-ca-cert-hash %s \\" % pin)
        out("\t--control-plane ")
        out("")
    out("Then you can join any number of worker nodes by running the following on each as root:")
    out("")
    out("kubeadm join %s --token %s \\" % (c.endpoint, tok))
    out("\t--discovery-token-ca-cert-hash %s " % pin)
    return 0


def mark_control_plane(client, c, timeout_s):
    labels = ["node-role.kubernetes.io/control-plane", "node.kubernetes.io/exclude-from-external-load-balancers"]
    out("[mark-control-plane] Marking the node %s as control-plane by adding the labels: [%s]"
        % (c.node, " ".join(labels)))
    taints = c.init["nodeRegistration"]["taints"] or []
    if taints:
        out("[mark-control-plane] Marking the node %s as control-plane by adding the taints [%s]"
            % (c.node, " ".join("%s%s:%s" % (t["key"], "=" + t["value"] if t.get("value") else "", t["effect"])
                                for t in taints)))
    deadline = time.time() + max(timeout_s, 5)
    last = ""
    while True:
        try:
            code, node = client.get("/api/v1/nodes/" + c.node)
        except kclient.APIError as e:
            code, node, last = 0, None, str(e)
        if code == 200:
            md = node.setdefault("metadata", {})
            lab = md.setdefault("labels", {})
            for l in labels:
                lab[l] = ""
            spec = node.setdefault("spec", {})
            have = spec.get("taints") or []
            for t in taints:
                if not any(h.get("key") == t["key"] and h.get("effect") == t["effect"] for h in have):
                    have.append({k: v for k, v in t.items() if v not in (None, "")})
            spec["taints"] = have
            patch = {"metadata": {"labels": lab}, "spec": {"taints": have}}
            code, doc = client.patch("/api/v1/nodes/" + c.node, patch)
            if code == 200:
                return
            last = kclient.status_message(doc, code)
        elif code:
            last = kclient.status_message(node, code)
        if time.time() > deadline:
            raise Fail("error patching node %s through apiserver: %s" % (go_q(c.node), last or "timed out"),
                       phase="mark-control-plane")
        time.sleep(0.5)


def finalize_kubelet_conf(c):
    cur = paths.KUBELET_PKI + "/kubelet-client-current.pem"
    if not paths.exists(cur):
        return
    out('[kubelet-finalize] Updating "%s" to point to a rotatable kubelet client certificate and key'
        % paths.KUBELET_CONF)
    ca_pem = paths.read_bytes(c.p("ca.crt"))
    user = "system:node:" + c.node
    cfg = kubeconfig.build(c.cluster.get("clusterName", "kubernetes"), "https://" + c.local, ca_pem, user,
                           cert_file=cur, key_file=cur)
    kubeconfig.write(paths.KUBELET_CONF, cfg)


def addons(client, c):
    svc = ipaddress.ip_network(c.cluster["networking"]["serviceSubnet"].split(",")[0], strict=False)
    if not (c.cluster.get("dns") or {}).get("disabled"):
        apply_object(client, "/api/v1/namespaces/kube-system/configmaps", "coredns",
                     {"metadata": {"name": "coredns", "namespace": "kube-system"},
                      "data": {"Corefile": ".:53 {\n    errors\n    health\n    kubernetes %s in-addr.arpa ip6.arpa\n"
                                           "    forward . /etc/resolv.conf\n    cache 30\n}\n"
                                           % c.cluster["networking"].get("dnsDomain", "cluster.local")}})
        apply_object(client, "/api/v1/namespaces/kube-system/services", "kube-dns",
                     {"metadata": {"name": "kube-dns", "namespace": "kube-system",
                                   "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}},
                      "spec": {"clusterIP": str(svc.network_address + 10), "selector": {"k8s-app": "kube-dns"},
                               "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                                         {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}})
        out("[addons] Applied essential addon: CoreDNS")
    if not (c.cluster.get("proxy") or {}).get("disabled"):
        apply_object(client, "/api/v1/namespaces/kube-system/configmaps", "kube-proxy",
                     {"metadata": {"name": "kube-proxy", "namespace": "kube-system"},
                      "data": {"config.conf": yamlk.dump({"apiVersion": kconfig.KUBEPROXY_GV,
                                                          "kind": "KubeProxyConfiguration",
                                                          "clusterCIDR": c.cluster["networking"].get("podSubnet",
                                                                                                     "")})}})
        out("[addons] Applied essential addon: kube-proxy")


# ---------------------------------------------------------------------------
# upload-certs (the Secret is encrypted with the certificate key; see README)

CERT_FILES = ("ca.crt", "ca.key", "sa.key", "sa.pub", "front-proxy-ca.crt", "front-proxy-ca.key", "etcd/ca.crt",
              "etcd/ca.key")


def _stream(key, nonce, n):
    out_b, ctr = b"", 0
    while len(out_b) < n:
        out_b += hmac.new(key, nonce + ctr.to_bytes(8, "big"), hashlib.sha256).digest()
        ctr += 1
    return out_b[:n]


def seal(key_hex, data):
    key = bytes.fromhex(key_hex)
    nonce = secrets.token_bytes(12)
    ct = bytes(a ^ b for a, b in zip(data, _stream(key, nonce, len(data))))
    tag = hmac.new(key, b"tag" + nonce + ct, hashlib.sha256).digest()[:16]
    return nonce + ct + tag


def unseal(key_hex, blob):
    key = bytes.fromhex(key_hex)
    nonce, ct, tag = blob[:12], blob[12:-16], blob[-16:]
    if not hmac.compare_digest(tag, hmac.new(key, b"tag" + nonce + ct, hashlib.sha256).digest()[:16]):
        raise ValueError("cipher: message authentication failed")
    return bytes(a ^ b for a, b in zip(ct, _stream(key, nonce, len(ct))))


def upload_certs(client, c, key, print_key=True):
    out('[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace')
    data = {}
    for f in CERT_FILES:
        p = c.p(f)
        if paths.exists(p):
            data[f.replace("/", "-")] = base64.b64encode(seal(key, paths.read_bytes(p))).decode()
    apply_object(client, "/api/v1/namespaces/kube-system/secrets", "kubeadm-certs",
                 {"metadata": {"name": "kubeadm-certs", "namespace": "kube-system",
                               "annotations": {"kubeforge.io/expires": tokens.rfc3339(time.time() + 7200)}},
                  "type": "Opaque", "data": data})
    out("[upload-certs] Using certificate key:")
    out(key if print_key else "<value withheld>")


def cmd_init_phase(args):
    if not args:
        raise Fail('"kubeadm init phase" requires a phase name')
    name, rest = args[0], args[1:]
    if name != "upload-certs":
        raise Fail('"kubeadm init phase %s" is not implemented by the kubeforge kubeadm test double' % name)
    vals, pos, _ = parse(rest, {"upload-certs": "bool", "config": "str", "certificate-key": "str",
                                "kubeconfig": "str", "skip-certificate-key-print": "bool", "dry-run": "bool"})
    if not vals.get("upload-certs"):
        out("[upload-certs] Skipping phase. Please see --upload-certs")
        return 0
    client, _ = admin_client(vals.get("kubeconfig") or paths.ADMIN_CONF)
    pki = paths.PKI_DIR
    code, cm = client.get("/api/v1/namespaces/kube-system/configmaps/kubeadm-config")
    if code == 200:
        try:
            pki = (yamlk.safe_load(cm["data"]["ClusterConfiguration"]) or {}).get("certificatesDir") or pki
        except (KeyError, yamlk.YamlError):
            pass
    key = vals.get("certificate-key") or secrets.token_hex(32)

    class _C:
        def p(self, n):
            return "%s/%s" % (pki, n)
    try:
        upload_certs(client, _C(), key, not vals.get("skip-certificate-key-print"))
    except Fail as e:
        e.phase = "upload-certs"
        raise
    return 0


# ---------------------------------------------------------------------------
# join

JOIN_FLAGS = {"config": "str", "token": "str", "discovery-token": "str", "discovery-token-ca-cert-hash": "list",
              "discovery-token-unsafe-skip-ca-verification": "bool", "discovery-file": "str",
              "tls-bootstrap-token": "str", "node-name": "str", "cri-socket": "str", "ignore-preflight-errors": "list",
              "control-plane": "bool", "certificate-key": "str", "apiserver-advertise-address": "str",
              "apiserver-bind-port": "int", "skip-phases": "list", "patches": "str", "dry-run": "bool"}
JOIN_CONFIG_OK = {"config", "ignore-preflight-errors", "skip-phases", "patches", "dry-run"} | set(GLOBAL_FLAGS)


def join_from_flags(vals, pos):
    j = {"nodeRegistration": {}, "discovery": {}}
    tok = vals.get("discovery-token") or vals.get("token") or ""
    if vals.get("discovery-file"):
        j["discovery"]["file"] = {"kubeConfigPath": vals["discovery-file"]}
    else:
        if not pos:
            raise Fail("discovery: Invalid value: \"\": bootstrapToken or file must be set")
        j["discovery"]["bootstrapToken"] = {
            "token": tok, "apiServerEndpoint": pos[0],
            "caCertHashes": vals.get("discovery-token-ca-cert-hash") or [],
            "unsafeSkipCAVerification": bool(vals.get("discovery-token-unsafe-skip-ca-verification"))}
    tls = vals.get("tls-bootstrap-token") or vals.get("token")
    if tls:
        j["discovery"]["tlsBootstrapToken"] = tls
    if vals.get("node-name"):
        j["nodeRegistration"]["name"] = vals["node-name"]
    if vals.get("cri-socket"):
        j["nodeRegistration"]["criSocket"] = vals["cri-socket"]
    if vals.get("control-plane"):
        j["controlPlane"] = {"certificateKey": vals.get("certificate-key", ""), "localAPIEndpoint": {}}
        if vals.get("apiserver-advertise-address"):
            j["controlPlane"]["localAPIEndpoint"]["advertiseAddress"] = vals["apiserver-advertise-address"]
        if vals.get("apiserver-bind-port"):
            j["controlPlane"]["localAPIEndpoint"]["bindPort"] = vals["apiserver-bind-port"]
    return j


def discover(j):
    """Token discovery: the validated cluster-info kubeconfig (server, CA PEM)."""
    bt = j["discovery"]["bootstrapToken"]
    ep = bt["apiServerEndpoint"]
    tid, tsec = bt["token"].split(".", 1)
    deadline = time.time() + kconfig.timeout(j, "discovery", "5m0s")
    interval = 5.0 if kconfig.timeout(j, "discovery", "5m0s") > 30 else 1.0

    def fetch(ca):
        last = None
        while True:
            try:
                cl = kclient.Client("https://" + ep, ca=ca, insecure=ca is None, timeout=10)
                code, cm = cl.get("/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s")
                if code == 200 and isinstance(cm, dict):
                    if ("jws-kubeconfig-" + tid) in (cm.get("data") or {}):
                        return cm
                    last = "could not find a JWS signature in the cluster-info ConfigMap for token ID %s" % go_q(tid)
                    glog.v(1, "token.go:223", "[discovery] The cluster-info ConfigMap does not yet contain a JWS "
                                              "signature for token ID %s, will try again" % go_q(tid))
                else:
                    last = kclient.status_message(cm, code)
            except kclient.APIError as e:
                last = str(e)
                glog.v(1, "token.go:217", "[discovery] Failed to request cluster-info, will try again: %s" % e)
            if time.time() + interval > deadline:
                raise Fail("couldn't validate the identity of the API Server: %s" % last, phase="preflight")
            time.sleep(interval)

    cm = fetch(None)
    data = cm.get("data") or {}
    kc = data.get("kubeconfig")
    if not kc:
        raise Fail("couldn't validate the identity of the API Server: there is no kubeconfig key in the cluster-info "
                   "ConfigMap. This API Server isn't set up for token bootstrapping, can't connect", phase="preflight")
    if not tokens.jws_valid(data.get("jws-kubeconfig-" + tid, ""), kc, tid, tsec):
        raise Fail("couldn't validate the identity of the API Server: failed to verify JWS signature of received "
                   "cluster info object, can't trust this API Server", phase="preflight")
    try:
        info = yamlk.safe_load(kc)
        cluster = info["clusters"][0]["cluster"]
        ca_pem = base64.b64decode(cluster["certificate-authority-data"])
    except (yamlk.YamlError, KeyError, IndexError, TypeError, ValueError) as e:
        raise Fail("couldn't validate the identity of the API Server: couldn't parse the kubeconfig file in the "
                   "cluster-info ConfigMap: %s" % e, phase="preflight")
    if not bt.get("unsafeSkipCAVerification") or bt.get("caCertHashes"):
        for h in bt.get("caCertHashes") or []:
            if not kconfig.HASH_RE.match(h.lower()):
                raise Fail("couldn't validate the identity of the API Server: invalid hash %s, expected format: "
                           "sha256:<64 hex characters>" % go_q(h), phase="preflight")
        got = der.pins_of_pem(ca_pem)
        if not set(h.lower() for h in bt.get("caCertHashes") or []) & set(got):
            raise Fail("couldn't validate the identity of the API Server: cluster CA found in cluster-info ConfigMap "
                       "is invalid: none of the public keys %s are pinned" % go_q(":".join(got)), phase="preflight")
    cm2 = fetch(ca_pem)
    if (cm2.get("data") or {}).get("kubeconfig") != kc:
        raise Fail("couldn't validate the identity of the API Server: the second kubeconfig from the cluster-info "
                   "ConfigMap (using validated TLS) was different from the first", phase="preflight")
    return cluster["server"], ca_pem


NOT_READY_FOR_CONTROL_PLANE = """
One or more conditions for hosting a new control plane instance is not satisfied.

%s

Please ensure that:
* The cluster has a stable controlPlaneEndpoint address.
* The certificates that must be shared among control plane instances are provided.

"""

JOIN_CONTROL_PLANE_DONE = """
This node has joined the cluster and a new control plane instance was created:

* Certificate signing request was sent to apiserver and approval was received.
* The Kubelet was informed of the new secure connection details.
* Control plane label and taint were applied to the new node.
* The Kubernetes control plane instances scaled up.
* A new etcd member was added to the local/stacked etcd cluster.

To start administering your cluster from this node, you need to run the following as a regular user:

\tmkdir -p $HOME/.kube
\tsudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config
\tsudo chown $(id -u):$(id -g) $HOME/.kube/config

Run 'kubectl get nodes' to see this node join the cluster.
"""


def cmd_join(args):
    vals, pos, given = parse(args, JOIN_FLAGS)
    if vals.get("dry-run"):
        raise Fail("--dry-run is not implemented by the kubeforge kubeadm test double")
    if vals.get("config"):
        bad = sorted(n for n in given if n not in JOIN_CONFIG_OK)
        if bad or pos:
            raise Fail("can not mix '--config' with arguments %s" % ("[" + " ".join(bad + pos) + "]"))
        ld = kconfig.load_text(read_config(vals["config"]), strict=False)
        if ld.join is None:
            raise Fail("no JoinConfiguration found in %s" % vals["config"])
        j_in = ld.join
    else:
        j_in = join_from_flags(vals, pos)
    j = kconfig.default_join(j_in)
    errs = kconfig.validate_join(j)
    if errs:
        raise Fail(kconfig.aggregate(errs))
    if "file" in j["discovery"] and j["discovery"]["file"]:
        raise Fail("file discovery is not implemented by the kubeforge kubeadm test double")
    is_cp = j.get("controlPlane") is not None
    ign = check_ignore(list(j["nodeRegistration"].get("ignorePreflightErrors") or []) +
                       list(vals.get("ignore-preflight-errors") or []))
    skip = set(vals.get("skip-phases") or []) | set(j.get("skipPhases") or [])
    patches_dir = vals.get("patches") or (j.get("patches") or {}).get("directory")
    node = j["nodeRegistration"]["name"]
    if "preflight" not in skip:
        try:
            preflight.root_check(ign)
            out("[preflight] Running pre-flight checks")
            preflight.run(preflight.join_checks(j), ign)
        except preflight.PreflightError as e:
            raise Fail(str(e), phase="preflight")
    server, ca_pem = discover(j)
    tls_token = j["discovery"].get("tlsBootstrapToken") or j["discovery"]["bootstrapToken"]["token"]
    boot = kclient.Client(server, ca=ca_pem, token=tls_token)
    out('[preflight] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...')
    out("[preflight] Use 'kubeadm init phase upload-config kubeadm --config your-config-file' to re-upload it.")
    _, kcm = api(boot, "GET", "/api/v1/namespaces/kube-system/configmaps/kubeadm-config", phase="preflight",
                 what="unable to fetch the kubeadm-config ConfigMap")
    _, klc = api(boot, "GET", "/api/v1/namespaces/kube-system/configmaps/kubelet-config", phase="kubelet-start",
                 what="failed to get config map")
    try:
        kubelet = yamlk.safe_load(klc["data"]["kubelet"]) or {}
        cluster = yamlk.safe_load(kcm["data"]["ClusterConfiguration"]) or {}
    except (KeyError, TypeError, yamlk.YamlError) as e:
        raise Fail("unable to decode the cluster configuration: %s" % e, phase="preflight")
    c = None
    if is_cp:
        c = join_control_plane_prepare(j, cluster, boot, ign, skip, patches_dir)
    systemd.stop_quietly("kubelet")
    cname = cluster.get("clusterName", "kubernetes")
    bcfg = kubeconfig.build(cname, server, ca_pem, "tls-bootstrap-token-user", token=tls_token)
    kubeconfig.write(paths.BOOTSTRAP_KUBELET_CONF, bcfg)
    paths.write(j.get("caCertPath") or paths.PKI_DIR + "/ca.crt", ca_pem, 0o644)
    extra = kconfig.args_dict(j["nodeRegistration"].get("kubeletExtraArgs"))
    # kubeadm registers a worker's taints through the kubelet flag; a control plane's come from mark-control-plane
    kcfg = write_kubelet_files(kubelet, j["nodeRegistration"]["criSocket"], node, extra, patches_dir,
                               taints=None if is_cp else j["nodeRegistration"].get("taints"))
    start_kubelet()
    wait_kubelet(kcfg, kconfig.timeout(j, "kubeletHealthCheck", "4m0s"), "kubelet-start")
    out("[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap")
    tls_timeout = kconfig.timeout(j, "tlsBootstrap", "5m0s")
    deadline = time.time() + tls_timeout
    client, last = None, "timed out"
    while time.time() < deadline:
        if paths.exists(paths.KUBELET_CONF):
            try:
                cl, us = kubeconfig.load(paths.KUBELET_CONF)
                client = kclient.Client.from_kubeconfig(cl, us)
                code, doc = client.get("/api/v1/nodes/" + node)
                if code == 200:
                    break
                last = kclient.status_message(doc, code)
            except (kubeconfig.KubeconfigError, kclient.APIError, OSError) as e:
                last = str(e)
        client = None
        time.sleep(0.5)
    if client is None:
        raise Fail("error waiting for the kubelet to perform the TLS Bootstrap and register node %s: %s"
                   % (go_q(node), last), phase="kubelet-start")
    try:
        os.remove(paths.host(paths.BOOTSTRAP_KUBELET_CONF))
    except OSError:
        pass
    if is_cp:
        join_control_plane_finish(j, c, patches_dir)
        sys.stdout.write(JOIN_CONTROL_PLANE_DONE)
        sys.stdout.flush()
        return 0
    out("")
    out("This node has joined the cluster:")
    out("* Certificate signing request was sent to apiserver and a response was received.")
    out("* The Kubelet was informed of the new secure connection details.")
    out("")
    out("Run 'kubectl get nodes' on the control-plane to see this node join the cluster.")
    out("")
    return 0


def join_init_config(j, cluster):
    """The InitConfiguration kubeadm derives for a joining control plane (its node registration and endpoint)."""
    nr = dict(j["nodeRegistration"])
    init, cl = kconfig.default_init({"nodeRegistration": nr,
                                     "localAPIEndpoint": dict(j["controlPlane"]["localAPIEndpoint"]),
                                     "bootstrapTokens": []}, cluster, version.VERSION)
    return init, cl


def join_control_plane_prepare(j, cluster, boot, ign, skip, patches_dir):
    """preflight (control-plane part), control-plane-prepare (download-certs, certs, kubeconfig, control-plane),
    check-etcd.  Returns the InitContext of this control plane."""
    init, cl = join_init_config(j, cluster)
    key = j["controlPlane"].get("certificateKey") or ""
    c = InitContext(init, cl, {})
    if "preflight" not in skip:
        err = None
        if not cl.get("controlPlaneEndpoint"):
            err = ("unable to add a new control plane instance to a cluster that doesn't have a stable "
                   "controlPlaneEndpoint address")
        elif not key:
            err = shared_certificates_error(c)
        if err:
            raise Fail(NOT_READY_FOR_CONTROL_PLANE % err, phase="preflight")
        out("[preflight] Running pre-flight checks before initializing the new control plane instance")
        try:
            preflight.run(preflight.init_checks(init, cl, None, secondary=True), ign)
        except preflight.PreflightError as e:
            raise Fail(str(e), phase="preflight")
        out("[preflight] Pulling images required for setting up a Kubernetes cluster")
        out("[preflight] This might take a minute or two, depending on the speed of your internet connection")
        out("[preflight] You can also perform this action beforehand using 'kubeadm config images pull'")
    if key:
        download_certs(boot, c, key)
    run_phase_certs(c, "control-plane-prepare/certs")
    out("[kubeconfig] Generating kubeconfig files")
    out('[kubeconfig] Using kubeconfig folder "%s"' % paths.KUBERNETES_DIR)
    for name, cn, orgs, ep in (("admin.conf", "kubernetes-admin", ["kubeadm:cluster-admins"], c.endpoint),
                               ("controller-manager.conf", "system:kube-controller-manager", [], c.local),
                               ("scheduler.conf", "system:kube-scheduler", [], c.local)):
        path = "%s/%s" % (paths.KUBERNETES_DIR, name)
        out('[kubeconfig] Writing "%s" kubeconfig file' % name)
        write_conf(path, c, cn, orgs, ep)
    write_control_plane_manifests(c, patches_dir)
    if (cl.get("etcd") or {}).get("local") is not None:
        out("[check-etcd] Checking that the etcd cluster is healthy")
        members = etcd_members(c)
        down = [m for m in members if not etcd_healthy(c, m["peerURL"])]
        if down:
            raise Fail("etcd cluster is not healthy: failed to dial endpoint %s with maintenance client: "
                       "context deadline exceeded" % etcd_client_url(down[0]["peerURL"]), phase="check-etcd")
    return c


def shared_certificates_error(c):
    """certs.SharedCertificateExists: the CAs and the sa key pair must be on disk when no certificate key is given
    (missing CA keys only warn in kubeadm; here they are looked at through their certificates)."""
    errs = []
    cas = [("ca", "CA"), ("front-proxy-ca", "front-proxy CA")]
    if (c.cluster.get("etcd") or {}).get("local") is not None:
        cas.append(("etcd/ca", "etcd CA"))
    for base, ux in cas[:1]:
        if not paths.exists(c.p(base + ".crt")):
            errs.append("failure loading certificate for %s: couldn't load the certificate file %s: open %s: no such "
                        "file or directory" % (ux, c.p(base + ".crt"), c.p(base + ".crt")))
    if not paths.exists(c.p("sa.key")):
        errs.append("failure loading key for service account: couldn't load the private key file %s: open %s: no "
                    "such file or directory" % (c.p("sa.key"), c.p("sa.key")))
    for base, ux in cas[1:]:
        if not paths.exists(c.p(base + ".crt")):
            errs.append("failure loading certificate for %s: couldn't load the certificate file %s: open %s: no such "
                        "file or directory" % (ux, c.p(base + ".crt"), c.p(base + ".crt")))
    if not errs:
        return None
    return errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"


def download_certs(boot, c, key):
    out('[download-certs] Downloading the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace')
    phase = "control-plane-prepare/download-certs"
    try:
        code, sec = boot.get("/api/v1/namespaces/kube-system/secrets/kubeadm-certs")
    except kclient.APIError as e:
        raise Fail("error downloading certs: error downloading the secret: %s" % e, phase=phase)
    exp = ((sec or {}).get("metadata") or {}).get("annotations", {}).get("kubeforge.io/expires") if code == 200 \
        else None
    if code == 404 or (exp and tokens.parse_rfc3339(exp) <= time.time()):
        raise Fail('error downloading certs: error downloading the secret: Secret "kubeadm-certs" was not found in '
                   'the "kube-system" Namespace. This Secret might have expired. Please, run `kubeadm init phase '
                   'upload-certs --upload-certs` on a control plane to generate a new one', phase=phase)
    if code != 200:
        raise Fail("error downloading certs: error downloading the secret: %s" % kclient.status_message(sec, code),
                   phase=phase)
    data = {}
    for name, b64 in (sec.get("data") or {}).items():
        try:
            blob = base64.b64decode(b64)
            data[name] = unseal(key, blob) if blob else b""
        except ValueError as e:
            raise Fail("error downloading certs: error decoding secret data with provided key: %s"
                       % ("cipher: message authentication failed" if "authentication" in str(e) else e), phase=phase)
    out('[download-certs] Saving the certificates to the folder: "%s"' % c.pki)
    for f in CERT_FILES:
        if f.startswith("etcd/") and (c.cluster.get("etcd") or {}).get("local") is None:
            continue
        sname = f.replace("/", "-")
        if sname not in data:
            raise Fail("error downloading certs: the Secret does not include the required certificate or key - "
                       "name: %s, path: %s" % (f, c.p(f)), phase=phase)
        if not data[sname]:
            continue
        paths.makedirs(os.path.dirname(c.p(f)))
        paths.write(c.p(f), data[sname], 0o600 if f.endswith(".key") else 0o644)


def etcd_secret(c):
    return etcdmod.peer_secret(cpapi.peer_password(c.p("etcd/ca.key")))


def etcd_client_url(peer_url):
    host, _ = cpapi.split_url(peer_url)
    return host_url("https", host, 2379)


def etcd_members(c):
    """The etcd member list, asked from the members found in the etcd mirror Pods (kubeadm: the etcd Pods'
    advertise-client-urls annotation, then the etcd client API; the double speaks its peer protocol)."""
    client, _ = admin_client()
    try:
        code, doc = client.get("/api/v1/namespaces/kube-system/pods")
    except kclient.APIError as e:
        raise Fail("error syncing endpoints with etcd: %s" % e, phase="check-etcd")
    urls = []
    for p in (doc or {}).get("items") or [] if code == 200 else []:
        if ((p.get("metadata") or {}).get("labels") or {}).get("component") != "etcd":
            continue
        try:
            cmd = p["spec"]["containers"][0]["command"]
        except (KeyError, IndexError, TypeError):
            continue
        fl = dict(a[2:].partition("=")[::2] for a in cmd[1:] if a.startswith("--"))
        urls.append(cpapi.etcd_member(fl)["peer_url"])
    if not urls:
        raise Fail("error syncing endpoints with etcd: etcd cluster is not healthy: no etcd Pods found in the "
                   "kube-system namespace", phase="check-etcd")
    secret = etcd_secret(c)
    last = None
    for u in urls:
        try:
            return etcdmod.peer_call(u, "GET", "/members", secret)["members"]
        except (OSError, ValueError) as e:
            last = e
    raise Fail("error syncing endpoints with etcd: failed to dial endpoint %s with maintenance client: %s"
               % (etcd_client_url(urls[0]), last), phase="check-etcd")


def etcd_healthy(c, peer_url):
    try:
        etcdmod.peer_call(peer_url, "GET", "/health", etcd_secret(c), timeout=2)
        return True
    except (OSError, ValueError):
        return False


def join_control_plane_finish(j, c, patches_dir):
    """control-plane-join/etcd, wait-control-plane, control-plane-join/mark-control-plane."""
    if (c.cluster.get("etcd") or {}).get("local") is not None:
        phase = "control-plane-join/etcd"
        data_dir = c.cluster["etcd"]["local"].get("dataDir") or paths.ETCD_DIR
        paths.makedirs(data_dir)
        os.chmod(paths.host(data_dir), 0o700)
        members = etcd_members(c)
        me = etcd_peer_url(c)
        secret = etcd_secret(c)
        resp, last = None, None
        for m in members:
            try:
                resp = etcdmod.peer_call(m["peerURL"], "POST", "/members/add", secret,
                                         {"name": c.node, "peerURL": me}, timeout=10)
                break
            except (OSError, ValueError) as e:
                last = e
        if resp is None:
            raise Fail("error creating local etcd static pod manifest file: etcdserver: unhealthy cluster (%s)"
                       % last, phase=phase)
        out("[etcd] Announced new etcd member joining to the existing etcd cluster")
        initial = [(m["name"], m["peerURL"]) for m in resp["members"]]
        out('[etcd] Creating static Pod manifest for "etcd"')
        write_etcd_manifest(c, patches_dir, initial_cluster=initial)
        out("[etcd] Waiting for the new etcd member to join the cluster. This can take up to 40s")
        deadline = time.time() + 40
        while True:
            try:
                h = etcdmod.peer_call(me, "GET", "/members", secret, timeout=2)
                if any(m["peerURL"] == me for m in h.get("members") or []):
                    break
            except (OSError, ValueError):
                pass
            if time.time() > deadline:
                raise Fail("error creating local etcd static pod manifest file: timeout waiting for etcd cluster "
                           "to be available", phase=phase)
            time.sleep(0.5)
    wait_control_plane(c, kconfig.timeout(j, "controlPlaneComponentHealthCheck", "4m0s"))
    client, _ = admin_client(retry_for=kconfig.timeout(j, "kubernetesAPICall", "1m0s"))
    try:
        mark_control_plane(client, c, kconfig.timeout(j, "kubernetesAPICall", "1m0s"))
    except Fail as e:
        e.phase = "control-plane-join/mark-control-plane"
        raise Fail("error applying control-plane label and taints: %s" % e, phase=e.phase)


# ---------------------------------------------------------------------------
# reset

def cmd_reset(args):
    vals, pos, _ = parse(args, {"force": "bool", "cri-socket": "str", "cert-dir": "str", "cleanup-tmp-dir": "bool",
                                "config": "str", "ignore-preflight-errors": "list", "skip-phases": "list",
                                "dry-run": "bool", "kubeconfig": "str"}, {"f": "force"})
    force = vals.get("force")
    cert_dir = vals.get("cert-dir") or paths.PKI_DIR
    if vals.get("config"):
        ld = kconfig.load_text(read_config(vals["config"]), strict=False)
        rc = ld.reset or {}
        force = force or rc.get("force")
        cert_dir = rc.get("certificatesDir") or cert_dir
    if vals.get("dry-run"):
        raise Fail("--dry-run is not implemented by the kubeforge kubeadm test double")
    ign = check_ignore(list(vals.get("ignore-preflight-errors") or []))
    etcd_dir = None
    etcd_flags = manifest_flags("etcd")
    if etcd_flags.get("data-dir"):
        etcd_dir = etcd_flags["data-dir"]
    if not force:
        glog.warning("preflight.go:56", "[reset] WARNING: Changes made to this host by 'kubeadm init' or 'kubeadm "
                                        "join' will be reverted.")
        sys.stdout.write("[reset] Are you sure you want to proceed? [y/N]: ")
        sys.stdout.flush()
        ans = sys.stdin.readline().strip()
        if ans not in ("y", "Y"):
            raise Fail("won't proceed; the user didn't answer (Y|y) in order to continue", phase="preflight")
    try:
        preflight.root_check(ign)
    except preflight.PreflightError as e:
        raise Fail(str(e), phase="preflight")
    out("[preflight] Running pre-flight checks")
    if etcd_dir:
        remove_etcd_member(etcd_flags)
        hd = paths.host(etcd_dir)
        if os.path.isdir(hd):
            _clear_dir(hd)
        out("[reset] Deleted contents of the etcd data directory: %s" % etcd_dir)
    else:
        out("[reset] No etcd config found. Assuming external etcd")
        out("[reset] Please, manually reset etcd to prevent further issues")
    out("[reset] Stopping the kubelet service")
    systemd.stop_quietly("kubelet")
    out('[reset] Unmounting mounted directories in "%s"' % paths.KUBELET_DIR)
    dirs = [paths.MANIFESTS_DIR, paths.KUBELET_DIR, cert_dir]
    out("[reset] Deleting contents of directories: [%s]" % " ".join(dirs))
    for d in dirs:
        hd = paths.host(d)
        if os.path.isdir(hd):
            _clear_dir(hd)
    files = [paths.ADMIN_CONF, paths.SUPER_ADMIN_CONF, paths.KUBELET_CONF, paths.BOOTSTRAP_KUBELET_CONF,
             paths.CONTROLLER_MANAGER_CONF, paths.SCHEDULER_CONF]
    out("[reset] Deleting files: [%s]" % " ".join(files))
    for f in files:
        try:
            os.remove(paths.host(f))
        except FileNotFoundError:
            pass
    out("")
    out("The reset process does not perform cleanup of CNI plugin configuration,")
    out("network filtering rules and kubeconfig files.")
    out("")
    out("For information on how to perform this cleanup manually, please see:")
    out("    https://k8s.io/docs/reference/setup-tools/kubeadm/kubeadm-reset/")
    out("")
    return 0


def remove_etcd_member(flags):
    """reset phase remove-etcd-member: take this member out of the stacked etcd cluster (through the simulated
    etcd's peer protocol: the new member list goes to every remaining member)."""
    try:
        m = cpapi.etcd_member(flags)
        if not paths.exists(m["ca_key"]):
            return
        secret = etcdmod.peer_secret(cpapi.peer_password(m["ca_key"]))
        known = [u for _, u in m["initial"]]
        try:  # the member list the local member last knew (etcd.Cluster keeps it in <data-dir>/member.json)
            with open(paths.host(m["data_dir"].rstrip("/") + "/member.json")) as fh:
                known = [x["peerURL"] for x in json.load(fh).get("members") or []] + known
        except (OSError, ValueError, KeyError, TypeError):
            pass
        others = list(dict.fromkeys(u for u in known if u != m["peer_url"]))
        if not others:
            return  # a one-member cluster: nothing to tell
        urls = others + [m["peer_url"]]
        members, last = None, None
        for u in urls:
            try:
                members = etcdmod.peer_call(u, "GET", "/members", secret, timeout=2)["members"]
                break
            except (OSError, ValueError, KeyError) as e:
                last = e
        if members is None:
            raise OSError("etcdserver: no reachable member (%s)" % last)
        if not any(x["peerURL"] == m["peer_url"] for x in members):
            return
        rest = [x for x in members if x["peerURL"] != m["peer_url"]]
        if not rest:
            return  # the last member: nothing to tell
        op = {"type": "members", "members": rest}
        for x in rest:
            etcdmod.peer_call(x["peerURL"], "POST", "/ops", secret, {"ops": [op], "from": m["name"]}, timeout=5)
        glog.v(1, "removeetcdmember.go:103", "[reset] Removed etcd member %s (%s)" % (m["name"], m["peer_url"]))
    except (OSError, ValueError) as e:
        glog.warning("removeetcdmember.go:106", "[reset] Failed to remove etcd member: %s, Please manually remove "
                                                 "this etcd member using etcdctl" % e)


def _clear_dir(d):
    for n in os.listdir(d):
        p = os.path.join(d, n)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
        else:
            try:
                os.remove(p)
            except OSError:
                pass


# ---------------------------------------------------------------------------
# token

def cmd_token(args):
    common = {"kubeconfig": "str", "dry-run": "bool", "config": "str"}
    if not args or args[0] in ("-h", "--help"):
        out("Usage:\n  kubeadm token [command]\n\nAvailable Commands:\n  create\n  delete\n  generate\n  list")
        return 0
    sub, rest = args[0], args[1:]
    if sub == "generate":
        parse(rest, {})
        out(kconfig.generate_token())
        return 0
    if sub == "create":
        vals, pos, _ = parse(rest, dict(common, ttl="str", description="str", usages="list", groups="list",
                                        **{"print-join-command": "bool", "certificate-key": "str"}))
        tok = pos[0] if pos else kconfig.generate_token()
        if not kconfig.TOKEN_RE.match(tok):
            raise Fail("the bootstrap token %s was not of the form %s" % (go_q(tok), go_q(kconfig.TOKEN_PATTERN)))
        try:
            ttl = kconfig.parse_duration(vals.get("ttl") or "24h0m0s")
        except ValueError as e:
            raise Fail('invalid argument "%s" for "--ttl" flag: %s' % (vals.get("ttl"), e))
        usages = vals.get("usages") or ["signing", "authentication"]
        groups = vals.get("groups") if "groups" in vals else [kconfig.DEFAULT_TOKEN_GROUP]
        errs = kconfig.validate_tokens([{"usages": usages, "groups": groups}])
        if errs:
            raise Fail(kconfig.aggregate(errs).replace("bootstrapTokens[0].", ""))
        client, cl = admin_client(vals.get("kubeconfig") or paths.ADMIN_CONF)
        obj = tokens.secret_for(tok, vals.get("description", ""), ttl=ttl or None, usages=sorted(usages),
                                groups=groups)
        code, doc = _req(client, "POST", "/api/v1/namespaces/kube-system/secrets", obj)
        if code == 409:
            raise Fail("failed to create or update bootstrap token with name %s: secrets %s already exists"
                       % (obj["metadata"]["name"], go_q(obj["metadata"]["name"])))
        if code not in (200, 201):
            raise Fail("failed to create or update bootstrap token with name %s: %s"
                       % (obj["metadata"]["name"], kclient.status_message(doc, code)))
        if vals.get("print-join-command"):
            ca = cl.get("ca")
            if not ca:
                raise Fail("failed to get join command: the kubeconfig has no certificate-authority-data")
            pin = der.pins_of_pem(ca)[0]
            cmdline = "kubeadm join %s --token %s --discovery-token-ca-cert-hash %s " % (
                kubeconfig.host_port(cl["server"]), tok, pin)
            if vals.get("certificate-key"):
                cmdline += "--control-plane --certificate-key %s " % vals["certificate-key"]
            out(cmdline)
        else:
            out(tok)
        return 0
    if sub == "list":
        vals, pos, _ = parse(rest, dict(common, output="str", **{"allow-missing-template-keys": "bool",
                                                                  "show-managed-fields": "bool"}), {"o": "output"})
        client, _ = admin_client(vals.get("kubeconfig") or paths.ADMIN_CONF)
        code, doc = _req(client, "GET", "/api/v1/namespaces/kube-system/secrets")
        if code != 200:
            raise Fail("failed to list bootstrap tokens: %s" % kclient.status_message(doc, code))
        toks = [t for t in (tokens.decode_secret(s) for s in doc.get("items") or []) if t]
        now = time.time()
        toks = [t for t in toks if tokens.valid(t, now)]
        fmt = vals.get("output") or "text"
        if fmt == "text":
            if toks:
                sys.stdout.write(tokens.tabwriter(tokens.list_rows(toks, now)))
        elif fmt == "json":
            for t in toks:
                out(json.dumps(_token_json(t), indent=4))
        elif fmt == "yaml":
            sys.stdout.write("---\n".join(yamlk.dump(_token_json(t)) for t in toks))
        else:
            raise Fail('invalid output format: %s' % fmt)
        return 0
    if sub == "delete":
        vals, pos, _ = parse(rest, common)
        if not pos:
            raise Fail("missing subcommand; 'token delete' is missing token of form %s or %s"
                       % (go_q(kconfig.TOKEN_PATTERN), go_q(r"\A([a-z0-9]{6})\z")))
        client, _ = admin_client(vals.get("kubeconfig") or paths.ADMIN_CONF)
        for t in pos:
            tid = t.split(".", 1)[0]
            code, doc = _req(client, "DELETE", "/api/v1/namespaces/kube-system/secrets/bootstrap-token-" + tid)
            if code != 200:
                raise Fail("failed to delete bootstrap token %s: %s" % (go_q(tid), kclient.status_message(doc, code)))
            out("bootstrap token %s deleted" % go_q(tid))
        return 0
    raise Fail('unknown command "%s" for "kubeadm token"' % sub)


def _token_json(t):
    d = {"kind": "BootstrapToken", "apiVersion": "output.kubeadm.k8s.io/v1alpha3", "token": t["token"],
         "description": t["description"], "usages": t["usages"], "groups": t["groups"]}
    if t["expiration"]:
        d["expires"] = t["expiration"]
    return d


def _req(client, method, path, body=None):
    try:
        return client.request(method, path, body)
    except kclient.APIError as e:
        raise Fail(str(e))


# ---------------------------------------------------------------------------

USAGE = """

    ┌──────────────────────────────────────────────────────────┐
    │ KUBEADM                                                  │
    │ Easily bootstrap a secure Kubernetes cluster             │
    │                                                          │
    │ (kubeforge test double: version, config validate, init,  │
    │  join, reset, token)                                     │
    └──────────────────────────────────────────────────────────┘

Usage:
  kubeadm [command]

Available Commands:
  config      Manage configuration for a kubeadm cluster persisted in a ConfigMap in the cluster
  init        Run this command in order to set up the Kubernetes control plane
  join        Run this on any machine you wish to join an existing cluster
  reset       Performs a best effort revert of changes made to this host by 'kubeadm init' or 'kubeadm join'
  token       Manage bootstrap tokens
  version     Print the version of kubeadm
"""

COMMANDS = {"version": cmd_version, "config": cmd_config, "init": cmd_init, "join": cmd_join, "reset": cmd_reset,
            "token": cmd_token}


def main(argv):
    args = argv[1:]
    # leading global flags
    while args and args[0].startswith("-") and args[0] not in ("-h", "--help"):
        name = args[0].lstrip("-").split("=", 1)[0]
        if name in ("v",) or name in GLOBAL_FLAGS:
            if "=" not in args[0] and GLOBAL_FLAGS.get(name, "int") != "bool" and len(args) > 1:
                args = args[2:]
            else:
                args = args[1:]
            continue
        break
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    cmd = args[0]
    fn = COMMANDS.get(cmd)
    try:
        if fn is None:
            if cmd in ("upgrade", "certs", "kubeconfig", "alpha", "completion"):
                raise Fail('"kubeadm %s" is not implemented by the kubeforge kubeadm test double' % cmd)
            raise Fail('unknown command "%s" for "kubeadm"' % cmd)
        return fn(args[1:]) or 0
    except (Fail, ConfigError) as e:
        phase = getattr(e, "phase", None)
        msg = str(e)
        if phase:
            msg = "error execution phase %s: %s" % (phase, msg)
        sys.stdout.flush()
        sys.stderr.write("error: %s\n%s" % (msg, STACK_HINT))
        sys.stderr.flush()
        return 1
