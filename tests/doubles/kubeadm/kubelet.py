"""The ``kubelet`` program of the double.

Run by systemd with kubeadm's drop-in (``--bootstrap-kubeconfig``, ``--kubeconfig``,
``--config`` + KUBELET_KUBEADM_ARGS + KUBELET_EXTRA_ARGS).  Start-up refusals,
in the kubelet's order, each logged as ``"command failed" err="..."`` with
exit status 1 (systemd restarts it: the crash loop kubeadm expects):

1. flag errors, ``--node-labels`` outside the kubelet's allowed kubernetes.io set;
2. a missing/unreadable ``--config`` file;
3. neither a usable ``--kubeconfig`` nor a ``--bootstrap-kubeconfig`` file;
4. a CRI socket that does not answer;
5. swap on while failSwapOn is true;
6. a cgroup v1 host while failCgroupV1 is true (the 1.35 default).

Then: healthz (healthzBindAddress:healthzPort, plain HTTP), the kubelet port
(HTTPS, self-signed ``<cert-dir>/kubelet.crt``), the static Pods of
staticPodPath (see cpapi.py), the TLS bootstrap (CSR with the bootstrap token)
when only the bootstrap kubeconfig exists, node registration, mirror Pods and a
Ready heartbeat every nodeStatusUpdateFrequency (default 10s).
"""
import base64
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from common import nodes, wire

from . import certs, cpapi, flags, glog, kclient, kconfig, kubeconfig, paths, preflight, version, yamlk

VALUE_FLAGS = ("bootstrap-kubeconfig", "kubeconfig", "config", "container-runtime-endpoint", "node-ip",
               "hostname-override", "node-labels", "register-with-taints", "cert-dir", "root-dir", "v",
               "pod-infra-container-image", "cgroup-driver", "image-service-endpoint", "provider-id",
               "cloud-provider", "resolv-conf", "max-pods", "cluster-dns", "cluster-domain", "address", "port",
               "healthz-port", "healthz-bind-address", "feature-gates", "log-file", "runtime-cgroups",
               "kubelet-cgroups", "system-reserved", "kube-reserved", "eviction-hard", "pod-manifest-path",
               "tls-cert-file", "tls-private-key-file", "vmodule", "node-status-update-frequency",
               "runtime-request-timeout", "seccomp-default", "lock-file", "housekeeping-interval")
BOOL_FLAGS = ("fail-swap-on", "rotate-certificates", "register-node", "help", "exit-on-lock-contention",
              "logtostderr", "alsologtostderr", "skip-headers", "fail-cgroupv1")
ALLOWED_K8S_LABELS = ("beta.kubernetes.io/arch", "beta.kubernetes.io/instance-type", "beta.kubernetes.io/os",
                      "failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
                      "kubernetes.io/arch", "kubernetes.io/hostname", "kubernetes.io/os",
                      "node.kubernetes.io/instance-type", "topology.kubernetes.io/region",
                      "topology.kubernetes.io/zone")


class Fatal(Exception):
    pass


def spec():
    f = {k: "str" for k in VALUE_FLAGS}
    f.update({k: "bool" for k in BOOL_FLAGS})
    f["version"] = "bool"
    return flags.Spec(f, {"v": "v", "h": "help"})


def fatal(msg):
    glog.error("run.go:72", "command failed", err=msg)
    return 1


def parse_labels(text):
    labels = {}
    for part in [p for p in (text or "").split(",") if p]:
        k, sep, v = part.partition("=")
        if not sep:
            raise Fatal("failed to parse kubelet flag: invalid argument %s for \"--node-labels\" flag: %s must be "
                        "formatted as key=value" % (json.dumps(text), part))
        labels[k.strip()] = v.strip()
    bad = []
    for k in labels:
        ns = k.split("/", 1)[0] if "/" in k else ""
        if ns == "kubernetes.io" or ns.endswith(".kubernetes.io") or ns == "k8s.io" or ns.endswith(".k8s.io"):
            if k in ALLOWED_K8S_LABELS:
                continue
            if ns in ("kubelet.kubernetes.io", "node.kubernetes.io") or ns.endswith((".kubelet.kubernetes.io",
                                                                                      ".node.kubernetes.io")):
                continue
            bad.append(k)
    if bad:
        raise Fatal("failed to validate kubelet flags: unknown 'kubernetes.io' or 'k8s.io' labels specified with "
                    "--node-labels: [%s]\n--node-labels in the 'kubernetes.io' namespace must begin with an allowed "
                    "prefix (kubelet.kubernetes.io, node.kubernetes.io) or be in the specifically allowed set (%s)"
                    % (" ".join(sorted(bad)), ", ".join(ALLOWED_K8S_LABELS)))
    return labels


