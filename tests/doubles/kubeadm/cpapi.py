"""The control plane that the kubelet double "runs" from its static Pod manifests.

kube-apiserver.yaml -> the K3s double's api.APIServer on --secure-port with
--tls-cert-file/--tls-private-key-file, client certificates checked against
--client-ca-file, bootstrap tokens (Secrets ``bootstrap-token-<id>``) as
bearer tokens, a state.Store in the etcd manifest's --data-dir
(``<data-dir>/member/snap/db``).  What kube-controller-manager does for the
scenarios is folded in: the bootstrap signer (JWS signatures in cluster-info,
computed when read), the CSR signer/approver for kubelet client certificates
(--cluster-signing-cert-file/-key-file) and the node lifecycle view (stale
heartbeats read as Unknown).  kube-controller-manager.yaml and
kube-scheduler.yaml -> HTTPS /healthz, /livez, /readyz on their --secure-port.

etcd.yaml -> a member of the K3s double's simulated etcd (k3s/etcd.py: full
copy of the state per member in ``<data-dir>/member/snap/db``, writes need a
quorum, membership changes through ``/members/add``; not raft).  The member's
identity and listeners come from the manifest: ``--name``,
``--initial-advertise-peer-urls`` (its peer URL), ``--listen-peer-urls`` and
``--listen-client-urls`` (bound on the peer host only), ``--initial-cluster``,
``--initial-cluster-state`` and ``--data-dir``.  The peer protocol is plain
HTTP + JSON whatever the URL scheme says; peers authenticate with a secret
derived from the etcd CA private key (``--peer-trusted-ca-file`` with ``.key``),
which every control plane holds (simplification: real etcd uses mutual TLS
with the etcd/peer certificates).  A member with no local data and
``--initial-cluster-state=existing`` POSTs itself to the other members of
``--initial-cluster`` and loads the returned snapshot; a member with data syncs
from its peers and waits for a quorum before the API server starts.
"""
import base64
import copy
import hashlib
import json
import os
import secrets
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional, Union

from common import nodes, wire

from . import certs, glog, paths, tokens, version, yamlk
from .k3slib import api as apimod
from .k3slib import etcd as etcdmod
from .k3slib import rbac, state

# the static Pods the kubelet double runs in-process (the other manifests only get mirror Pods)
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
NODE_GRACE = 50.0  # kube-controller-manager --node-monitor-grace-period default (1.32+)
CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
CLUSTER_INFO = "/api/v1/namespaces/kube-public/configmaps/cluster-info"


def manifest_command(path):
    """(flags dict, raw pod) of a static Pod manifest; flags of the first container's command."""
    pod = yamlk.safe_load(paths.read_text(path)) or {}
    cmd = pod["spec"]["containers"][0]["command"]
    fl = {}
    for a in cmd[1:]:
        if a.startswith("--"):
            k, _, v = a[2:].partition("=")
            fl[k] = v
    return fl, pod


