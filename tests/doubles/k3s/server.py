"""`k3s server` for the kubeforge test double (SQLite mode first)."""
import base64
import grp
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import tarfile
import tempfile
import threading
import time

import hashlib
import sqlite3
from typing import Optional, Union

from common import netaddr, nodes

from . import api as apimod
from . import clientaccess, etcd, kine, klog, nodepassword, pki, rbac, tokens, version
from . import snapshot as snapshotmod
from .state import Conflict, Store, Unavailable, now_rfc3339

CGROUP_ROOT_ENV = "KUBEFORGE_DOUBLE_CGROUP_ROOT"  # TEST HOOK ONLY (unit tests)
NODE_GRACE_ENV = "KUBEFORGE_DOUBLE_NODE_GRACE"  # TEST HOOK ONLY: node-monitor-grace-period seconds (40)
NODE_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
EGRESS_MODES = ("agent", "cluster", "pod", "disabled")
FLANNEL_BACKENDS = ("vxlan", "host-gw", "wireguard-native", "none")
_GO_FALSE = ("0", "f", "F", "false", "FALSE", "False")
# K3s pkg/etcd: the role label of servers on embedded etcd and the annotations naming their etcd member
ETCD_ROLE_LABEL = "node-role.kubernetes.io/etcd"
ETCD_NODE_NAME_ANNOTATION = "etcd.k3s.cattle.io/node-name"
ETCD_NODE_ADDRESS_ANNOTATION = "etcd.k3s.cattle.io/node-address"
# K3s getBootstrapKeyFromStorage (pkg/cluster/storage.go)
BOOTSTRAP_DIFFERENT_TOKEN = "bootstrap data already found and encrypted with different token"
# K3s Bootstrap (pkg/cluster/bootstrap.go): an embedded etcd member reconciles with its own data before it starts
RECONCILE_ETCD_FAILED = "Failed to reconcile with temporary etcd: "


def node_labels_and_taints(o):
    """The node-label and node-taint flags as a kubelet reads them (fatal on bad syntax)."""
    labels = {}
    for l in o["node-label"]:
        k, sep, v = l.partition("=")
        if not sep or not k:
            klog.fatal("failed to validate kubelet flags: invalid node labels: %s must be in the form key=value", l)
        labels[k] = v
    taints = []
    for t in o["node-taint"]:
        taint = nodes.parse_taint(t)
        if taint is None:
            klog.fatal("failed to validate kubelet flags: invalid taint spec: %s", t)
        taints.append(taint)
    return labels, taints


def default_data_dir():
    if os.geteuid() == 0:
        return "/var/lib/rancher/k3s"
    return os.path.join(os.path.expanduser("~"), ".rancher", "k3s")


def default_kubeconfig():
    if os.geteuid() == 0:
        return "/etc/rancher/k3s/k3s.yaml"
    return os.path.join(os.path.expanduser("~"), ".kube", "k3s.yaml")


# ---------------------------------------------------------------------------
# validations (K3s's own startup checks, pkg/cli/server)

def _parse_cidrs(values, what):
    nets = []
    for v in values:
        try:
            nets.append(ipaddress.ip_network(v, strict=False))
        except ValueError:
            klog.fatal("invalid %s %s: invalid CIDR address: %s", what, v, v)
        if "/" not in v:
            klog.fatal("invalid %s %s: invalid CIDR address: %s", what, v, v)
    return nets


def _families(items):
    return sorted({x.version for x in items})


def validate_port_range(s):
    def bad(reason):
        klog.fatal("invalid port range %s: %s", s, reason)
    s = s.strip()
    if not s:
        bad("empty port range")
    if "+" in s:
        a, _, off = s.partition("+")
        if not (a.isdigit() and off.isdigit()):
            bad("unable to parse port range: %s" % s)
        base, size = int(a), int(off) + 1
    elif "-" in s:
        a, _, b = s.partition("-")
        if not (a.isdigit() and b.isdigit()):
            bad("unable to parse port range: %s" % s)
        base, size = int(a), int(b) - int(a) + 1
    else:
        if not s.isdigit():
            bad("unable to parse port range: %s" % s)
        base, size = int(s), 1
    if size < 1 or base < 0 or base + size - 1 > 65535:
        bad("range %s is not valid" % s)
    return base, size


def validate(o, environ):
    """Fatal on invalid flag combinations; returns derived network config."""
    if o["cluster-reset-restore-path"] and not o["cluster-reset"]:
        klog.fatal("invalid flag use; --cluster-reset required with --cluster-reset-restore-path")
    if o["disable-etcd"] and not o["server"]:
        klog.fatal("invalid flag use; --server is required with --disable-etcd")
    if o["datastore-endpoint"] and o["disable-apiserver"]:
        klog.fatal("invalid flag use; cannot use --disable-apiserver with --datastore-endpoint")
    if o["datastore-endpoint"] and o["disable-etcd"]:
        klog.fatal("invalid flag use; cannot use --disable-etcd with --datastore-endpoint")
    if o["cluster-reset"] and o["server"]:
        klog.fatal("cannot perform cluster-reset while server URL is set - remove server from configuration before resetting")
    if o["server"]:
        scheme = o["server"].split("://", 1)[0] if "://" in o["server"] else ""
        if scheme != "https":
            klog.fatal("only https:// URLs are supported, invalid scheme: %s", o["server"])
    for key in ("token", "agent-token"):
        if o[key]:
            try:
                tokens.parse(o[key])
            except tokens.TokenError as e:
                klog.fatal("failed to normalize server token; must be in format K10<CA-HASH>::<USERNAME>:<PASSWORD> or <PASSWORD>: %s" % e
                           if key == "token" else "failed to normalize agent token: %s" % e)

    cluster_cidrs = _parse_cidrs(o["cluster-cidr"] or ["10.42.0.0/16"], "cluster-cidr")
    service_cidrs = _parse_cidrs(o["service-cidr"] or ["10.43.0.0/16"], "service-cidr")
    if o["cluster-dns"]:
        dns = []
        for v in o["cluster-dns"]:
            try:
                dns.append(ipaddress.ip_address(v))
            except ValueError:
                klog.fatal("invalid cluster-dns address %s", v)
    else:
        dns = [n.network_address + 10 for n in service_cidrs]
    validate_port_range(o["service-node-port-range"])
    if o["egress-selector-mode"] not in EGRESS_MODES:
        klog.fatal("invalid egress-selector-mode %s", o["egress-selector-mode"])
    fb = o["flannel-backend"]
    if fb in ("ipsec", "wireguard"):
        klog.fatal("The %s backend was deprecated and has been removed from k3s; please switch to wireguard-native. Check our docs for information on how to migrate.", fb)
    if fb not in FLANNEL_BACKENDS:
        klog.fatal("invalid flannel backend: %s; supported backends are %s", fb, ", ".join(FLANNEL_BACKENDS))

    node_ips = []
    for v in o["node-ip"]:
        try:
            node_ips.append(ipaddress.ip_address(v))
        except ValueError:
            klog.fatal("invalid node-ip %s", v)
    for v in o["node-external-ip"]:
        try:
            ipaddress.ip_address(v)
        except ValueError:
            klog.fatal("invalid node-external-ip %s", v)
    cc = ",".join(str(n) for n in cluster_cidrs)
    sc = ",".join(str(n) for n in service_cidrs)
    if _families(cluster_cidrs) != _families(service_cidrs):
        klog.fatal("cluster-cidr: %s and service-cidr: %s, must share the same IP version (IPv4, IPv6 or dual-stack)", cc, sc)
    if node_ips and not set(_families(cluster_cidrs)) <= set(_families(node_ips)):
        klog.fatal("node-ip: %s, cluster-cidr: %s and service-cidr: %s, must share the same IP version (IPv4, IPv6 or dual-stack)",
                   ",".join(str(i) for i in node_ips), cc, sc)
    for v in o["advertise-address"] and [o["advertise-address"]] or []:
        try:
            ipaddress.ip_address(v)
        except ValueError:
            klog.fatal("invalid advertise-address %s", v)
    return {"cluster_cidrs": cluster_cidrs, "service_cidrs": service_cidrs, "dns": dns, "node_ips": node_ips}