def parse_taints(text):
    out = []
    for t in [p for p in (text or "").split(",") if p]:
        d = nodes.parse_taint(t)
        if d is None:
            raise Fatal("failed to parse kubelet flag: invalid argument %s for \"--register-with-taints\" flag: "
                        "invalid taint spec: %s" % (json.dumps(text), t))
        out.append(d)
    return out


def load_config(path):
    try:
        text = paths.read_text(path)
    except OSError as e:
        why = "no such file or directory" if isinstance(e, FileNotFoundError) else (e.strerror or str(e)).lower()
        raise Fatal('failed to load kubelet config file, path: %s, error: failed to load Kubelet config file %s, '
                    'error failed to read kubelet config file "%s", error: open %s: %s' % (path, path, path, path, why))
    try:
        docs = kconfig.split(text)
        if len(docs) != 1 or docs[0].kind != "KubeletConfiguration" or docs[0].api_version != kconfig.KUBELET_GV:
            got = docs[0].api_version + ", Kind=" + docs[0].kind if docs else "no object"
            raise kconfig.ConfigError('no kind "%s" is registered for version "%s"' % (
                docs[0].kind if docs else "", docs[0].api_version if docs else "") if docs else got)
        kconfig.decode(docs[0])
    except kconfig.ConfigError as e:
        raise Fatal("failed to load kubelet config file, path: %s, error: failed to load Kubelet config file %s, "
                    "error failed to decode: %s" % (path, path, e))
    if docs[0].strict:
        glog.info("codec.go:77", "Using lenient decoding as strict decoding failed",
                  err="strict decoding error: " + ", ".join('unknown field "%s"' % f for f in docs[0].strict))
    cfg = docs[0].value or {}
    errs = kconfig.validate_kubelet(cfg)
    if errs:
        raise Fatal("failed to validate kubelet configuration, error: %s, path: &TypeMeta{Kind:KubeletConfiguration,"
                    "APIVersion:kubelet.config.k8s.io/v1beta1,}" % kconfig.aggregate(errs))
    return cfg


def read_swaps():
    try:
        return [l for l in paths.read_text(paths.PROC_SWAPS).splitlines() if l.strip()]
    except OSError:
        return []


def duration(cfg, key, default):
    try:
        v = kconfig.parse_duration(cfg.get(key) or default)
    except ValueError:
        v = 0
    return v or kconfig.parse_duration(default)