class ControlPlane:
    def __init__(self, manifests_dir):
        self.dir = manifests_dir
        self.api = None
        self.api_version = version.server_version_info()
        self.store = None
        self.health = {}          # component -> its health server (controller-manager, scheduler)
        self.signer = None
        self.lock = threading.Lock()
        self.started = set()
        # component -> {"hash": manifest hash, "pod": manifest, "started": time} of what runs now
        self.running = {}
        self.etcd = None          # (local Store, etcd.Cluster) once the member runs
        self.etcd_ready = False
        self.etcd_hash, self.etcd_pod = None, None
        self.changed = threading.Event()  # set when a static Pod (re)starts: the mirror Pods follow at once

    # -- authentication / authorization ----------------------------------
    def token_user(self, tok):
        tid, _, sec = tok.partition(".")
        obj = self.store.get("secrets", tokens.SECRET_PREFIX + tid, "kube-system")
        t = tokens.decode_secret(obj)
        if not t or not secrets.compare_digest(t["secret"], sec) or not tokens.valid(t) \
                or "authentication" not in t["usages"]:
            return None
        return rbac.User("system:bootstrap:" + tid, ["system:bootstrappers"] + t["groups"])

    def authenticate(self, handler):
        """A client certificate of --client-ca-file (user = CN, groups = O), a bootstrap token, or a
        ServiceAccount token (api.APIServer.service_account_user)."""
        subj = handler.client_cert_subject()
        if subj and subj.get("commonName"):
            return rbac.User(subj["commonName"][0], subj.get("organizationName", []))
        auth = handler.headers.get("Authorization") or ""
        if auth.startswith("Bearer "):
            tok = auth[7:].strip()
            return self.token_user(tok) or self.api.service_account_user(tok)
        return None

    def authorize(self, a: rbac.Attributes) -> Optional[Union[bool, str]]:
        """What this API allows before RBAC (api.APIServer's ``authorize`` hook; system:masters is let
        through before it).  ``kubeadm:cluster-admins`` (admin.conf, apiserver-kubelet-client) anything:
        the double stands in for the ClusterRoleBinding ``kubeadm:cluster-admins`` -> cluster-admin that
        kubeadm init creates.  ``system:kube-*`` (controller-manager.conf, scheduler.conf) and
        kube-apiserver-kubelet-client anything (their bootstrap roles are not modelled).
        ``system:node:<n>``: the Node authorizer + NodeRestriction, roughly: reads, its own Node (a
        create by its body's name), events and kube-system Pods (mirror Pods).  Bootstrap tokens: reads
        (kubeadm init's Roles for them are not modelled; CSRs are served before this API).  The rest
        is RBAC's."""
        if "kubeadm:cluster-admins" in a.groups or a.user.startswith("system:kube-") \
                or a.user == "kube-apiserver-kubelet-client":
            return True
        if a.user.startswith("system:bootstrap:"):
            return True if a.verb in rbac.READ_VERBS else None
        if not a.user.startswith("system:node:"):
            return None
        if a.verb in rbac.READ_VERBS:
            return True
        node = a.user[len("system:node:"):]
        core = a.resource_request and not a.api_group
        if core and a.resource == "nodes":
            name = a.name or a.object_name
            if name and name != node:
                return 'nodes "%s" is forbidden: node "%s" is not allowed to modify node "%s"' % (name, node, name)
            return True
        return True if core and (a.resource == "events" or (a.resource == "pods" and a.namespace == "kube-system")) \
            else None

    def present(self, resource, obj):
        if resource == "configmaps" and obj.get("metadata", {}).get("name") == "cluster-info" and \
                obj["metadata"].get("namespace") == "kube-public":
            return self.sign_cluster_info(obj)
        if resource != "nodes":
            return obj
        return nodes.present_unreachable(obj, NODE_GRACE)

    def sign_cluster_info(self, obj):
        """bootstrapsigner: jws-kubeconfig-<id> for every valid signing token."""
        obj = copy.deepcopy(obj)
        data = obj.setdefault("data", {})
        kc = data.get("kubeconfig")
        for k in [k for k in data if k.startswith("jws-kubeconfig-")]:
            del data[k]
        if not kc:
            return obj
        for s in self.store.list("secrets", "kube-system"):
            t = tokens.decode_secret(s)
            if t and "signing" in t["usages"] and tokens.valid(t):
                data["jws-kubeconfig-" + t["id"]] = tokens.jws_detached(kc, t["id"], t["secret"])
        return obj

    # -- routes served before authentication --------------------------------
    def routes(self):
        def ok(h):
            if h.command not in ("GET", "HEAD"):
                return 405, "application/json", json.dumps(apimod.status(405, "MethodNotAllowed",
                                                                         "the server does not allow this method on the requested resource"))
            return 200, "text/plain; charset=utf-8", "ok"

        def ver(h):
            return 200, "application/json", json.dumps(self.api_version)

        def cluster_info(h):
            if h.command not in ("GET", "HEAD"):
                user = self.authenticate(h)
                if not user or not ("system:masters" in user.groups or "kubeadm:cluster-admins" in user.groups):
                    return 403, "application/json", json.dumps(apimod.status(
                        403, "Forbidden", 'configmaps "cluster-info" is forbidden: User "%s" cannot %s resource '
                        '"configmaps" in API group "" in the namespace "kube-public"'
                        % (user or "system:anonymous", h.command.lower())))
                return self.passthrough(h)
            obj = self.store.get("configmaps", "cluster-info", "kube-public")
            if obj is None:
                return 404, "application/json", json.dumps(apimod.status(404, "NotFound",
                                                                         'configmaps "cluster-info" not found',
                                                                         {"name": "cluster-info", "kind": "configmaps"}))
            obj = self.sign_cluster_info(obj)
            out = {"kind": "ConfigMap", "apiVersion": "v1"}
            out.update(obj)
            return 200, "application/json", json.dumps(out)

        def csr(h):
            return self.handle_csr(h)
        return {"/livez": ok, "/readyz": ok, "/healthz": ok, "/version": ver, CLUSTER_INFO: cluster_info,
                CSR_PATH: csr}

    def passthrough(self, h):
        """Let the generic API handle an authenticated request on a routed path."""
        h.user = rbac.authenticated(self.authenticate(h))
        code = [None]
        orig = h.send_body

        def capture(c, body, ctype="application/json", headers=None):
            code[0] = (c, ctype, body)
        h.send_body = capture
        try:
            h._api(CLUSTER_INFO)
        finally:
            h.send_body = orig
        c, ctype, body = code[0]
        return c, ctype, json.dumps(body) if isinstance(body, (dict, list)) else body

    def handle_csr(self, h):
        def st(code, reason, msg):
            return code, "application/json", json.dumps(apimod.status(code, reason, msg))
        user = self.authenticate(h)
        if not user:
            return st(401, "Unauthorized", "Unauthorized")
        if h.command != "POST":
            return st(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        n = int(h.headers.get("Content-Length") or 0)
        try:
            body = json.loads(h.rfile.read(n).decode() or "{}")
            req = base64.b64decode(body["spec"]["request"])
        except (ValueError, KeyError, TypeError):
            return st(400, "BadRequest", "error decoding CertificateSigningRequest")
        try:
            subj = certs.csr_subject(req)
        except Exception as e:  # openssl refused the CSR
            return st(422, "Invalid", "CertificateSigningRequest.certificates.k8s.io is invalid: spec.request: "
                                      "Invalid value: []byte{...}: %s" % e)
        cn = (subj.get("CN") or [""])[0]
        orgs = subj.get("O") or []
        is_boot = user.startswith("system:bootstrap:")
        is_node = user.startswith("system:node:")
        if not (is_boot or is_node or "system:masters" in user.groups or "kubeadm:cluster-admins" in user.groups):
            return st(403, "Forbidden", 'certificatesigningrequests.certificates.k8s.io is forbidden: User "%s" '
                                        'cannot create resource "certificatesigningrequests" in API group '
                                        '"certificates.k8s.io" at the cluster scope' % user)
        name = "csr-" + secrets.token_hex(3)
        obj = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
               "metadata": {"name": name, "creationTimestamp": state.now_rfc3339()},
               "spec": {"request": body["spec"]["request"], "signerName": body["spec"].get("signerName", ""),
                        "usages": body["spec"].get("usages", []), "username": str(user),
                        "groups": list(user.groups) + ["system:authenticated"]},
               "status": {}}
        approvable = cn.startswith("system:node:") and orgs == ["system:nodes"] and \
            obj["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet" and \
            (is_boot or (is_node and cn == str(user)))
        if approvable and self.signer:
            try:
                crt = certs.sign_csr(req, self.signer[0], self.signer[1], client=True)
            except Exception as e:
                glog.error("certificate_controller.go:151", "Sync failed", key=name, err=str(e))
                crt = None
            if crt:
                now = state.now_rfc3339()
                obj["status"] = {"certificate": base64.b64encode(crt).decode(),
                                 "conditions": [{"type": "Approved", "status": "True",
                                                 "reason": "AutoApproved",
                                                 "message": "Auto approving kubelet client certificate after "
                                                            "SubjectAccessReview.",
                                                 "lastUpdateTime": now, "lastTransitionTime": now}]}
        try:
            self.store.create("certificatesigningrequests", json.loads(json.dumps(obj)))
        except state.Conflict:
            pass
        return 201, "application/json", json.dumps(obj)

    # -- lifecycle -------------------------------------------------------------
    def sync(self, node_name):
        """Run what the manifests ask for, as the kubelet's static Pod sync does: a component whose manifest
        changed (another content hash, as kubeadm upgrade writes) or went away is stopped, and every manifest
        whose component is not running is started (again).  Returns a list of error strings."""
        errs = []
        with self.lock:
            for comp in list(self.running):
                if manifest_hash(self.manifest(comp)) != self.running[comp]["hash"]:
                    self.stop_component(comp)
            if "etcd" not in self.running and self.store is not None and paths.exists(self.manifest("etcd")):
                try:  # an etcd (re)start under an API server that has its store already
                    self.start_etcd()
                except Exception as e:
                    errs.append("etcd: %s" % e)
            if "kube-apiserver" not in self.running and paths.exists(self.manifest("kube-apiserver")):
                try:
                    self.start_apiserver()
                except Exception as e:
                    errs.append("kube-apiserver: %s" % e)
            if "kube-apiserver" in self.running:
                for comp, port in (("kube-controller-manager", 10257), ("kube-scheduler", 10259)):
                    if comp in self.running or not paths.exists(self.manifest(comp)):
                        continue
                    try:
                        h = manifest_hash(self.manifest(comp))
                        fl, pod = manifest_command(self.manifest(comp))
                        if comp == "kube-controller-manager" and fl.get("cluster-signing-cert-file"):
                            self.signer = (fl["cluster-signing-cert-file"], fl["cluster-signing-key-file"])
                        self.start_health(comp, fl.get("bind-address") or "127.0.0.1",
                                          int(fl.get("secure-port") or port))
                        self.mark_running(comp, h, pod)
                    except Exception as e:
                        errs.append("%s: %s" % (comp, e))
        return errs

    def manifest(self, comp):
        return "%s/%s.yaml" % (self.dir, comp)

    def mark_running(self, comp, h, pod):
        self.running[comp] = {"hash": h, "pod": pod, "started": state.now_rfc3339()}
        self.started.add(comp)
        self.changed.set()

    def snapshot(self):
        """{component: {"hash", "pod", "started"}} of what runs now (what the mirror Pods show)."""
        with self.lock:
            return {k: dict(v) for k, v in self.running.items()}

    def stop_component(self, comp):
        """Kill one static Pod: the kubelet stops the old container before it starts the new one."""
        rec = self.running.pop(comp, None)
        self.started.discard(comp)
        glog.info("kubelet.go:2548", "SyncLoop (static pod changed): stopping", pod="kube-system/%s" % comp,
                  hash=(rec or {}).get("hash", ""))
        if comp == "kube-apiserver" and self.api:
            self.api.stop()
            self.api = None
        elif comp == "etcd" and self.etcd:
            local, cluster = self.etcd
            cluster.close()
            local.close()
            self.etcd, self.etcd_ready = None, False
        elif comp in self.health:
            srv = self.health.pop(comp)
            srv.shutdown()
            srv.server_close()

    def start_apiserver(self):
        h = manifest_hash(self.manifest("kube-apiserver"))
        fl, pod = manifest_command(self.manifest("kube-apiserver"))
        if paths.exists(self.manifest("etcd")):
            self.start_etcd()
        elif self.store is None:
            servers = [u for u in (fl.get("etcd-servers") or "").split(",") if u]
            local = [u for u in servers if split_url(u)[0] in ("127.0.0.1", "localhost", "::1")]
            if local or not servers:
                # stacked etcd whose manifest is not there yet: the real API server cannot connect
                host, port = split_url(local[0] if local else "https://127.0.0.1:2379")
                raise RuntimeError('dial tcp %s:%d: connect: connection refused' % (host, port))
            # external etcd: a plain local store stands in for it
            db = paths.host(paths.ETCD_DIR.rstrip("/") + "/member/snap/db")
            os.makedirs(os.path.dirname(db), exist_ok=True)
            os.chmod(paths.host(paths.ETCD_DIR), 0o700)
            self.store = state.Store(db)
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            apimod.ensure_namespace(self.store, ns)
        apimod.ensure_rbac_defaults(self.store)
        port = int(fl.get("secure-port") or 6443)
        bind = fl.get("bind-address") or "0.0.0.0"
        adv = fl.get("advertise-address") or "127.0.0.1"
        self.cert = paths.host(fl["tls-cert-file"])
        self.key = paths.host(fl["tls-private-key-file"])
        # /version answers the release of the kube-apiserver image this manifest runs, not the kubelet's
        self.api_version = version.server_version_info(release_of(container_image(pod)))
        # the key the tokens controller signs with (kube-controller-manager's --service-account-private-key-file,
        # the same sa.key as the API server's --service-account-signing-key-file); kubeadm shares it between
        # control planes
        sa_file = fl.get("service-account-signing-key-file")
        sa_key = paths.host(sa_file) if sa_file else None
        self.api = apimod.APIServer(self.store, self.api_version, self.authenticate, self.routes(),
                                    host=bind, port=port, certfile=self.cert, keyfile=self.key,
                                    client_ca=paths.host(fl["client-ca-file"]),
                                    server_address="%s:%d" % (adv, port), authorize=self.authorize,
                                    present=self.present, service_account_key=sa_key,
                                    root_ca=paths.host(fl["client-ca-file"]))
        self.api.start()
        self.mark_running("kube-apiserver", h, pod)
        glog.info("server.go:211", "Serving securely on %s:%d" % (bind, port))

    def start_etcd(self):
        """Run (once) the etcd member of etcd.yaml; when it has a quorum, make it the API server's store
        (one ReplicatedStore for the life of the kubelet, pointed at the member of the moment: a restarted
        member keeps its data and the API server keeps its store).  Raises while it waits (the kubelet's
        sync loop retries every second)."""
        if "etcd" in self.running and self.store is not None:
            return self.store
        if self.etcd is None:
            self.etcd_hash = manifest_hash(self.manifest("etcd"))
            self.etcd_pod = manifest_command(self.manifest("etcd"))[1]
            self.etcd = self._start_member()
        local, cluster = self.etcd
        if not self.etcd_ready:
            up = cluster.reachable()
            n = len(cluster.members) or 1
            if 1 + len(up) < cluster.quorum(n):
                raise RuntimeError("etcd member %s: waiting for quorum: %d of %d members reachable (need %d)"
                                   % (cluster.name, 1 + len(up), n, cluster.quorum(n)))
            self.etcd_ready = True
            glog.info("etcd.go:120", "etcd member %s is ready (%d members)" % (cluster.name, len(cluster.members)))
        if self.store is None:
            self.store = etcdmod.ReplicatedStore(local, cluster)
        else:
            self.store.local, self.store.cluster = local, cluster
        self.mark_running("etcd", self.etcd_hash, self.etcd_pod)
        return self.store

    def _start_member(self):
        efl, pod = manifest_command(self.manifest("etcd"))
        m = etcd_member(efl)
        data_dir = m["data_dir"]
        db = paths.host(data_dir.rstrip("/") + "/member/snap/db")
        os.makedirs(os.path.dirname(db), exist_ok=True)
        os.chmod(paths.host(data_dir), 0o700)
        password = peer_password(m["ca_key"])
        local = state.Store(db)
        server_version = etcd_server_version(container_image(pod))
        if server_version:
            cluster = etcdmod.Cluster(local, paths.host(data_dir), m["name"], m["peer_url"], password,
                                      version=server_version)
        else:
            cluster = etcdmod.Cluster(local, paths.host(data_dir), m["name"], m["peer_url"], password)
        cluster.name = m["name"]
        try:
            cluster.serve(m["bind"], m["peer_port"], m["client_port"], client_tls=m["client_tls"])
        except OSError as e:
            local.close()
            raise RuntimeError("listen tcp %s:%d: bind: %s" % (m["bind"], m["peer_port"],
                                                                (e.strerror or str(e)).lower()))
        try:
            if not cluster.members and m["state"] == "existing":
                others = [(n, u) for n, u in m["initial"] if u != m["peer_url"]]
                last = None
                for _, url in others:
                    try:
                        resp = etcdmod.peer_call(url, "POST", "/members/add", cluster.secret,
                                                 {"name": cluster.name, "peerURL": m["peer_url"]}, timeout=10)
                    except (OSError, ValueError) as e:
                        last = e
                        continue
                    local.load(resp["snapshot"])
                    cluster.set_members(resp["members"])
                    glog.info("etcd.go:96", "etcd member %s joined the cluster with members [%s]" % (
                        cluster.name, " ".join("%s=%s" % (x["name"], x["peerURL"]) for x in resp["members"])))
                    break
                else:
                    raise RuntimeError("etcd member %s: error validating peerURLs: %s"
                                       % (cluster.name, last or "no other member in --initial-cluster"))
            elif not cluster.members:
                cluster.set_members([{"name": n, "peerURL": u} for n, u in m["initial"]] or
                                    [{"name": cluster.name, "peerURL": m["peer_url"]}])
            elif not cluster.sync_from_peers():
                # No peer answered (a restored member starting first): the member list its data hold is the one it
                # knows, and member.json, which kubeadm reset reads to find the other members, says so.
                cluster.set_members(cluster.members)
        except Exception:
            cluster.close()
            local.close()
            raise
        return local, cluster

    def start_health(self, comp, bind, port):
        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                p = self.path.split("?", 1)[0]
                code, body = (200, b"ok") if p in ("/healthz", "/livez", "/readyz") else (404, b"404 page not found\n")
                wire.reply(self, code, body, "text/plain; charset=utf-8")

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)

        class S(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def get_request(self):
                sock, addr = self.socket.accept()
                sock.settimeout(10)
                return ctx.wrap_socket(sock, server_side=True), addr

            def handle_error(self, request, client_address):
                pass
        srv = S((bind, port), H)
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
        self.health[comp] = srv
        glog.info("secure_serving.go:213", "Serving securely on %s:%d (%s)" % (bind, port, comp))

    def stop(self):
        with self.lock:
            for s in self.health.values():
                s.shutdown()
                s.server_close()
            self.health = {}
            if self.api:
                self.api.stop()
            if self.etcd:
                self.etcd[1].close()
            if self.store:
                self.store.close()
            elif self.etcd:
                self.etcd[0].close()


def manifest_hash(path):
    """The kubelet's config hash of a static Pod (kubernetes.io/config.hash): md5 hex of the manifest; None when
    the file is not there."""
    try:
        return hashlib.md5(paths.read_bytes(path)).hexdigest()
    except OSError:
        return None


def container_image(pod):
    try:
        return pod["spec"]["containers"][0].get("image") or ""
    except (KeyError, IndexError, TypeError, AttributeError):
        return ""


def image_tag_of(image):
    """The tag of an image reference (after the last ':' of the last path element), '' when none."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else ""


def release_of(image):
    """"registry.k8s.io/kube-apiserver:v1.34.3" -> "v1.34.3"; None for a tag that is no release version."""
    tag = image_tag_of(image)
    try:
        version.parse_tag(tag)
    except ValueError:
        return None
    return tag


def etcd_server_version(image):
    """"registry.k8s.io/etcd:3.6.5-0" -> "3.6.5" (the etcd server version the image runs); None otherwise."""
    tag = image_tag_of(image).lstrip("v").split("-", 1)[0]
    parts = tag.split(".")
    return tag if len(parts) == 3 and all(p.isdigit() for p in parts) else None


def split_url(u):
    """(host, port) of a URL such as https://10.0.0.1:2380 or https://[::1]:2379."""
    hp = u.split("://", 1)[-1].split("/", 1)[0]
    host, _, port = hp.rpartition(":")
    return host.strip("[]"), int(port)


def peer_password(ca_key_path):
    """The simulated etcd's peer secret: derived from the etcd CA private key every control plane holds."""
    return hashlib.sha256(paths.read_bytes(ca_key_path)).hexdigest()


def etcd_member(fl):
    """The member described by etcd.yaml flags."""
    name = fl.get("name") or "default"
    peer_url = (fl.get("initial-advertise-peer-urls") or fl.get("listen-peer-urls") or
                "http://localhost:2380").split(",")[0]
    listen_peer = (fl.get("listen-peer-urls") or peer_url).split(",")[0]
    bind, peer_port = split_url(listen_peer)
    clients = [u for u in (fl.get("listen-client-urls") or "").split(",") if u]
    same = [u for u in clients if split_url(u)[0] == bind]
    client_port = split_url((same or clients or ["http://localhost:2379"])[0])[1]
    initial = []
    for item in (fl.get("initial-cluster") or "").split(","):
        n, sep, u = item.partition("=")
        if sep:
            initial.append((n, u))
    ca = fl.get("peer-trusted-ca-file") or fl.get("trusted-ca-file") or paths.PKI_DIR + "/etcd/ca.crt"
    # the client port speaks TLS when its URL says https and the member has a certificate (kubeadm: etcd/server)
    client_tls = None
    if clients and clients[0].startswith("https://") and fl.get("cert-file") and fl.get("key-file"):
        client_tls = {"cert": paths.host(fl["cert-file"]), "key": paths.host(fl["key-file"]),
                      "ca": paths.host(fl.get("trusted-ca-file") or paths.PKI_DIR + "/etcd/ca.crt"),
                      "client_auth": str(fl.get("client-cert-auth") or "").lower() == "true"}
    return {"client_tls": client_tls, "name": name, "peer_url": peer_url, "bind": bind, "peer_port": peer_port, "client_port": client_port,
            "initial": initial, "state": fl.get("initial-cluster-state") or "new",
            "data_dir": fl.get("data-dir") or paths.ETCD_DIR, "ca_key": ca[:-4] + ".key" if ca.endswith(".crt")
            else ca + ".key"}