def cgroup_guard(o, environ):
    if version.MINOR < 35:
        return
    root = environ.get(CGROUP_ROOT_ENV) or "/sys/fs/cgroup"
    if os.path.exists(os.path.join(root, "cgroup.controllers")):
        return
    for arg in o["kubelet-arg"]:
        k, _, v = arg.partition("=")
        if k == "fail-cgroupv1" and v in _GO_FALSE:
            return
    klog.fatal("kubelet exited: failed to run Kubelet: kubelet is configured to not run on a host using cgroup v1. "
               "cgroup v1 support is unsupported and will be removed in a future release")


# ---------------------------------------------------------------------------

def detect_ipv4():
    ip = netaddr.routed_ipv4()
    if ip:
        return ip
    try:
        ip = socket.gethostbyname(socket.gethostname())
        if not ip.startswith("127."):
            return ip
    except OSError:
        pass
    return "127.0.0.1"


def sd_notify(msg, environ):
    addr = environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.connect(addr)
        s.sendall(msg.encode())
    except OSError as e:
        klog.warn("Failed to notify systemd: %s", e)
        return False
    finally:
        s.close()
    return True


def read_token_file(path, what="token"):
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError as e:
        klog.fatal("failed to read %s file: %s", what, e)


def _write(path, data, mode):
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _symlink(target, link):
    if os.path.islink(link) and os.readlink(link) == target:
        return
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(target, link)