class Kubelet:
    def __init__(self, vals):
        self.vals = vals
        self.stop = threading.Event()
        self.servers = []
        self.cp = None
        self.healthy = False

    # -- start-up checks --------------------------------------------------
    def prepare(self):
        v = self.vals
        self.labels = parse_labels(v.get("node-labels"))
        self.flag_taints = parse_taints(v.get("register-with-taints"))
        cfg = load_config(v["config"]) if v.get("config") else {}
        self.cfg = cfg
        glog.info("server.go:525", "Kubelet version", kubeletVersion=version.VERSION)
        glog.info("server.go:527", "Golang settings", GOGC="", GOMAXPROCS="", GOTRACEBACK="")
        self.node = (v.get("hostname-override") or socket.gethostname()).strip().lower()
        self.cert_dir = v.get("cert-dir") or paths.KUBELET_PKI
        kc, boot = v.get("kubeconfig"), v.get("bootstrap-kubeconfig")
        self.mode = "standalone"
        if kc and paths.exists(kc) and self.kubeconfig_usable(kc):
            self.mode = "kubeconfig"
        elif boot:
            if not paths.exists(boot):
                raise Fatal("failed to run Kubelet: unable to load bootstrap kubeconfig: stat %s: no such file or "
                            "directory" % boot)
            self.mode = "bootstrap"
        elif kc:
            raise Fatal("failed to run Kubelet: invalid kubeconfig: stat %s: no such file or directory" % kc)
        else:
            glog.info("server.go:746", "Standalone mode, no API client")
        ep = v.get("container-runtime-endpoint") or cfg.get("containerRuntimeEndpoint") or \
            "unix:///run/containerd/containerd.sock"
        self.cri = ep
        err = preflight.cri_dial_error(ep)
        if err:
            raise Fatal('failed to run Kubelet: validate service connection: validate CRI v1 runtime API for endpoint '
                        '"%s": %s' % (ep, err))
        fail_swap = cfg.get("failSwapOn", True)
        if "fail-swap-on" in v:
            fail_swap = v["fail-swap-on"]
        swaps = read_swaps()
        if fail_swap and len(swaps) > 1:
            raise Fatal("failed to run Kubelet: running with swap on is not supported, please disable swap! or set "
                        "--fail-swap-on flag to false. /proc/swaps contained: [%s]" % " ".join(swaps))
        fail_v1 = cfg.get("failCgroupV1", True)
        if "fail-cgroupv1" in v:
            fail_v1 = v["fail-cgroupv1"]
        if paths.cgroup_v1():
            if fail_v1:
                raise Fatal("failed to run Kubelet: kubelet is configured to not run on a host using cgroup v1")
            glog.warning("server.go:640", "cgroup v1 support is in maintenance mode, please migrate to cgroup v2")

    def kubeconfig_usable(self, path):
        try:
            cl, us = kubeconfig.load(path)
            return bool(us.get("cert") and us.get("key")) or bool(us.get("token"))
        except kubeconfig.KubeconfigError as e:
            glog.error("bootstrap.go:241", "Unable to read existing bootstrap client config", path=path, err=str(e))
            return False

    # -- servers -------------------------------------------------------------
    def serve_healthz(self):
        port = int(self.cfg.get("healthzPort", 10248))
        if port == 0:
            return
        addr = self.cfg.get("healthzBindAddress") or "127.0.0.1"
        kl = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                p = self.path.split("?", 1)[0]
                if p in ("/healthz", "/healthz/ping", "/healthz/syncloop") and kl.healthy:
                    code, body = 200, b"ok"
                elif p.startswith("/healthz"):
                    code, body = 500, b"[-]syncloop failed: reason withheld\nhealthz check failed\n"
                else:
                    code, body = 404, b"404 page not found\n"
                wire.reply(self, code, body, "text/plain; charset=utf-8")

        class S(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        try:
            srv = S((addr, port), H)
        except OSError as e:
            glog.error("server.go:1227", "Failed to start healthz server",
                       err="listen tcp %s:%d: bind: %s" % (addr, port, (e.strerror or str(e)).lower()))
            return
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
        self.servers.append(srv)

    def serve_kubelet_port(self):
        if self.cfg.get("enableServer") is False:
            return
        port = int(self.cfg.get("port", 10250))
        addr = self.cfg.get("address") or "0.0.0.0"
        crt = self.cfg.get("tlsCertFile") or self.cert_dir + "/kubelet.crt"
        key = self.cfg.get("tlsPrivateKeyFile") or self.cert_dir + "/kubelet.key"
        if not (paths.exists(crt) and paths.exists(key)):
            certs.self_signed(crt, key, "%s@%d" % (self.node, int(time.time())), dns=[self.node, "localhost"],
                              ips=["127.0.0.1"])
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(paths.host(crt), paths.host(key))

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                p = self.path.split("?", 1)[0]
                code, body = (200, b"ok") if p == "/healthz" else (401, b"Unauthorized")
                wire.reply(self, code, body)

        class S(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET

            def get_request(self):
                sock, a = self.socket.accept()
                sock.settimeout(10)
                return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), a

            def handle_error(self, request, client_address):
                pass
        try:
            srv = S((addr, port), H)
        except OSError as e:
            raise Fatal("failed to run Kubelet: listen tcp %s:%d: bind: %s" % (addr, port,
                                                                                (e.strerror or str(e)).lower()))
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
        self.servers.append(srv)
        glog.info("server.go:180", "Starting to listen", address=addr, port=str(port))

    # -- static pods -----------------------------------------------------------
    def static_pod_loop(self):
        spp = self.vals.get("pod-manifest-path") or self.cfg.get("staticPodPath")
        if not spp:
            return
        self.cp = cpapi.ControlPlane(spp)
        logged = set()
        while not self.stop.is_set():
            for e in self.cp.sync(self.node):
                if e not in logged:
                    glog.error("kubelet.go:2100", "Failed to start static pod", err=e)
                    logged.add(e)
            self.stop.wait(0.5)

    # -- API side ----------------------------------------------------------------
    def client(self):
        cl, us = kubeconfig.load(self.vals["kubeconfig"])
        return kclient.Client.from_kubeconfig(cl, us)

    def write_client_pem(self, cert_pem, key_pem):
        ts = time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime())
        name = "kubelet-client-%s.pem" % ts
        paths.write(self.cert_dir + "/" + name, cert_pem + key_pem, 0o600)
        cur = paths.host(self.cert_dir + "/kubelet-client-current.pem")
        tmp = cur + ".tmp"
        if os.path.lexists(tmp):
            os.remove(tmp)
        os.symlink(paths.host(self.cert_dir + "/" + name), tmp)
        os.replace(tmp, cur)

    def ensure_rotatable(self):
        """With embedded credentials (kubeadm init's kubelet.conf) the certificate manager stores them as
        kubelet-client-current.pem."""
        cur = self.cert_dir + "/kubelet-client-current.pem"
        if paths.exists(cur):
            return
        try:
            cl, us = kubeconfig.load(self.vals["kubeconfig"])
        except kubeconfig.KubeconfigError:
            return
        if us.get("cert") and us.get("key"):
            self.write_client_pem(us["cert"], us["key"])

    def tls_bootstrap(self):
        boot = self.vals["bootstrap-kubeconfig"]
        glog.info("bootstrap.go:100", "Using bootstrap kubeconfig to generate TLS client cert, key and kubeconfig file")
        csr, key = certs.new_csr("system:node:" + self.node, ["system:nodes"])
        body = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
                "metadata": {"generateName": "csr-"},
                "spec": {"request": base64.b64encode(csr).decode(),
                         "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                         "usages": ["digital signature", "client auth"]}}
        while not self.stop.is_set():
            try:
                cl, us = kubeconfig.load(boot)
                c = kclient.Client.from_kubeconfig(cl, us)
                code, doc = c.post(cpapi.CSR_PATH, body)
                if code == 201 and (doc.get("status") or {}).get("certificate"):
                    crt = base64.b64decode(doc["status"]["certificate"])
                    self.write_client_pem(crt, key)
                    cur = self.cert_dir + "/kubelet-client-current.pem"
                    cfg = kubeconfig.build("default-cluster", cl["server"], cl.get("ca") or b"", "default-auth",
                                           context="default-context", cert_file=cur, key_file=cur,
                                           namespace="default")
                    kubeconfig.write(self.vals["kubeconfig"], cfg)
                    glog.info("csr.go:274", "Certificate signing request is approved, waiting to be issued",
                              csr=doc["metadata"]["name"])
                    return True
                glog.error("certificate_manager.go:562", "Failed while requesting a signed certificate from the "
                           "control plane", err="cannot create certificate signing request: %s"
                           % kclient.status_message(doc, code))
            except (kclient.APIError, kubeconfig.KubeconfigError) as e:
                glog.error("certificate_manager.go:562", "Failed while requesting a signed certificate from the "
                           "control plane", err="cannot create certificate signing request: %s" % e)
            self.stop.wait(2)
        return False

    def node_object(self):
        arch = version.arch()
        ip = self.vals.get("node-ip") or kconfig.detect_ipv4()
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        os_image = nodes.os_image()

        def read(p):
            try:
                return open(p).read().strip()
            except OSError:
                return ""
        labels = {"beta.kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": arch,
                  "kubernetes.io/hostname": self.node, "kubernetes.io/os": "linux"}
        labels.update(self.labels)
        status = {
            "addresses": [{"type": "InternalIP", "address": a} for a in ip.split(",")] +
                         [{"type": "Hostname", "address": self.node}],
            "allocatable": {"cpu": str(os.cpu_count() or 1), "ephemeral-storage": "10Gi", "memory": "2048Mi",
                            "pods": str(self.cfg.get("maxPods", 110))},
            "capacity": {"cpu": str(os.cpu_count() or 1), "ephemeral-storage": "10Gi", "memory": "2048Mi",
                         "pods": str(self.cfg.get("maxPods", 110))},
            "conditions": self.conditions(now),
            "daemonEndpoints": {"kubeletEndpoint": {"Port": int(self.cfg.get("port", 10250))}},
            "nodeInfo": {"architecture": arch, "bootID": read("/proc/sys/kernel/random/boot_id"),
                         "containerRuntimeVersion": "containerd://unknown", "kernelVersion": os.uname().release,
                         "kubeProxyVersion": "", "kubeletVersion": version.VERSION,
                         "machineID": read("/etc/machine-id"), "operatingSystem": "linux", "osImage": os_image,
                         "systemUUID": ""}}
        taints = list(self.cfg.get("registerWithTaints") or []) + self.flag_taints
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.node, "labels": labels,
                             "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                             "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
                "spec": {}, "status": status}
        if taints:
            node["spec"]["taints"] = taints
        return node

    @staticmethod
    def conditions(now):
        c = [{"type": t, "status": "False", "reason": "Kubelet" + r, "message": m, "lastHeartbeatTime": now,
              "lastTransitionTime": now}
             for t, r, m in (("MemoryPressure", "HasSufficientMemory", "kubelet has sufficient memory available"),
                             ("DiskPressure", "HasNoDiskPressure", "kubelet has no disk pressure"),
                             ("PIDPressure", "HasSufficientPID", "kubelet has sufficient PID available"))]
        c.append({"type": "Ready", "status": "True", "reason": "KubeletReady",
                  "message": "kubelet is posting ready status", "lastHeartbeatTime": now, "lastTransitionTime": now})
        return c

    def api_loop(self):
        if self.mode == "standalone":
            return
        if self.mode == "bootstrap" and not self.tls_bootstrap():
            return
        if self.mode == "kubeconfig" and self.cfg.get("rotateCertificates", False):
            self.ensure_rotatable()
        registered = False
        mirrored = {}
        period = duration(self.cfg, "nodeStatusUpdateFrequency", "10s")
        last_beat = 0
        while not self.stop.is_set():
            try:
                c = self.client()
                if not registered:
                    glog.info("kubelet_node_status.go:75", "Attempting to register node", node=self.node)
                    code, doc = c.post("/api/v1/nodes", self.node_object())
                    if code == 201:
                        glog.info("kubelet_node_status.go:78", "Successfully registered node", node=self.node)
                        registered, last_beat = True, time.time()
                    elif code == 409:
                        registered, last_beat = True, 0
                    else:
                        glog.error("kubelet_node_status.go:107", "Unable to register node with API server",
                                   err=kclient.status_message(doc, code), node=self.node)
                if registered and time.time() - last_beat >= period:
                    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                    code, cur = c.get("/api/v1/nodes/" + self.node)
                    if code == 404:
                        registered = False
                        continue
                    if code == 200:
                        old = {x["type"]: x for x in (cur.get("status") or {}).get("conditions") or []}
                        conds = self.conditions(now)
                        for x in conds:
                            if x["type"] in old and old[x["type"]].get("status") == x["status"]:
                                x["lastTransitionTime"] = old[x["type"]].get("lastTransitionTime", now)
                        st = self.node_object()["status"]
                        st["conditions"] = conds
                        code, doc = c.patch("/api/v1/nodes/%s/status" % self.node, {"status": st})
                        if code == 200:
                            last_beat = time.time()
                        else:
                            glog.error("kubelet_node_status.go:549", "Error updating node status, will retry",
                                       err=kclient.status_message(doc, code))
                if registered and self.cp is not None:
                    self.mirror_pods(c, mirrored)
            except (kclient.APIError, kubeconfig.KubeconfigError) as e:
                glog.error("kubelet_node_status.go:107", "Unable to register node with API server", err=str(e),
                           node=self.node)
            if self.cp is not None:
                # a static Pod that (re)started gets its mirror Pod without waiting for the next round
                if self.cp.changed.wait(1):
                    self.cp.changed.clear()
            else:
                self.stop.wait(1)

    def mirror_pods(self, c, done):
        """Keep one mirror Pod per static Pod, as the kubelet's mirror Pod manager does: named
        ``<metadata.name>-<node>`` in the manifest's namespace, annotated with the config hash of the manifest
        that runs (``kubernetes.io/config.hash``, also the ``kubernetes.io/config.mirror`` value).  When a
        static Pod changes (another hash: kubeadm upgrade rewrote its manifest and the component was restarted
        from it), the old mirror Pod is deleted and a new one created (new uid, image, startTime); a mirror Pod
        whose manifest went away is deleted.  ``done`` maps manifest file -> (mirror Pod path, hash) posted."""
        spp = self.cp.dir
        try:
            names = sorted(os.listdir(paths.host(spp)))
        except OSError:
            return
        running = self.cp.snapshot()
        present = set()
        for n in names:
            if not n.endswith((".yaml", ".yml", ".json")):
                continue
            comp = n.rsplit(".", 1)[0]
            if comp in cpapi.COMPONENTS:
                rec = running.get(comp)
                if rec is None:
                    continue  # not (re)started yet
                h, pod, started = rec["hash"], rec["pod"], rec["started"]
            else:
                h = cpapi.manifest_hash(spp + "/" + n)
                try:
                    _, pod = cpapi.manifest_command(spp + "/" + n)
                except Exception:
                    continue
                started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            present.add(n)
            if h is None or (done.get(n) or (None, None))[1] == h:
                continue
            md = pod.get("metadata") or {}
            ns = md.get("namespace", "kube-system")
            name = "%s-%s" % (md.get("name", comp), self.node)
            path = "/api/v1/namespaces/%s/pods/%s" % (ns, name)
            ann = dict(md.get("annotations") or {})
            ann.update({"kubernetes.io/config.hash": h, "kubernetes.io/config.mirror": h,
                        "kubernetes.io/config.seen": started, "kubernetes.io/config.source": "file"})
            body = {"metadata": {"name": name, "namespace": ns, "labels": md.get("labels") or {},
                                 "annotations": ann},
                    "spec": dict(pod.get("spec") or {}, nodeName=self.node),
                    "status": {"phase": "Running", "startTime": started,
                               "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": started}],
                               "containerStatuses": [{"name": ct.get("name", ""), "ready": True, "restartCount": 0,
                                                      "image": ct.get("image", ""), "started": True,
                                                      "state": {"running": {"startedAt": started}}}
                                                     for ct in (pod.get("spec") or {}).get("containers") or []]}}
            code, cur = c.get(path)
            if code == 200:
                if ((cur.get("metadata") or {}).get("annotations") or {}).get("kubernetes.io/config.hash") == h:
                    done[n] = (path, h)
                    continue
                code, _ = c.delete(path)
                if code not in (200, 202, 404):
                    continue
            code, _ = c.post("/api/v1/namespaces/%s/pods" % ns, body)
            if code == 201:
                done[n] = (path, h)
                glog.info("kubelet.go:1960", "Created mirror pod", pod="%s/%s" % (ns, name), hash=h)
        for n in [n for n in done if n not in present]:
            if paths.exists(spp + "/" + n):
                continue  # the manifest is there but its component is restarting: the mirror Pod stays
            code, _ = c.delete(done[n][0])
            if code in (200, 202, 404):
                del done[n]

    def run(self):
        self.prepare()
        self.serve_kubelet_port()
        self.serve_healthz()
        self.healthy = True
        glog.info("kubelet.go:2468", "Starting kubelet main sync loop")
        threading.Thread(target=self.static_pod_loop, daemon=True).start()
        threading.Thread(target=self.api_loop, daemon=True).start()

        def on_signal(signum, frame):
            self.stop.set()
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        while not self.stop.wait(0.5):
            pass
        glog.info("kubelet.go:1700", "Shutting down kubelet (signal received)")
        for s in self.servers:
            s.shutdown()
            s.server_close()
        if self.cp:
            self.cp.stop()
        return 0


def main(argv):
    try:
        vals, pos, _ = flags.parse(argv[1:], spec())
    except flags.FlagError as e:
        return fatal("failed to parse kubelet flag: %s" % e)
    glog.VERBOSITY = int(vals.get("v") or 0) if str(vals.get("v") or "0").isdigit() else 0
    if vals.get("version"):
        sys.stdout.write("Kubernetes %s\n" % version.VERSION)
        return 0
    if vals.get("help"):
        sys.stdout.write("The kubelet is the primary \"node agent\" that runs on each node. (kubeforge test double)\n"
                         "\nUsage:\n  kubelet [flags]\n")
        return 0
    if pos:
        return fatal("unknown command %s" % json.dumps(pos[0]))
    try:
        return Kubelet(vals).run()
    except Fatal as e:
        return fatal(str(e))
