"""`k3s agent` for the kubeforge test double (K3s docs cli/agent.md; pkg/agent, pkg/clientaccess).

Flow: validate flags -> (retry every 2 s) verify the cluster CA against the
token hash and fetch the kubelet serving and client certificates from the supervisor
(GET /v1-k3s/serving-kubelet.crt and /v1-k3s/client-kubelet.crt, Basic node:<pw>, with
the node name and the node password of /etc/rancher/node/password, see nodepassword.py)
-> write agent files -> register the Node through the API with the client cert (like a
kubelet) -> READY=1 -> PATCH node status every 10 s until SIGTERM (exit 0).

Deliberately light for qemu-user emulation: no openssl calls in the agent
(the server generates the key), no busy loops.
"""
import ipaddress
import json
import os
import signal
import socket
import threading

from common import nodes

from . import clientaccess, klog, nodepassword, tokens, version
from .server import default_data_dir, detect_ipv4, node_labels_and_taints, sd_notify, _write
from .state import now_rfc3339

HEARTBEAT_SECONDS = 10
RETRY_SECONDS = 2


class PasswordRejected(Exception):
    """The supervisor refused the node password (403): K3s's message, after the certificate file it was for."""


class Agent:
    def __init__(self, o, environ):
        self.o = o
        self.environ = environ
        self.stop = threading.Event()

    # -- validation ----------------------------------------------------------
    def validate(self):
        o = self.o
        if o["token-file"] and not o["token"]:
            try:
                with open(o["token-file"]) as fh:
                    o["token"] = fh.read().strip()
            except OSError as e:
                klog.fatal("failed to read token file: %s", e)
        if not o["server"]:
            klog.fatal("--server is required")
        if "://" not in o["server"] or not o["server"].startswith("https://"):
            klog.fatal("only https:// URLs are supported, invalid scheme: %s", o["server"])
        self.server_url = o["server"].rstrip("/")
        self.data_dir = os.path.abspath(os.path.expanduser(o["data-dir"] or default_data_dir()))
        self.adir = os.path.join(self.data_dir, "agent")
        self.crt = os.path.join(self.adir, "client-kubelet.crt")
        self.key = os.path.join(self.adir, "client-kubelet.key")
        self.serving_crt = os.path.join(self.adir, "serving-kubelet.crt")
        self.serving_key = os.path.join(self.adir, "serving-kubelet.key")
        self.ca = os.path.join(self.adir, "server-ca.crt")
        if not o["token"] and not os.path.exists(self.crt):
            klog.fatal("--token is required")
        ips = []
        for v in o["node-ip"]:
            try:
                ips.append(ipaddress.ip_address(v))
            except ValueError:
                klog.fatal("invalid node-ip %s", v)
        self.node_ips = [str(i) for i in ips] or [detect_ipv4()]
        for v in o["node-external-ip"]:
            try:
                ipaddress.ip_address(v)
            except ValueError:
                klog.fatal("invalid node-external-ip %s", v)
        self.labels, self.taints = node_labels_and_taints(o)

    def node_identity(self):
        name = (self.o["node-name"] or socket.gethostname()).lower()
        if self.o["with-node-id"]:
            name = "%s-%s" % (name, nodepassword.ensure_node_id(self.environ))  # K3s: /etc/rancher/node/id
        self.node_name = name

    # -- credentials ---------------------------------------------------------
    def node_cert(self, path, bundle, tok, ips):
        """K3s getNodeNamedCrt: one kubelet certificate request with the node name, password and IPs; returns
        (cert PEM, key PEM).  A 403 is K3s's "Node password rejected" (PasswordRejected)."""
        # ensureNodePassword on every request, as K3s does: a file removed meanwhile is made anew
        pw = nodepassword.ensure_password(self.environ)
        headers = {nodepassword.NODE_NAME_HEADER: self.node_name, nodepassword.NODE_PASSWORD_HEADER: pw,
                   nodepassword.NODE_IP_HEADER: ",".join(ips)}
        try:
            _, data = clientaccess.request(self.server_url, "/v1-k3s/" + os.path.basename(path), cadata=bundle,
                                           basic=("node", tok.password), headers=headers)
        except clientaccess.HTTPStatusError as e:
            if e.code == 403:
                raise PasswordRejected("%s: %s" % (path, nodepassword.REJECTED % nodepassword.PASSWORD_FILE))
            raise
        text = data.decode()
        idx = text.find("-----BEGIN PRIVATE KEY-----")
        if idx < 0:
            idx = text.find("-----BEGIN EC PRIVATE KEY-----")
        if idx < 0:
            raise clientaccess.AccessError("invalid %s response: no private key" % os.path.basename(path))
        return text[:idx], text[idx:]

    def fetch_credentials(self):
        """One attempt; raises clientaccess.AccessError / tokens.TokenError / PasswordRejected.  As in K3s's
        config.get: the serving certificate first (node and external IPs), then the client certificate."""
        tok, bundle = clientaccess.validate(self.server_url, self.o["token"])
        serving = self.node_cert(self.serving_crt, bundle, tok, self.node_ips + list(self.o["node-external-ip"]))
        client = self.node_cert(self.crt, bundle, tok, self.node_ips)
        _write(self.ca, bundle.decode(), 0o644)
        _write(self.serving_crt, serving[0], 0o600)
        _write(self.serving_key, serving[1], 0o600)
        _write(self.crt, client[0], 0o644)
        _write(self.key, client[1], 0o600)
        return bundle

    def write_kubeconfig(self):
        text = ("apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority: %s\n    server: %s\n"
                "  name: local\ncontexts:\n- context:\n    cluster: local\n    namespace: default\n"
                "    user: user\n  name: Default\ncurrent-context: Default\nkind: Config\npreferences: {}\n"
                "users:\n- name: user\n  user:\n    client-certificate: %s\n    client-key: %s\n"
                % (self.ca, self.server_url, self.crt, self.key))
        _write(os.path.join(self.adir, "kubelet.kubeconfig"), text, 0o600)

    def wait_credentials(self):
        if not self.o["token"]:
            klog.info("Using existing kubelet client certificate %s (no token given)", self.crt)
            return True
        while not self.stop.is_set():
            try:
                self.fetch_credentials()
                return True
            except PasswordRejected as e:
                # K3s's agent config.Get retry loop
                klog.info("Waiting to retrieve agent configuration; server is not ready: %s", e)
            except (clientaccess.AccessError, tokens.TokenError) as e:
                klog.error("Failed to validate connection to cluster at %s: %s", self.server_url, e)
            if self.stop.wait(RETRY_SECONDS):
                break
        return False

    # -- API -------------------------------------------------------------------
    def api(self, method, path, body=None, ok=(200, 201)):
        with open(self.ca, "rb") as fh:
            ca = fh.read()
        return clientaccess.request(self.server_url, path, method=method, cadata=ca, cert=(self.crt, self.key),
                                    body=json.dumps(body) if body is not None else None,
                                    headers={"Content-Type": "application/merge-patch+json" if method == "PATCH"
                                             else "application/json", "Accept": "application/json"},
                                    ok=ok)

    def conditions(self, now, transition=None):
        tr = transition or {}
        out = []
        for t, st, r, m in (("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                            ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                            ("Ready", "True", "KubeletReady", "kubelet is posting ready status")):
            out.append({"type": t, "status": st, "reason": r, "message": m, "lastHeartbeatTime": now,
                        "lastTransitionTime": tr.get(t, now)})
        return out

    def node_status(self, now):
        arch = version.arch()
        addresses = [{"type": "InternalIP", "address": ip} for ip in self.node_ips]
        addresses += [{"type": "ExternalIP", "address": ip} for ip in self.o["node-external-ip"]]
        addresses.append({"type": "Hostname", "address": self.node_name})
        os_image = nodes.os_image()
        cpu = str(os.cpu_count() or 1)
        res = {"cpu": cpu, "memory": "2048Mi", "pods": "110", "ephemeral-storage": "10Gi"}
        return {"addresses": addresses, "capacity": dict(res), "allocatable": dict(res),
                "conditions": self.conditions(now),
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {"architecture": arch, "bootID": "", "containerRuntimeVersion": "containerd://2.0.5-k3s1",
                             "kernelVersion": os.uname().release, "kubeProxyVersion": version.VERSION,
                             "kubeletVersion": version.VERSION, "machineID": "", "operatingSystem": "linux",
                             "osImage": os_image, "systemUUID": ""}}

    def register(self):
        """One attempt.  Labels and taints only on first registration."""
        now = now_rfc3339()
        arch = version.arch()
        annotations = {"k3s.io/hostname": socket.gethostname(), "k3s.io/internal-ip": ",".join(self.node_ips),
                       "flannel.alpha.coreos.com/public-ip": self.node_ips[0],
                       "node.alpha.kubernetes.io/ttl": "0",
                       "volumes.kubernetes.io/controller-managed-attach-detach": "true"}
        labels = {"kubernetes.io/arch": arch, "beta.kubernetes.io/arch": arch,
                  "kubernetes.io/os": "linux", "beta.kubernetes.io/os": "linux",
                  "kubernetes.io/hostname": self.node_name,
                  "node.kubernetes.io/instance-type": "k3s"}
        labels.update(self.labels)
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.node_name, "labels": labels, "annotations": annotations},
                "spec": {"providerID": "k3s://" + self.node_name}, "status": self.node_status(now)}
        if self.taints:
            node["spec"]["taints"] = self.taints
        code, _ = self.api("POST", "/api/v1/nodes", node, ok=(201, 409))
        if code == 201:
            klog.info("Successfully registered node %s", self.node_name)
        else:
            klog.info("Node %s already registered; labels and taints are not re-applied", self.node_name)
            _, data = self.api("GET", "/api/v1/nodes/" + self.node_name, ok=(200,))
            old = json.loads(data.decode())
            tr = {c["type"]: c.get("lastTransitionTime") for c in old.get("status", {}).get("conditions", [])
                  if c.get("status") == "True" and c["type"] == "Ready"}
            st = self.node_status(now)
            st["conditions"] = self.conditions(now, tr)
            self.api("PATCH", "/api/v1/nodes/%s/status" % self.node_name,
                     {"metadata": {"annotations": annotations}, "status": st}, ok=(200,))
        self.transition = {c["type"]: now for c in self.conditions(now)}

    def heartbeat_once(self):
        now = now_rfc3339()
        self.api("PATCH", "/api/v1/nodes/%s/status" % self.node_name,
                 {"status": {"conditions": self.conditions(now, self.transition)}}, ok=(200,))

    # -- run -------------------------------------------------------------------
    def run(self):
        klog.DEBUG = bool(self.o["debug"])
        self.validate()

        def on_signal(signum, frame):
            self.stop.set()
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        klog.info("Starting k3s agent %s (%s)", version.VERSION, version.COMMIT)
        os.makedirs(self.adir, exist_ok=True)
        self.node_identity()
        if not self.wait_credentials():
            return self.shutdown()
        self.write_kubeconfig()
        klog.info("Connecting to proxy url=\"wss://%s/v1-k3s/connect\"", self.server_url.split("://", 1)[1])
        while not self.stop.is_set():
            try:
                self.register()
                break
            except clientaccess.AccessError as e:
                klog.error("Unable to register node with API server: %s", e)
            if self.stop.wait(RETRY_SECONDS):
                return self.shutdown()
        if self.stop.is_set():
            return self.shutdown()
        sd_notify("READY=1\n", self.environ)
        klog.info("k3s agent is up and running")
        while not self.stop.wait(HEARTBEAT_SECONDS):
            try:
                self.heartbeat_once()
            except clientaccess.AccessError as e:
                klog.error("Error updating node status, will retry: %s", e)
        return self.shutdown()

    def shutdown(self):
        klog.info("Shutting down k3s agent (signal received)")
        return 0


def run(o, environ):
    return Agent(o, environ).run()