class K3sServer:
    def __init__(self, o, source, environ):
        self.o = o
        self.source = source
        self.environ = environ
        self.stop = threading.Event()
        self._deferred = set()  # K3s deferredNodes: nodes whose password check waits for the store
        self._deferred_lock = threading.Lock()

    # -- paths -------------------------------------------------------------
    def setup_paths(self):
        dd = self.o["data-dir"] or default_data_dir()
        self.data_dir = os.path.abspath(os.path.expanduser(dd))
        self.sdir = os.path.join(self.data_dir, "server")
        self.tls = os.path.join(self.sdir, "tls")
        self.cred = os.path.join(self.sdir, "cred")
        self.dbdir = os.path.join(self.sdir, "db")
        for d in (self.sdir, self.tls, self.cred, self.dbdir, os.path.join(self.sdir, "manifests"),
                  os.path.join(self.data_dir, "agent")):
            os.makedirs(d, exist_ok=True)
        os.chmod(self.sdir, 0o700)

    def tlsf(self, name):
        return os.path.join(self.tls, name)

    # -- PKI ---------------------------------------------------------------
    def cluster_cas(self):
        """(path under server/tls without extension, CN prefix) of the cluster CAs: what the bootstrap data carry."""
        cas = [("server-ca", "k3s-server-ca"), ("client-ca", "k3s-client-ca"),
               ("request-header-ca", "k3s-request-header-ca")]
        if self.etcd_mode:
            cas += [("etcd/server-ca", "etcd-server-ca"), ("etcd/peer-ca", "etcd-peer-ca")]
        return cas

    def ensure_cas(self):
        made = False
        for base, prefix in self.cluster_cas():
            crt, key = self.tlsf(base + ".crt"), self.tlsf(base + ".key")
            if not (os.path.exists(crt) and os.path.exists(key)):
                pki.make_ca(crt, key, prefix)
                made = True
        self.ca_hash = pki.file_sha256(self.tlsf("server-ca.crt"))
        return made

    def ensure_serving_cert(self, net):
        o = self.o
        hostname = socket.gethostname()
        dns = ["kubernetes", "kubernetes.default", "kubernetes.default.svc",
               "kubernetes.default.svc." + o["cluster-domain"], "localhost", hostname, self.node_name]
        ips = ["127.0.0.1", "::1"] + [str(n.network_address + 1) for n in net["service_cidrs"]]
        ips += [str(i) for i in self.node_ips]
        if o["advertise-address"]:
            ips.append(o["advertise-address"])
        d2, i2 = pki.split_sans(o["tls-san"])
        dns_l, ip_l = pki.split_sans(dns + d2 + ips + i2)
        want = {"dns": sorted(dns_l), "ip": sorted(ip_l)}
        crt, key = self.tlsf("serving-kube-apiserver.crt"), self.tlsf("serving-kube-apiserver.key")
        sanfile = self.tlsf("serving-kube-apiserver.sans.json")
        have = None
        if os.path.exists(sanfile) and os.path.exists(crt):
            with open(sanfile) as fh:
                have = json.load(fh)
        if have != want:
            if have is not None:
                klog.info("Updating TLS secret for kube-system/k3s-serving (count: %d): %s", len(dns_l) + len(ip_l),
                          " ".join(["listener.cattle.io/cn-%s=%s" % (x, x) for x in dns_l + ip_l]))
            pki.make_leaf(crt, key, self.tlsf("server-ca.crt"), self.tlsf("server-ca.key"),
                          "/O=k3s/CN=kube-apiserver", dns_l, ip_l, server=True)
            with open(sanfile, "w") as fh:
                json.dump(want, fh)
        if not (os.path.exists(self.tlsf("client-admin.crt")) and os.path.exists(self.tlsf("client-admin.key"))):
            pki.make_leaf(self.tlsf("client-admin.crt"), self.tlsf("client-admin.key"),
                          self.tlsf("client-ca.crt"), self.tlsf("client-ca.key"),
                          "/O=system:masters/CN=system:admin", client=True)

    # -- tokens ------------------------------------------------------------
    def setup_tokens(self):
        o = self.o
        raw = o["token"]
        if not raw and o["token-file"]:
            raw = read_token_file(o["token-file"])
            if not raw:
                klog.fatal("failed to normalize server token; must be in format K10<CA-HASH>::<USERNAME>:<PASSWORD> or <PASSWORD>: token must not be empty")
        given = None
        if raw:
            try:
                given = tokens.parse(raw)
            except tokens.TokenError as e:
                klog.fatal("failed to normalize server token; must be in format K10<CA-HASH>::<USERNAME>:<PASSWORD> or <PASSWORD>: %s", e)
            if given.ca_hash and given.ca_hash != self.ca_hash:
                klog.fatal("token CA hash does not match the Cluster CA certificate hash: %s != %s",
                           given.ca_hash, self.ca_hash)
        tfile = os.path.join(self.sdir, "token")
        existing = None
        if os.path.exists(tfile):
            with open(tfile) as fh:
                try:
                    existing = tokens.parse(fh.read().strip())
                except tokens.TokenError:
                    existing = None
        if existing and given and existing.password != given.password:
            klog.fatal("starting kubernetes: preparing server: failed to normalize server token: "
                       "bootstrap data already found and encrypted with different token")
        if given:
            pw = given.password
        elif existing:
            pw = existing.password
        else:
            pw = tokens.random_password()
        self.password = pw
        _write(tfile, "K10%s::server:%s\n" % (self.ca_hash, pw), 0o600)
        _symlink("token", os.path.join(self.sdir, "node-token"))
        araw = o["agent-token"]
        if not araw and o["agent-token-file"]:
            araw = read_token_file(o["agent-token-file"], "agent token")
        afile = os.path.join(self.sdir, "agent-token")
        if araw:
            at = tokens.parse(araw)
            if at.ca_hash and at.ca_hash != self.ca_hash:
                klog.fatal("token CA hash does not match the Cluster CA certificate hash: %s != %s",
                           at.ca_hash, self.ca_hash)
            self.agent_password = at.password
            if os.path.islink(afile):
                os.remove(afile)
            _write(afile, "K10%s::node:%s\n" % (self.ca_hash, at.password), 0o600)
        else:
            self.agent_password = pw
            _symlink("token", afile)
        _write(os.path.join(self.cred, "passwd"),
               "%s,server,server,k3s:server\n%s,node,node,k3s:agent\n" % (pw, self.agent_password), 0o600)

    # -- node ----------------------------------------------------------------
    def setup_node_identity(self, net):
        o = self.o
        name = o["node-name"] or socket.gethostname()
        name = name.lower()
        if o["with-node-id"]:
            # the embedded agent's ensureNodeID: /etc/rancher/node/id, as for an agent
            name = "%s-%s" % (name, nodepassword.ensure_node_id(self.environ))
        self.node_name = name
        self.node_ips = net["node_ips"] or [ipaddress.ip_address(detect_ipv4())]

    # -- node passwords (K3s pkg/nodepassword, pkg/cluster/managed.go) ----------------------------------
    def own_node_password(self, store):
        """The embedded agent's node password.  Its file is made (or read) as by any agent; the supervisor
        verifies the server's own node against that file, not the Secret (K3s verifyLocalPassword: the agent
        asks before the server's core is up), so a server is never refused by itself, and ensures the Secret in
        the background, which only records an Event.  After a cluster reset (reset-flag; a restore onto new
        hosts too) the own node's Secret is deleted first (K3s deleteNodePasswdSecret), so the Secret then
        ensured holds this host's password."""
        pw = nodepassword.ensure_password(self.environ)
        if self.after_reset:
            try:
                if not nodepassword.delete(store, self.node_name):
                    klog.debug("node password secret is not found for node %s", self.node_name)
            except Unavailable as e:
                klog.warn("failed to delete old node password secret: %s", e)
        # K3s hashes the file and verifies the header against that hash; the double compares them (same outcome)
        klog.info("Password verified locally for node %s", self.node_name)
        self.ensure_node_secret(store, self.node_name, pw)

    def ensure_node_secret(self, store, node, pw):
        """K3s ensureSecret: ensure the node's Secret (create it, or verify it) now and, while the store cannot
        answer, every 5 s.  Informational: the result is only an Event on the Node (NodePasswordValidationFailed
        for another password, NodePasswordValidationComplete otherwise)."""
        def attempt():
            try:
                nodepassword.ensure(store, node, pw)
            except nodepassword.VerifyFailed as e:
                msg = "Deferred node password secret validation failed: %s" % e
                klog.warn("%s", msg)  # the double's own log line; K3s records the Event only
                self.node_event(store, node, "Warning", "NodePasswordValidationFailed", msg)
                return True
            except Exception as e:  # no quorum, an unreachable datastore: K3s retries
                klog.debug("Deferred node password secret validation for %s: %s", node, e)
                return False
            self.node_event(store, node, "Normal", "NodePasswordValidationComplete",
                            "Deferred node password secret validation complete")
            return True
        if attempt():
            return

        def loop():
            while not self.stop.wait(5):
                if attempt():
                    return
        threading.Thread(target=loop, daemon=True).start()

    def node_event(self, store, node, typ, reason, message):
        """An Event on the Node from K3s's supervisor event recorder (component ``k3s-supervisor``)."""
        now = now_rfc3339()
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"name": "%s.%x" % (node, time.time_ns()), "namespace": "default"},
              "involvedObject": {"kind": "Node", "name": node, "uid": node},
              "reason": reason, "message": message, "type": typ, "count": 1,
              "source": {"component": "k3s-supervisor"}, "firstTimestamp": now, "lastTimestamp": now,
              "reportingComponent": "k3s-supervisor", "reportingInstance": ""}
        try:
            store.create("events", ev, "default")
        except Exception as e:  # pragma: no cover - an Event is best effort, as with client-go's recorder
            klog.debug("Failed to record event %s for node %s: %s", reason, node, e)

    def node_auth(self, h):
        """K3s's node auth validator (pkg/nodepassword validate.go, GetNodeAuthValidator) for the kubelet
        certificate routes: (node name, None) or (None, error reply).  The request authenticates with the token
        (Basic ``node:``/``server:``; node-identity auth with a kubelet client certificate is not modelled);
        ``K3s-Node-Name`` and ``K3s-Node-Password`` are required (400); the password is checked against the
        node's Secret, which is created when missing, whether or not the Node exists (K3s checks the Node only
        under node-identity auth): another password is a 403.  A store that cannot answer lets the request
        through and checks later (K3s verifyRemotePassword)."""
        if not self.basic_user(h):
            return None, (401, "text/plain", "Unauthorized\n")
        node = (h.headers.get(nodepassword.NODE_NAME_HEADER) or "").strip().lower()
        pw = h.headers.get(nodepassword.NODE_PASSWORD_HEADER) or ""
        if not node:
            return None, self.supervisor_error(h, 400, "node name not set")
        if not pw:
            return None, self.supervisor_error(h, 400, "node password not set")
        if not NODE_NAME_RE.match(node) or len(node) > 253:
            return None, (400, "text/plain", "invalid node name %r\n" % node)
        try:
            nodepassword.ensure(self.api.store, node, pw)
        except nodepassword.VerifyFailed as e:
            return None, self.supervisor_error(h, 403, str(e))
        except Exception as e:  # the store cannot answer: fail open, verify in the background
            klog.debug("Node password verification for %s failed: %s", node, e)
            with self._deferred_lock:
                first = node not in self._deferred
                self._deferred.add(node)
            if first:
                klog.info("Password verification deferred for node %s", node)
                self.ensure_node_secret(self.api.store, node, pw)
        return node, None

    def supervisor_error(self, h, code, message):
        """K3s util.SendError: the error line, and a Status body."""
        reason = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden"}.get(code, "InternalError")
        klog.error("Sending HTTP/1.1 %d response to %s:%d: %s", code, h.client_address[0], h.client_address[1],
                   message)
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
                "reason": reason, "code": code}
        return code, "application/json", json.dumps(body)

    def remove_node_password(self, node):
        """A deleted Node's Secret goes with it (K3s: the node controller's onRemove; since the November 2025
        releases the garbage collector, through the Secret's ownerReference to the Node)."""
        try:
            nodepassword.delete(self.api.store, node)
        except Unavailable as e:
            klog.warn("Unable to remove node password: %s", e)

    def register_node(self, store):
        o = self.o
        arch = version.arch()
        existing = store.get("nodes", self.node_name)
        ips = [str(i) for i in self.node_ips]
        addresses = [{"type": "InternalIP", "address": ip} for ip in ips]
        addresses += [{"type": "ExternalIP", "address": ip} for ip in o["node-external-ip"]]
        addresses.append({"type": "Hostname", "address": self.node_name})
        now = now_rfc3339()
        uname = os.uname()
        os_image = nodes.os_image()
        status = {
            "addresses": addresses,
            "capacity": {"cpu": str(os.cpu_count() or 1), "memory": "2048Mi", "pods": "110", "ephemeral-storage": "10Gi"},
            "allocatable": {"cpu": str(os.cpu_count() or 1), "memory": "2048Mi", "pods": "110", "ephemeral-storage": "10Gi"},
            "conditions": [
                {"type": t, "status": "False", "reason": "Kubelet" + r, "message": m,
                 "lastHeartbeatTime": now, "lastTransitionTime": now}
                for t, r, m in (("MemoryPressure", "HasSufficientMemory", "kubelet has sufficient memory available"),
                                ("DiskPressure", "HasNoDiskPressure", "kubelet has no disk pressure"),
                                ("PIDPressure", "HasSufficientPID", "kubelet has sufficient PID available"))
            ] + [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                  "message": "kubelet is posting ready status", "lastHeartbeatTime": now, "lastTransitionTime": now}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"architecture": arch, "bootID": "", "containerRuntimeVersion": "containerd://2.0.5-k3s1",
                         "kernelVersion": uname.release, "kubeProxyVersion": version.VERSION,
                         "kubeletVersion": version.VERSION, "machineID": "", "operatingSystem": "linux",
                         "osImage": os_image, "systemUUID": ""},
        }
        annotations = {"k3s.io/hostname": socket.gethostname(), "k3s.io/internal-ip": ",".join(ips),
                       "flannel.alpha.coreos.com/public-ip": ips[0],
                       "flannel.alpha.coreos.com/backend-type": o["flannel-backend"],
                       "node.alpha.kubernetes.io/ttl": "0",
                       "volumes.kubernetes.io/controller-managed-attach-detach": "true"}
        if self.cluster is not None:
            # K3s's etcd metadata controller: the etcd member name (<node>-<8 hex>) and the host of its peer URL
            annotations[ETCD_NODE_NAME_ANNOTATION] = self.cluster.name
            annotations[ETCD_NODE_ADDRESS_ANNOTATION] = self.etcd_address
        if existing is None:
            labels = {"kubernetes.io/arch": arch, "beta.kubernetes.io/arch": arch,
                      "kubernetes.io/os": "linux", "beta.kubernetes.io/os": "linux",
                      "kubernetes.io/hostname": self.node_name,
                      "node-role.kubernetes.io/control-plane": "true",
                      "node-role.kubernetes.io/master": "true",
                      "node.kubernetes.io/instance-type": "k3s"}
            if self.etcd_mode:
                labels[ETCD_ROLE_LABEL] = "true"
            extra_labels, taints = node_labels_and_taints(o)
            labels.update(extra_labels)
            cidr = self.net["cluster_cidrs"][0]
            pod_cidr = str(next(cidr.subnets(new_prefix=24 if cidr.version == 4 else 64)))
            node = {"metadata": {"name": self.node_name, "labels": labels, "annotations": annotations},
                    "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr], "providerID": "k3s://" + self.node_name},
                    "status": status}
            if taints:
                node["spec"]["taints"] = taints
            store.create("nodes", node)
            klog.info("Registered node %s", self.node_name)
        else:
            existing.setdefault("metadata", {}).setdefault("annotations", {}).update(annotations)
            old = {c["type"]: c for c in existing.get("status", {}).get("conditions", [])}
            for c in status["conditions"]:
                if c["type"] in old and old[c["type"]].get("status") == c["status"]:
                    c["lastTransitionTime"] = old[c["type"]].get("lastTransitionTime", now)
            existing["status"] = status
            store.update("nodes", existing)
            klog.info("Node %s already registered; labels and taints are not re-applied", self.node_name)

    def heartbeat(self, store):
        while not self.stop.wait(10):
            try:
                node = store.get("nodes", self.node_name)
                if node is None:
                    continue
                now = now_rfc3339()
                for c in node.get("status", {}).get("conditions", []):
                    c["lastHeartbeatTime"] = now
                store.update("nodes", node)
            except Exception as e:  # pragma: no cover
                klog.warn("Failed to update node heartbeat: %s", e)

    # -- kubeconfig ----------------------------------------------------------
    def write_kubeconfig(self):
        o = self.o
        path = o["write-kubeconfig"] or default_kubeconfig()
        is_default = not o["write-kubeconfig"]
        if os.path.islink(path):
            klog.info("Kubeconfig %s is a symlink; not overwriting", path)
            return path
        host = "127.0.0.1"
        ba = o["bind-address"]
        if ba and ba not in ("0.0.0.0", "::"):
            host = ba
        elif self.node_ips and all(i.version == 6 for i in self.node_ips):
            host = "::1"
        if ":" in host:
            host = "[%s]" % host

        def b64(p):
            with open(p, "rb") as fh:
                return base64.b64encode(fh.read()).decode()
        text = ("apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: %s\n"
                "    server: https://%s:%d\n  name: default\ncontexts:\n- context:\n    cluster: default\n"
                "    user: default\n  name: default\ncurrent-context: default\nkind: Config\npreferences: {}\n"
                "users:\n- name: default\n  user:\n    client-certificate-data: %s\n    client-key-data: %s\n"
                % (b64(self.tlsf("server-ca.crt")), host, o["https-listen-port"],
                   b64(self.tlsf("client-admin.crt")), b64(self.tlsf("client-admin.key"))))
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        _write(path, text, 0o600)
        _write(os.path.join(self.cred, "admin.kubeconfig"), text, 0o600)
        mode_s = o["write-kubeconfig-mode"]
        if mode_s:
            try:
                mode = int(mode_s, 8)
                if mode < 0 or mode > 0o7777:
                    raise ValueError
                os.chmod(path, mode)
            except ValueError:
                klog.error("Failed to set %s to mode %s: strconv.ParseInt: parsing %s: invalid syntax",
                           path, mode_s, json.dumps(mode_s))
        if o["write-kubeconfig-group"]:
            g = o["write-kubeconfig-group"]
            try:
                gid = int(g) if g.isdigit() else grp.getgrnam(g).gr_gid
                os.chown(path, -1, gid)
            except (KeyError, OSError) as e:
                klog.error("Failed to set %s to group %s: %s", path, g, e)
        klog.info("Wrote kubeconfig %s", path)
        if is_default:
            klog.info("Run: k3s kubectl")
        return path

    # -- airgap ----------------------------------------------------------------
    def import_images(self):
        d = os.path.join(self.data_dir, "agent", "images")
        if not os.path.isdir(d):
            return
        for name in sorted(os.listdir(d)):
            full = os.path.join(d, name)
            if ".tar" not in name or not os.path.isfile(full):
                continue
            klog.info("Importing images from %s", full)
            t0 = time.time()
            try:
                if name.endswith((".tar.zst", ".tar.zstd")):
                    with open(full, "rb") as fh:
                        if fh.read(4) != b"\x28\xb5\x2f\xfd":
                            raise tarfile.ReadError("not a zstd archive")
                else:
                    with tarfile.open(full, "r:*") as tf:
                        tf.getmembers()
            except (tarfile.TarError, OSError, EOFError) as e:
                klog.error("Failed to import images from %s: %s", full, e)
                continue
            klog.info("Imported images from %s in %s", full, "%.3fs" % (time.time() - t0))

    # -- auth ------------------------------------------------------------------
    def authenticate(self, handler):
        """A client certificate of the client CA (user = CN, groups = O), the server token as a bearer
        token (user ``server``, group ``k3s:server``, as in K3s's ``cred/passwd``), or a ServiceAccount
        token (api.APIServer.service_account_user)."""
        subj = handler.client_cert_subject()
        if subj and subj.get("commonName"):
            return rbac.User(subj["commonName"][0], subj.get("organizationName", []))
        auth = handler.headers.get("Authorization") or ""
        if auth.startswith("Bearer "):
            tok = auth[7:].strip()
            server = rbac.User("server", ("k3s:server",))
            if secrets.compare_digest(tok, self.password):
                return server
            try:
                t = tokens.parse(tok)
                if t.password and secrets.compare_digest(t.password, self.password):
                    return server
            except tokens.TokenError:
                pass
            return self.api.service_account_user(tok)
        return None

    def basic_user(self, handler):
        auth = handler.headers.get("Authorization") or ""
        if not auth.startswith("Basic "):
            return None
        try:
            user, _, pw = base64.b64decode(auth[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        if user == "server" and secrets.compare_digest(pw, self.password):
            return "server"
        if user == "node" and (secrets.compare_digest(pw, self.agent_password)
                               or secrets.compare_digest(pw, self.password)):
            return "node"
        return None

    # -- authorizers in front of RBAC / node lifecycle (read-time) ---------------
    def authorize(self, a: rbac.Attributes) -> Optional[Union[bool, str]]:
        """What K3s's API allows before RBAC (api.APIServer's ``authorize`` hook): the ``server`` user
        anything; for ``system:node:<n>`` the Node authorizer + NodeRestriction, roughly: reads of
        anything (the real one limits Secrets, ConfigMaps and the like to what the node's Pods use),
        writes of its own Node (a create by its body's name) and of events; other requests of a node,
        and everyone else's, are RBAC's."""
        if a.user == "server":
            return True
        if not a.user.startswith("system:node:"):
            return None
        if a.verb in rbac.READ_VERBS:
            return True
        node = a.user[len("system:node:"):]
        if a.resource_request and not a.api_group and a.resource == "nodes":
            name = a.name or a.object_name
            if name != node:
                return 'nodes "%s" is forbidden: node "%s" is not allowed to modify node "%s"' % (name, node, name)
            return True
        return True if a.resource_request and not a.api_group and a.resource == "events" else None

    def on_delete(self, resource, obj, delete):
        """K3s's managed-etcd-controller OnRemove handler (pkg/etcd/member_controller.go), run synchronously
        in the DELETE: a Node with the etcd role label loses its etcd member (RemovePeer(name, address) from
        its annotations) before it goes.  Every deleted Node also loses its node-password Secret
        (remove_node_password).  Real K3s holds the Node behind the controller's finalizer and retries
        a failed removal while the Node stays; here a failure (no quorum: ``etcdserver: request timed out``,
        or a missing annotation) fails the DELETE with a 500 and the Node stays.  Removing this server's own
        member deletes the Node first, while this server can still write."""
        md = obj.get("metadata") or {}
        if resource == "nodes":
            plain = delete

            def delete():
                plain()
                self.remove_node_password(md.get("name", ""))
        if resource != "nodes" or self.cluster is None or ETCD_ROLE_LABEL not in (md.get("labels") or {}):
            return delete()
        node = md.get("name", "")
        klog.info("Removing etcd member %s from cluster", node)
        ann = md.get("annotations") or {}

        def failed(err):
            klog.error("error syncing '%s': handler managed-etcd-controller: %s, requeuing", node, err)
            raise Unavailable(err)
        if ETCD_NODE_NAME_ANNOTATION not in ann:
            failed("node name annotation for node %s not found" % node)
        if ETCD_NODE_ADDRESS_ANNOTATION not in ann:
            failed("node address annotation for node %s not found" % node)
        name, address = ann[ETCD_NODE_NAME_ANNOTATION], ann[ETCD_NODE_ADDRESS_ANNOTATION]
        own = name == self.cluster.name
        if own:
            delete()
        try:
            self.cluster.remove_member(name, address)
        except Unavailable as e:
            failed(str(e))
        if not own:
            delete()

    def node_grace(self):
        try:
            return float(self.environ.get(NODE_GRACE_ENV) or 40)
        except ValueError:
            return 40.0

    def present(self, resource, obj):
        """Nodes whose Ready heartbeat is older than the grace period are shown
        like the node lifecycle controller marks them (conditions Unknown,
        unreachable taints); computed at read time, never stored."""
        if resource != "nodes":
            return obj
        return nodes.present_unreachable(obj, self.node_grace())

    def kubelet_client_cert(self, node):
        """Sign a kubelet client cert (CN system:node:<n>, O system:nodes) with
        the client CA; returns cert PEM + client CA PEM + key PEM."""
        d = tempfile.mkdtemp(prefix="kubelet-", dir=self.tls)
        try:
            crt, key = os.path.join(d, "c.crt"), os.path.join(d, "c.key")
            pki.make_leaf(crt, key, self.tlsf("client-ca.crt"), self.tlsf("client-ca.key"),
                          "/O=system:nodes/CN=system:node:%s" % node, client=True)
            with open(crt) as a, open(self.tlsf("client-ca.crt")) as b, open(key) as c:
                return a.read() + b.read() + c.read()
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def kubelet_serving_cert(self, node, ips):
        """Sign a kubelet serving cert (CN <n>, SANs <n>, localhost, 127.0.0.1 and the K3s-Node-IP addresses)
        with the server CA; returns cert PEM + server CA PEM + key PEM."""
        d = tempfile.mkdtemp(prefix="kubelet-", dir=self.tls)
        try:
            crt, key = os.path.join(d, "s.crt"), os.path.join(d, "s.key")
            pki.make_leaf(crt, key, self.tlsf("server-ca.crt"), self.tlsf("server-ca.key"), "/CN=%s" % node,
                          [node, "localhost"], list(dict.fromkeys(["127.0.0.1"] + ips)), server=True)
            with open(crt) as a, open(self.tlsf("server-ca.crt")) as b, open(key) as c:
                return a.read() + b.read() + c.read()
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def routes(self):
        def ping(h):
            return 200, "text/plain", "pong"

        def cacerts(h):
            with open(self.tlsf("server-ca.crt"), "rb") as fh:
                return 200, "text/plain", fh.read()

        def readyz(h):
            if not self.basic_user(h):
                return 401, "text/plain", "Unauthorized\n"
            return 200, "text/plain", "ok"

        def client_kubelet(h):
            node, err = self.node_auth(h)
            if err:
                return err
            try:
                return 200, "text/plain", self.kubelet_client_cert(node)
            except pki.PKIError as e:
                klog.error("Failed to create kubelet client certificate for %s: %s", node, e)
                return 500, "text/plain", "internal error\n"

        def serving_kubelet(h):
            node, err = self.node_auth(h)
            if err:
                return err
            ips = []
            for v in (h.headers.get(nodepassword.NODE_IP_HEADER) or "").split(","):
                if not v.strip():
                    continue
                try:
                    ips.append(str(ipaddress.ip_address(v.strip())))
                except ValueError:
                    return self.supervisor_error(h, 500, "invalid node IP address %s" % v.strip())
            try:
                return 200, "text/plain", self.kubelet_serving_cert(node, ips)
            except pki.PKIError as e:
                klog.error("Failed to create kubelet serving certificate for %s: %s", node, e)
                return 500, "text/plain", "internal error\n"

        def bootstrap(h):
            if not self.etcd_mode:
                # As in real K3s (k3s-io/k3s issues 2463, 2310), the joiner dies with ".../server-bootstrap: 401 Unauthorized"
                klog.warn("Received HTTP bootstrap request from %s, but embedded etcd is not enabled.",
                          h.client_address[0])
                return 401, "text/plain", "Unauthorized\n"
            if self.basic_user(h) != "server":
                return 401, "text/plain", "Unauthorized\n"
            files = {}
            for sub in ("", "etcd"):
                d = os.path.join(self.tls, sub)
                for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                    if n.endswith((".crt", ".key")) and "ca" in n:
                        with open(os.path.join(d, n)) as fh:
                            files[os.path.join(sub, n) if sub else n] = fh.read()
            boot = {"files": files, "critical": self.critical(), "agentPassword": self.agent_password,
                    "members": self.cluster.members if self.cluster else []}
            return 200, "application/json", json.dumps(boot)
        def db_snapshot(h):
            # `k3s etcd-snapshot` (snapshot.py): only a server on embedded etcd has the route.
            if not self.etcd_mode:
                return 404, "text/plain", "404 page not found\n"
            if self.basic_user(h) != "server":
                return 401, "text/plain", "Unauthorized\n"
            if h.command != "POST":
                return 405, "text/plain", '%s is not supported on resources of kind "snapshot.k3s.cattle.io"\n' % h.command
            n = int(h.headers.get("Content-Length") or 0)
            try:
                request = json.loads((h.rfile.read(n) if n else b"").decode() or "null")
                if not isinstance(request, dict):
                    raise ValueError("json: cannot unmarshal into Go value of type etcd.SnapshotRequest")
                body = snapshotmod.handle(self.api.store, self.sdir, self.node_name, request)
            except (ValueError, UnicodeDecodeError) as e:
                code, body = 500, str(e)
            except snapshotmod.SnapshotError as e:
                code, body = e.code, str(e)
            except (OSError, sqlite3.Error) as e:
                code, body = 500, str(e)
            else:
                return 200, "application/json", snapshotmod.dumps(body)
            klog.error("Sending HTTP %d response to %s: etcd-snapshot: %s", code, h.client_address[0], body)
            return code, "text/plain", body + "\n"

        return {"/ping": ping, "/cacerts": cacerts, "/v1-k3s/readyz": readyz,
                "/v1-k3s/serving-kubelet.crt": serving_kubelet, "/v1-k3s/client-kubelet.crt": client_kubelet,
                "/v1-k3s/server-bootstrap": bootstrap, "/db/snapshot": db_snapshot}

    # -- HA: join and embedded etcd ------------------------------------------------
    def critical(self, net=None):
        """Settings that must match on every server (K3s docs cli/server.md; the collection's
        list is CRITICAL_SERVER_SETTINGS in plugins/module_utils/k3s_config.py)."""
        o, net = self.o, net or self.net
        at = o["agent-token"]
        if not at and o["agent-token-file"]:
            at = read_token_file(o["agent-token-file"], "agent token")
        at_pw = tokens.parse(at).password if at else ""
        if getattr(self, "agent_password", None) is not None and getattr(self, "password", None) is not None:
            at_pw = self.agent_password if self.agent_password != self.password else ""
        return {"agent-token": hashlib.sha256(at_pw.encode()).hexdigest() if at_pw else "",
                "cluster-cidr": ",".join(str(n) for n in net["cluster_cidrs"]),
                "service-cidr": ",".join(str(n) for n in net["service_cidrs"]),
                "cluster-dns": ",".join(str(d) for d in net["dns"]),
                "cluster-domain": o["cluster-domain"],
                "disable-cloud-controller": bool(o["disable-cloud-controller"]),
                "disable-helm-controller": bool(o["disable-helm-controller"]),
                "disable-network-policy": bool(o["disable-network-policy"]),
                "disable=servicelb": "servicelb" in o["disable"],
                "egress-selector-mode": o["egress-selector-mode"],
                "embedded-registry": bool(o["embedded-registry"]),
                "flannel-backend": o["flannel-backend"],
                "flannel-external-ip": bool(o["flannel-external-ip"]),
                "flannel-ipv6-masq": bool(o["flannel-ipv6-masq"]),
                "secrets-encryption": bool(o["secrets-encryption"]),
                "secrets-encryption-provider": o["secrets-encryption-provider"]}

    def join_bootstrap(self, net):
        """Verify the cluster CA like an agent, fetch /v1-k3s/server-bootstrap
        (Basic server:<pw>), compare critical settings, install the cluster CAs."""
        o = self.o
        raw = o["token"] or read_token_file(o["token-file"])
        url = o["server"].rstrip("/")
        pre = "starting kubernetes: preparing server: "
        try:
            tok, bundle = clientaccess.validate(url, raw)
        except tokens.TokenError as e:
            klog.fatal(pre + "failed to normalize server token; must be in format K10<CA-HASH>::<USERNAME>:<PASSWORD> or <PASSWORD>: %s", e)
        except clientaccess.AccessError as e:
            klog.fatal(pre + "failed to validate token: %s", e)
        klog.info("Joining cluster at %s", url)
        try:
            _, data = clientaccess.request(url, "/v1-k3s/server-bootstrap", cadata=bundle,
                                           basic=("server", tok.password))
            boot = json.loads(data.decode())
        except clientaccess.AccessError as e:
            klog.fatal(pre + "failed to get bootstrap data: %s", e)
        except ValueError as e:
            klog.fatal(pre + "failed to decode bootstrap data: %s", e)
        mine = self.critical(net)
        if not (o["agent-token"] or o["agent-token-file"]):
            mine["agent-token"] = boot["critical"].get("agent-token", "")
        for k in sorted(boot["critical"]):
            if mine.get(k) != boot["critical"][k]:
                klog.fatal("starting kubernetes: preparing server: failed to validate server configuration: "
                           "critical configuration value mismatch between servers: %s (this server: %s, cluster: %s)",
                           k, json.dumps(mine.get(k)), json.dumps(boot["critical"][k]))
        self._install_bootstrap(boot, tok.password)
        return boot

    # -- external datastore (kine) ----------------------------------------------
    def _given_password(self):
        o = self.o
        raw = o["token"] or (read_token_file(o["token-file"]) if o["token-file"] else "")
        if not raw:
            tfile = os.path.join(self.sdir, "token")
            if os.path.exists(tfile):
                with open(tfile) as fh:
                    raw = fh.read().strip()
        if not raw:
            return None
        try:
            return tokens.parse(raw).password
        except tokens.TokenError:
            return None  # setup_tokens() reports it

    def _install_bootstrap(self, data, pw, reset=False):
        """Write the cluster CAs of the bootstrap data to disk (K3s ReconcileBootstrapData; the datastore's copy
        always wins: the double keeps no timestamps, so K3s's ``... newer than datastore`` refusal is not
        modelled); leaf certs signed by a CA that changed are re-issued on the next ensure_serving_cert.  With
        ``reset`` (a cluster-reset) the certificate directory is first backed up to ``server/tls-<unix
        seconds>`` when the certificate directories hold anything, as K3s does.  Returns whether a file on disk
        changed."""
        # K3s certDirsExist: cred, tls and tls/etcd present and not empty, else the data are simply written
        dirs = all(os.path.isdir(d) and os.listdir(d) for d in (self.cred, self.tls, self.tlsf("etcd")))
        if reset and dirs:
            backup = os.path.join(self.sdir, "tls-%d" % int(time.time()))
            klog.info("Cluster reset: backing up certificates directory to %s", backup)
            shutil.copytree(self.tls, backup, dirs_exist_ok=True)
        changed = False
        for name, pem in sorted(data["files"].items()):
            path = self.tlsf(name)
            if os.path.exists(path):
                with open(path) as fh:
                    if fh.read() == pem:
                        continue
                if dirs and not reset:
                    klog.warn("%s will be updated from the datastore.", path)
            elif dirs and not reset:
                klog.warn("%s doesn't exist. continuing...", path)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            _write(path, pem, 0o600 if name.endswith(".key") else 0o644)
            changed = True
        if dirs and (changed or reset):
            klog.warn("Updating bootstrap data on disk from datastore")
        if changed:
            for n in ("serving-kube-apiserver.crt", "serving-kube-apiserver.key", "serving-kube-apiserver.sans.json",
                      "client-admin.crt", "client-admin.key"):
                if os.path.exists(self.tlsf(n)):
                    os.remove(self.tlsf(n))
        o = self.o
        if not (o["agent-token"] or o["agent-token-file"]) and data.get("agentPassword") \
                and data["agentPassword"] != pw:
            o["agent-token"] = data["agentPassword"]
        return changed

    def _load_bootstrap(self, pw, blob, net, diff, reset=False):
        """Decrypt one bootstrap entry with the token password (a wrong password: fatal ``diff``) and install it."""
        try:
            data = json.loads(kine.decrypt(pw, blob).decode())
        except ValueError:
            klog.fatal(diff)
        klog.info("Reconciling bootstrap data between datastore and disk")
        changed = self._install_bootstrap(data, pw, reset)
        if not reset:
            mine = self.critical(net)
            for k in sorted(data.get("critical") or {}):
                if k != "agent-token" and mine.get(k) != data["critical"][k]:
                    klog.warn("critical configuration value mismatch between servers: %s (this server: %s, "
                              "cluster: %s)", k, json.dumps(mine.get(k)), json.dumps(data["critical"][k]))
        return changed

    def read_bootstrap(self, store, pw, net, diff, reset=False):
        """K3s getBootstrapKeyFromStorage + ReconcileBootstrapData (pkg/cluster/storage.go, bootstrap.go): the
        entries under /bootstrap/ of ``store``; the one of this token password is installed on disk; entries of
        other passwords only: fatal ``diff``.  Returns None when the store holds no bootstrap data, else whether
        a file on disk changed."""
        rows = store.prefix("/bootstrap/")
        if not rows:
            return None
        key = kine.bootstrap_key(pw) if pw is not None else None
        if key not in rows:
            klog.fatal(diff)
        return self._load_bootstrap(pw, rows[key][2], net, diff, reset)

    def save_bootstrap(self, store, net, diff):
        """K3s Save (pkg/cluster/storage.go): store this server's CAs, the agent-token password and the critical
        settings under /bootstrap/<hash of the token password>, encrypted with it, unless the entry exists: then
        (another server won the race) it is installed, as read_bootstrap does.  Entries of other passwords only:
        fatal ``diff``.  Returns whether a file on disk changed."""
        key = kine.bootstrap_key(self.password)
        rows = store.prefix("/bootstrap/")
        if rows and key not in rows:
            klog.fatal(diff)
        if key not in rows:
            files = {}
            for base, _ in self.cluster_cas():
                for ext in (".crt", ".key"):
                    with open(self.tlsf(base + ext)) as fh:
                        files[base + ext] = fh.read()
            data = {"files": files, "agentPassword": self.agent_password, "critical": self.critical(net)}
            try:
                store.put_new(key, kine.encrypt(self.password, json.dumps(data).encode()))
                klog.info("Saved bootstrap data to the datastore")
                return False
            except Conflict:
                pass
        return self._load_bootstrap(self.password, store.latest(key)[2], net, diff)

    def external_bootstrap(self, store, net):
        """K3s storageBootstrap for an external datastore: the first server stores its CAs encrypted with the
        token under /bootstrap/<hash>; the others load them."""
        diff = "starting kubernetes: preparing server: " + BOOTSTRAP_DIFFERENT_TOKEN
        found = self.read_bootstrap(store, self._given_password(), net, diff) is not None
        self.ensure_cas()
        self.setup_tokens()
        if not found and self.save_bootstrap(store, net, diff):
            self.ensure_cas()
            self.setup_tokens()

    def start_etcd(self, etcd_dir, etcd_db):
        o = self.o
        # etcd refuses data whose cluster version is newer than its own, before it opens them (see etcd.py)
        etcd_version = version.etcd_version()
        etcd.check_downgrade(etcd_dir, etcd_version)
        os.makedirs(os.path.dirname(etcd_db), exist_ok=True)
        os.chmod(etcd_dir, 0o700)
        sqlite_db = os.path.join(self.dbdir, "state.db")
        if not os.path.exists(etcd_db) and not self.boot and os.path.exists(sqlite_db):
            klog.info("Migrating content from sqlite to etcd")
            src, dst = sqlite3.connect(sqlite_db), sqlite3.connect(etcd_db)
            try:
                src.backup(dst)
            finally:
                src.close()
                dst.close()
        local = Store(etcd_db)
        peer_port = int(self.environ.get(etcd.PEER_PORT_ENV) or 2380)
        client_port = int(self.environ.get(etcd.CLIENT_PORT_ENV) or 2379)
        host = o["advertise-address"] or str(self.node_ips[0])
        v6 = ":" in host
        peer_url = "http://%s:%d" % ("[%s]" % host if v6 else host, peer_port)
        cluster = etcd.Cluster(local, etcd_dir, self.node_name, peer_url, self.password, version=etcd_version)
        etcd.record_version(etcd_dir, etcd_version)
        self.cluster = cluster
        self.etcd_address = host  # the host of the peer URL: the Node's etcd.k3s.cattle.io/node-address
        bind = "::" if v6 else "0.0.0.0"
        try:
            cluster.serve(bind, peer_port, client_port)
        except OSError as e:
            klog.fatal("starting kubernetes: preparing server: start managed database: listen tcp %s:%d: bind: %s",
                       bind, peer_port, (e.strerror or str(e)).lower())
        if self.boot:
            members = self.boot.get("members") or []
            klog.info("Starting etcd to join cluster with members [%s]",
                      " ".join("%s=%s" % (m["name"], m["peerURL"]) for m in members))
            last = None
            for m in members:
                try:
                    resp = etcd.peer_call(m["peerURL"], "POST", "/members/add", cluster.secret,
                                          {"name": cluster.name, "peerURL": peer_url}, timeout=10)
                except (OSError, ValueError) as e:
                    last = e
                    continue
                local.load(resp["snapshot"])
                cluster.set_members(resp["members"])
                break
            else:
                klog.fatal("starting kubernetes: preparing server: start managed database: joining etcd cluster: %s",
                           last or "no members")
        elif not cluster.members:
            klog.info("Starting etcd for new cluster")
            cluster.set_members([{"name": cluster.name, "peerURL": peer_url}])
        else:
            klog.info("Starting etcd for existing cluster member")
            cluster.sync_from_peers()
            if cluster.removed:
                # its member was removed (its Node deleted): etcd refuses to run it again (wording not verified)
                cluster.close()
                local.close()
                klog.fatal("starting kubernetes: preparing server: start managed database: %s",
                           etcd.ERR_MEMBER_REMOVED)
            if not cluster.wait_quorum(self.stop):
                cluster.close()
                local.close()
                return None
        klog.info("etcd member %s is ready (%d members)", cluster.name, len(cluster.members))
        return etcd.ReplicatedStore(local, cluster)

    def reconcile_etcd(self, etcd_dir, etcd_db, net):
        """K3s Bootstrap for an initialized etcd member that does not join (pkg/cluster/bootstrap.go
        reconcileEtcd): before etcd starts, the bootstrap data in this member's own data are reconciled with the
        disk, so a datastore restored from a snapshot brings back the cluster's CAs.  The double reads its member
        data directly (K3s starts a temporary etcd on a copy).  Returns read_bootstrap's answer."""
        etcd.check_downgrade(etcd_dir, version.etcd_version())  # etcd refuses newer data before it opens them
        local = Store(etcd_db)
        try:
            return self.read_bootstrap(local, self._given_password(), net,
                                       RECONCILE_ETCD_FAILED + BOOTSTRAP_DIFFERENT_TOKEN)
        finally:
            local.close()

    def cluster_reset(self, etcd_dir, etcd_db):
        """``k3s server --cluster-reset [--cluster-reset-restore-path=<snapshot>]`` (K3s pkg/cluster/managed.go
        start, pkg/etcd/etcd.go Reset): restore the snapshot (possibly onto a data dir without etcd: a new host),
        make this member the only one, write reset-flag, then reconcile the bootstrap data of the datastore with
        the disk as K3s's rebootstrap (storageBootstrap) does, and exit 0."""
        o = self.o
        restore_path = o["cluster-reset-restore-path"]
        token_file = os.path.join(self.sdir, "token")
        if restore_path and not (o["token"] or o["token-file"]) and not os.path.exists(token_file):
            klog.fatal("%s does not exist, please pass --token to complete the restoration", token_file)
        if not restore_path and not os.path.isdir(etcd_dir):
            klog.fatal("starting kubernetes: preparing server: cluster-reset requires embedded etcd "
                       "(kubeforge K3s test double: no etcd database in %s)", self.dbdir)
        if restore_path:
            try:
                snapshotmod.restore(restore_path, etcd_dir, etcd_db, self.sdir)
            except snapshotmod.SnapshotError as e:
                klog.fatal("starting kubernetes: preparing server: start managed database: %s", e)
        else:
            etcd.check_downgrade(etcd_dir, version.etcd_version())  # the reset starts the member too
        st = Store(etcd_db) if os.path.exists(etcd_db) else None
        try:
            if st is not None:
                st.set_meta("etcd-members", "[]")  # this member alone forms the cluster on next start
            open(os.path.join(self.dbdir, "reset-flag"), "w").close()
            pw = self._given_password()
            if st is not None and pw is not None:
                # K3s: without a token (flag or server/token) there is nothing to reconcile with yet
                self.read_bootstrap(st, pw, self.net, BOOTSTRAP_DIFFERENT_TOKEN, reset=True)
        finally:
            if st is not None:
                st.close()
        klog.info("Managed etcd cluster membership has been reset, restart without --cluster-reset flag now. "
                  "Backup and delete ${datadir}/server/db on each peer etcd server and rejoin the nodes")
        return 0

    # -- run -------------------------------------------------------------------
    def run(self):
        o = self.o
        klog.DEBUG = bool(o["debug"])
        net = validate(o, self.environ)
        self.net = net
        cgroup_guard(o, self.environ)
        klog.info("Starting k3s %s (%s)", version.VERSION, version.COMMIT)
        self.setup_paths()

        def on_signal(signum, frame):
            self.stop.set()
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.etcd_mode = False
        self.cluster = None
        self.boot = None
        self.after_reset = False
        etcd_dir = os.path.join(self.dbdir, "etcd")
        etcd_db = os.path.join(etcd_dir, "member", "snap", "db")
        ds = o["datastore-endpoint"]
        # As in real K3s (docs datastore/ha-embedded.md), an existing etcd db wins over datastore-endpoint; with an
        # external datastore cluster-init is silently ignored and there is no --server join.
        self.external = bool(ds) and not ds.startswith("sqlite://") and not os.path.exists(etcd_db) \
            and not o["cluster-reset"]
        if self.external:
            try:
                kine.parse_endpoint(ds)
            except kine.DatastoreError as e:
                klog.fatal("starting kubernetes: preparing server: creating storage endpoint: building kine: %s", e)
        if o["server"] and not self.external and not os.path.exists(etcd_db) and not o["cluster-reset"]:
            if not (o["token"] or o["token-file"]):
                klog.fatal("starting kubernetes: preparing server: failed to normalize server token; must be in format K10<CA-HASH>::<USERNAME>:<PASSWORD> or <PASSWORD>: token must not be empty")
            self.boot = self.join_bootstrap(net)
        if o["cluster-reset"]:
            return self.cluster_reset(etcd_dir, etcd_db)
        if not self.external and (o["cluster-init"] or self.boot or os.path.isdir(etcd_dir)):
            self.etcd_mode = True
            os.makedirs(os.path.join(self.dbdir, "etcd"), exist_ok=True)
            rf = os.path.join(self.dbdir, "reset-flag")
            if os.path.exists(rf):
                # K3s cluster.start: after a cluster reset (a restore too), deleteNodePasswdSecret runs before the
                # reset-flag goes (see own_node_password)
                self.after_reset = True
                os.remove(rf)
        self.setup_node_identity(net)
        t0 = time.time()
        ext_store = None
        # an embedded etcd member that did not join through --server keeps the bootstrap data in its etcd
        etcd_bootstrap = self.etcd_mode and self.boot is None
        etcd_found = None
        if self.external:
            tls = {"cafile": o["datastore-cafile"], "certfile": o["datastore-certfile"],
                   "keyfile": o["datastore-keyfile"]}
            ext_store = kine.open_store(ds, tls, self.environ, self.stop)
            self.external_bootstrap(ext_store, net)
        else:
            if etcd_bootstrap and os.path.exists(etcd_db):
                etcd_found = self.reconcile_etcd(etcd_dir, etcd_db, net)
            self.ensure_cas()
            self.setup_tokens()
        self.ensure_serving_cert(net)
        klog.debug("PKI ready in %.2fs", time.time() - t0)
        if ext_store is not None:
            store = ext_store
            klog.info("Kine available at unix://kine.sock")
        elif self.etcd_mode:
            store = self.start_etcd(etcd_dir, etcd_db)
            if store is None:
                return 0
            if etcd_bootstrap and etcd_found is None:
                # K3s Save once etcd is ready (pkg/cluster/cluster.go; K3s panics with the error, the double exits 1
                # with it): no entry in this member's data before it synced with its peers, or a new cluster
                if self.save_bootstrap(store, net, BOOTSTRAP_DIFFERENT_TOKEN):
                    self.ensure_cas()
                    self.setup_tokens()
                    self.ensure_serving_cert(net)
        else:
            store = Store(os.path.join(self.dbdir, "state.db"))
            klog.info("Configuring sqlite3 database connection pooling: maxIdleConns=2, maxOpenConns=0, connMaxLifetime=0s")
            klog.info("Database tables and indexes are up to date")
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            apimod.ensure_namespace(store, ns)
        apimod.ensure_rbac_defaults(store)
        bind = o["bind-address"] or "0.0.0.0"
        port = o["https-listen-port"]
        if not 0 < port < 65536:
            klog.fatal("starting kubernetes: preparing server: listen tcp %s:%d: invalid port", bind, port)
        server_addr = "%s:%d" % (o["advertise-address"] or str(self.node_ips[0]), o["advertise-port"] or port)
        vi = {"major": str(version.MAJOR), "minor": str(version.MINOR), "gitVersion": version.VERSION,
              "gitCommit": version.COMMIT + "0" * 32, "gitTreeState": "clean",
              "buildDate": "2025-01-01T00:00:00Z", "goVersion": version.GO_VERSION, "compiler": "gc",
              "platform": "linux/" + version.arch()}
        self.api = apimod.APIServer(store, vi, self.authenticate, self.routes(), host=bind, port=port,
                                    certfile=self.tlsf("serving-kube-apiserver.crt"),
                                    keyfile=self.tlsf("serving-kube-apiserver.key"),
                                    client_ca=self.tlsf("client-ca.crt"), server_address=server_addr,
                                    authorize=self.authorize, present=self.present, on_delete=self.on_delete,
                                    service_account_key=self.tlsf("server-ca.key"),
                                    root_ca=self.tlsf("server-ca.crt"), managers=("k3s", "k3s"))
        klog.info("Running kube-apiserver --advertise-port=%d --allow-privileged=true --anonymous-auth=false "
                  "--bind-address=%s --secure-port=6444 --service-cluster-ip-range=%s", port, bind,
                  ",".join(str(n) for n in net["service_cidrs"]))
        try:
            self.api.start()
        except OSError as e:
            klog.fatal("starting kubernetes: preparing server: init cluster datastore and https: "
                       "listen tcp %s:%d: bind: %s", bind, port, (e.strerror or str(e)).lower())
        self.import_images()
        self.write_kubeconfig()
        self.own_node_password(store)
        self.register_node(store)
        klog.info("Tunnel server egress proxy mode: %s", o["egress-selector-mode"])
        sd_notify("READY=1\n", self.environ)
        klog.info("k3s is up and running")
        hb = threading.Thread(target=self.heartbeat, args=(store,), daemon=True)
        hb.start()
        while not self.stop.wait(1):
            pass
        klog.info("Shutting down k3s server (signal received)")
        self.api.stop()
        if self.cluster:
            self.cluster.close()
        store.close()
        return 0
