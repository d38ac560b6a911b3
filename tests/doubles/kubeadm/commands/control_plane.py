"""Control-plane phases shared by init and join --control-plane: certs, kubeconfigs, static Pod
manifests, the health wait, mark-control-plane and kubelet-finalize."""
from __future__ import annotations

import ipaddress
import time

from .. import certs, der, images, kclient, kconfig, kubeconfig, paths, version, yamlk
from .base import Fail, go_q, out
from .patches import apply_patches
from .waits import fmt_secs, wait_http


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


def write_etcd_manifest(c, patches_dir=None, initial_cluster=None, dest=paths.MANIFESTS_DIR):
    """etcd.yaml; initial_cluster = [(name, peerURL)] of a joining member (then --initial-cluster-state=existing).
    dest: the directory to write to (kubeadm upgrade writes the new manifests to a temporary one first)."""
    cl = c.cluster
    local = cl["etcd"]["local"]
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
    pod = static_pod("etcd", images.component_images(cl, version.VERSION)["etcd"], cmd,
                     {"kubeadm.kubernetes.io/etcd.advertise-client-urls": url})
    pod = apply_patches(pod, patches_dir, "etcd")
    paths.makedirs(dest)
    paths.write(dest + "/etcd.yaml", yamlk.dump(pod), 0o600)


def phase_manifests(c, patches_dir=None):
    if (c.cluster.get("etcd") or {}).get("local") is not None:
        out('[etcd] Creating static Pod manifest for local etcd in "%s"' % paths.MANIFESTS_DIR)
        write_etcd_manifest(c, patches_dir)
    write_control_plane_manifests(c, patches_dir)


def write_control_plane_manifests(c, patches_dir=None, dest=paths.MANIFESTS_DIR, quiet=False):
    """kube-apiserver.yaml, kube-controller-manager.yaml and kube-scheduler.yaml in dest (quiet: without the
    [control-plane] lines, as kubeadm upgrade writes them)."""
    cl = c.cluster
    image = images.component_images(cl, version.VERSION)
    paths.makedirs(dest)
    if not quiet:
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
        if not quiet:
            out('[control-plane] Creating static Pod manifest for "%s"' % name)
        cmd = [name] + merged_args(defaults, (cl.get(key) or {}).get("extraArgs"))
        pod = static_pod(name, image[name], cmd, ann)
        pod = apply_patches(pod, patches_dir, name)
        paths.write("%s/%s.yaml" % (dest, name), yamlk.dump(pod), 0o600)


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
