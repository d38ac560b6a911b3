"""A minimal Kubernetes API server (core/v1 subset) over HTTPS, stdlib only.

Generic enough to be reused by other doubles: the caller supplies a Store
(state.py), version info, an authenticator and optional extra routes.

Implemented: discovery (/api, /api/v1, /apis), /version, /healthz, /livez,
/readyz, GET/LIST (labelSelector, fieldSelector, limit/continue, Table
output for kubectl), minimal watch (ADDED events then held until
timeoutSeconds), POST/PUT/PATCH(merge & strategic-as-merge)/DELETE.
"""
import base64
import calendar
import copy
import json
import re
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import klog
from .state import Conflict, Unavailable, now_rfc3339

# resource -> (kind, namespaced, singular, shortNames)
CORE_RESOURCES = {
    "nodes": ("Node", False, "node", ["no"]),
    "namespaces": ("Namespace", False, "namespace", ["ns"]),
    "pods": ("Pod", True, "pod", ["po"]),
    "services": ("Service", True, "service", ["svc"]),
    "configmaps": ("ConfigMap", True, "configmap", ["cm"]),
    "secrets": ("Secret", True, "secret", []),
    "serviceaccounts": ("ServiceAccount", True, "serviceaccount", ["sa"]),
    "events": ("Event", True, "event", ["ev"]),
    "endpoints": ("Endpoints", True, "endpoints", ["ep"]),
}
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def status(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return body


def parse_ts(s):
    try:
        return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))
    except (ValueError, TypeError):
        return time.time()


def human_age(ts):
    """kubectl's duration.HumanDuration (approximate)."""
    d = max(0, int(time.time() - parse_ts(ts)))
    if d < 120:
        return "%ds" % d
    m = d // 60
    if m < 10:
        s = d % 60
        return "%dm%ds" % (m, s) if s else "%dm" % m
    if m < 180:
        return "%dm" % m
    h = d // 3600
    if h < 8:
        mm = m % 60
        return "%dh%dm" % (h, mm) if mm else "%dh" % h
    if h < 48:
        return "%dh" % h
    days = h // 24
    if days < 8:
        hh = h % 24
        return "%dd%dh" % (days, hh) if hh else "%dd" % days
    if days < 365 * 2:
        return "%dd" % days
    return "%dy" % (days // 365)


# --------------------------------------------------------------------------
# selectors

class SelectorError(Exception):
    pass


def _split_top(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def label_matcher(sel):
    reqs = []
    for part in _split_top(sel or ""):
        m = re.match(r"^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$", part)
        if m:
            vals = {v.strip() for v in m.group(3).split(",") if v.strip()}
            reqs.append((m.group(1), m.group(2), vals))
            continue
        m = re.match(r"^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$", part)
        if m:
            reqs.append((m.group(1), "ne" if m.group(2) == "!=" else "eq", m.group(3)))
            continue
        m = re.match(r"^(!?)([\w./-]+)$", part)
        if m:
            reqs.append((m.group(2), "absent" if m.group(1) else "exists", None))
            continue
        raise SelectorError("unable to parse requirement: %s" % part)

    def match(labels):
        labels = labels or {}
        for key, op, val in reqs:
            has = key in labels
            if op == "eq" and (not has or labels[key] != val):
                return False
            if op == "ne" and has and labels[key] == val:
                return False
            if op == "in" and (not has or labels[key] not in val):
                return False
            if op == "notin" and has and labels[key] in val:
                return False
            if op == "exists" and not has:
                return False
            if op == "absent" and has:
                return False
        return True
    return match


FIELD_GETTERS = {
    "metadata.name": lambda o: o.get("metadata", {}).get("name", ""),
    "metadata.namespace": lambda o: o.get("metadata", {}).get("namespace", ""),
    "spec.unschedulable": lambda o: "true" if o.get("spec", {}).get("unschedulable") else "false",
    "status.phase": lambda o: o.get("status", {}).get("phase", ""),
}


def field_matcher(sel):
    reqs = []
    for part in _split_top(sel or ""):
        m = re.match(r"^([\w.]+)\s*(==|=|!=)\s*(.*)$", part)
        if not m:
            raise SelectorError("invalid selector: '%s'; can't understand '%s'" % (sel, part))
        if m.group(1) not in FIELD_GETTERS:
            raise SelectorError('field label not supported: %s' % m.group(1))
        reqs.append((FIELD_GETTERS[m.group(1)], m.group(2) != "!=", m.group(3)))
    return lambda o: all((g(o) == v) == eq for g, eq, v in reqs)


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if k.startswith("$"):
            continue  # strategic-merge directives are ignored
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# --------------------------------------------------------------------------
# tables

def _node_row(o):
    conds = {c.get("type"): c.get("status") for c in o.get("status", {}).get("conditions", [])}
    st = {"True": "Ready", "False": "NotReady"}.get(conds.get("Ready"), "Unknown")
    if o.get("spec", {}).get("unschedulable"):
        st += ",SchedulingDisabled"
    roles = sorted(k.split("/", 1)[1] for k in o["metadata"].get("labels", {})
                   if k.startswith("node-role.kubernetes.io/") and k.split("/", 1)[1])
    info = o.get("status", {}).get("nodeInfo", {})
    addrs = o.get("status", {}).get("addresses", [])
    iip = ",".join(a["address"] for a in addrs if a.get("type") == "InternalIP") or "<none>"
    eip = ",".join(a["address"] for a in addrs if a.get("type") == "ExternalIP") or "<none>"
    return [o["metadata"]["name"], st, ",".join(roles) or "<none>", human_age(o["metadata"].get("creationTimestamp")),
            info.get("kubeletVersion", ""), iip, eip, info.get("osImage", "<unknown>"),
            info.get("kernelVersion", "<unknown>"), info.get("containerRuntimeVersion", "<unknown>")]


def _col(name, typ="string", fmt="", prio=0, desc=""):
    return {"name": name, "type": typ, "format": fmt, "description": desc or name, "priority": prio}


TABLES = {
    "nodes": ([_col("Name", fmt="name"), _col("Status"), _col("Roles"), _col("Age"), _col("Version"),
               _col("Internal-IP", prio=1), _col("External-IP", prio=1), _col("OS-Image", prio=1),
               _col("Kernel-Version", prio=1), _col("Container-Runtime", prio=1)], _node_row),
    "namespaces": ([_col("Name", fmt="name"), _col("Status"), _col("Age")],
                   lambda o: [o["metadata"]["name"], o.get("status", {}).get("phase", "Active"),
                              human_age(o["metadata"].get("creationTimestamp"))]),
}
_DEFAULT_TABLE = ([_col("Name", fmt="name"), _col("Age")],
                  lambda o: [o["metadata"]["name"], human_age(o["metadata"].get("creationTimestamp"))])


class APIServer:
    """HTTPS Kubernetes API.  ``authenticate(handler)`` returns a user name or
    None; ``routes`` maps exact paths to ``fn(handler) -> (code, ctype, body)``
    served before authentication (supervisor endpoints).

    Optional hooks: ``authorize(user, verb, resource, name, body)`` returns
    None or a forbidden message (-> 403); ``present(resource, obj)`` returns
    the object as served on reads (computed fields such as node conditions)."""

    def __init__(self, store, version_info, authenticate, routes=None, host="0.0.0.0", port=6443,
                 certfile=None, keyfile=None, client_ca=None, server_address=None, authorize=None,
                 present=None):
        self.store = store
        self.authorize = authorize
        self.present = present
        self.version_info = version_info
        self.authenticate = authenticate
        self.routes = routes or {}
        self.host, self.port = host, port
        self.server_address = server_address or "%s:%d" % (host, port)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(certfile, keyfile)
        if client_ca:
            ctx.load_verify_locations(client_ca)
            ctx.verify_mode = ssl.CERT_OPTIONAL
        self.ssl_context = ctx
        self.httpd = None
        self._thread = None

    # -- lifecycle ----------------------------------------------------------
    def start(self):
        api = self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET

        class Server(ThreadingHTTPServer):
            address_family = family
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

            def server_bind(self):
                if family == socket.AF_INET6:
                    try:
                        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                    except OSError:
                        pass
                super().server_bind()

            def get_request(self):
                sock, addr = self.socket.accept()
                sock.settimeout(30)
                return api.ssl_context.wrap_socket(sock, server_side=True,
                                                   do_handshake_on_connect=False), addr

            def handle_error(self, request, client_address):
                klog.debug("http: TLS/connection error from %s", client_address)

        class Handler(_Handler):
            server_api = api

        self.httpd = Server((self.host, self.port), Handler)
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        daemon=True)
        self._thread.start()

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()

    # -- helpers ------------------------------------------------------------
    def resource_list(self):
        res = []
        for name, (kind, namespaced, singular, short) in CORE_RESOURCES.items():
            r = {"name": name, "singularName": singular, "namespaced": namespaced, "kind": kind,
                 "verbs": VERBS if name != "events" else VERBS, "storageVersionHash": ""}
            if short:
                r["shortNames"] = short
            res.append(r)
            if name in ("nodes", "namespaces", "pods", "services"):
                res.append({"name": name + "/status", "singularName": "", "namespaced": namespaced,
                            "kind": kind, "verbs": ["get", "patch", "update"]})
        return {"kind": "APIResourceList", "groupVersion": "v1", "resources": res}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_api = None
    server_version = "k3s-double"
    sys_version = ""

    def log_message(self, fmt, *args):
        klog.debug("http: " + fmt, *args)

    def setup(self):
        super().setup()
        try:
            self.connection.do_handshake()
        except (ssl.SSLError, OSError) as e:
            klog.debug("http: TLS handshake error from %s: %s", self.client_address, e)
            self.close_connection = True
            raise

    def handle(self):
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError, socket.timeout, OSError):
            pass

    def client_cert_subject(self):
        try:
            cert = self.connection.getpeercert()
        except (ValueError, AttributeError):
            return None
        if not cert:
            return None
        subj = {}
        for rdn in cert.get("subject", ()):
            for k, v in rdn:
                subj.setdefault(k, []).append(v)
        return subj

    # -- response helpers ---------------------------------------------------
    def send_body(self, code, body, ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body or b""
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_status(self, st):
        self.send_body(st["code"], st)

    def _read_json(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw.decode() or "null")
        except ValueError as e:
            self.send_status(status(400, "BadRequest", "error decoding body: %s" % e))
            return Ellipsis

    # -- dispatch -----------------------------------------------------------
    def do_GET(self):
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_PATCH(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def _dispatch(self):
        api = self.server_api
        self._body = Ellipsis
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        self.query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        route = api.routes.get(path)
        if route is not None:
            code, ctype, body = route(self)
            self.send_body(code, body, ctype)
            return
        user = api.authenticate(self)
        if not user:
            self.send_status(status(401, "Unauthorized", "Unauthorized"))
            return
        self.user = user
        try:
            self._api(path)
        except BrokenPipeError:
            pass
        except Unavailable as e:
            # like kube-apiserver on an etcd timeout: code 500, no reason
            st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": str(e), "code": 500}
            try:
                self.send_status(st)
            except OSError:
                pass
        except Exception as e:  # pragma: no cover - defensive
            klog.error("apiserver: internal error handling %s %s: %r", self.command, self.path, e)
            try:
                self.send_status(status(500, "InternalError", "Internal error occurred: %s" % e))
            except OSError:
                pass

    def _api(self, path):
        api = self.server_api
        if path in ("/healthz", "/livez", "/readyz") or re.match(r"^/(healthz|livez|readyz)/[\w-]+$", path):
            if self.command not in ("GET", "HEAD"):
                return self.send_status(status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"))
            if "verbose" in self.query:
                return self.send_body(200, "[+]ping ok\n[+]etcd ok\n%s check passed\n" % path.strip("/"), "text/plain; charset=utf-8")
            return self.send_body(200, "ok", "text/plain; charset=utf-8")
        if path == "/version":
            return self.send_body(200, api.version_info)
        if path == "/api":
            return self.send_body(200, {"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                                        "serverAddress": api.server_address}]})
        if path == "/apis":
            return self.send_body(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
        if path == "/api/v1":
            return self.send_body(200, api.resource_list())
        parts = path.strip("/").split("/")
        if parts[:2] != ["api", "v1"]:
            return self.send_status(status(404, "NotFound", "the server could not find the requested resource"))
        rest = parts[2:]
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        if not rest or rest[0] not in CORE_RESOURCES or len(rest) > 3:
            return self.send_status(status(404, "NotFound", "the server could not find the requested resource"))
        resource = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        kind, namespaced, _, _ = CORE_RESOURCES[resource]
        if sub not in (None, "status"):
            return self.send_status(status(404, "NotFound", "the server could not find the requested resource"))
        if ns is not None and not namespaced:
            return self.send_status(status(404, "NotFound", "the server could not find the requested resource"))
        if namespaced and name is not None and ns is None:
            return self.send_status(status(404, "NotFound", "the server could not find the requested resource"))
        key_ns = ns or ""
        if ns is not None and resource != "namespaces" and api.store.get("namespaces", ns) is None \
                and self.command in ("POST",):
            return self.send_status(status(404, "NotFound", 'namespaces "%s" not found' % ns,
                                           {"name": ns, "kind": "namespaces"}))
        m = self.command
        if api.authorize is not None and m not in ("GET", "HEAD"):
            verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(m, m.lower())
            target = name
            if target is None and m == "POST":
                body = self.read_json()
                if body is Ellipsis:
                    return
                self._body = body
                target = (body or {}).get("metadata", {}).get("name") if isinstance(body, dict) else None
            msg = api.authorize(self.user, verb, resource, target, ns)
            if msg:
                return self.send_status(status(403, "Forbidden", msg, {"name": target or "", "kind": resource}))
        if name is None:
            if m in ("GET", "HEAD"):
                return self._list(resource, kind, namespaced, ns)
            if m == "POST":
                return self._create(resource, kind, namespaced, key_ns)
            return self.send_status(status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"))
        obj = api.store.get(resource, name, key_ns)
        notfound = status(404, "NotFound", '%s "%s" not found' % (resource, name),
                          {"name": name, "kind": resource})
        if m in ("GET", "HEAD"):
            if obj is None:
                return self.send_status(notfound)
            obj = self._with_type(self._present(resource, obj), kind)
            if self._wants_table():
                return self.send_body(200, self._table(resource, [obj]))
            return self.send_body(200, obj)
        if m == "DELETE":
            if obj is None:
                return self.send_status(notfound)
            api.store.delete(resource, name, key_ns)
            return self.send_body(200, self._with_type(obj, kind))
        if m in ("PATCH", "PUT"):
            if obj is None:
                return self.send_status(notfound)
            body = self.read_json()
            if body is Ellipsis:
                return
            if m == "PATCH":
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                if ctype == "application/json-patch+json":
                    return self.send_status(status(415, "UnsupportedMediaType",
                                                   "json-patch is not supported by the kubeforge test double"))
                new = merge_patch(obj, body)
            else:
                new = body if isinstance(body, dict) else {}
            new.setdefault("metadata", {})
            if new["metadata"].get("name", name) != name:
                return self.send_status(status(400, "BadRequest", "the name of the object (%s) does not match the name on the URL (%s)" % (new["metadata"].get("name"), name)))
            for keep in ("uid", "creationTimestamp", "name"):
                if keep in obj["metadata"]:
                    new["metadata"][keep] = obj["metadata"][keep]
            if ns:
                new["metadata"]["namespace"] = ns
            new.pop("kind", None)
            new.pop("apiVersion", None)
            api.store.update(resource, new, key_ns)
            return self.send_body(200, self._with_type(new, kind))
        return self.send_status(status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"))

    def _present(self, resource, obj):
        fn = self.server_api.present
        return fn(resource, obj) if fn else obj

    def read_json(self):
        if getattr(self, "_body", Ellipsis) is not Ellipsis:
            body, self._body = self._body, Ellipsis
            return body
        return _Handler._read_json(self)

    @staticmethod
    def _with_type(obj, kind):
        out = {"kind": kind, "apiVersion": "v1"}
        out.update({k: v for k, v in obj.items() if k not in ("kind", "apiVersion")})
        return out

    def _wants_table(self):
        return "as=Table" in (self.headers.get("Accept") or "")

    def _table(self, resource, objs, list_meta=None):
        cols, rowfn = TABLES.get(resource, _DEFAULT_TABLE)
        include = self.query.get("includeObject", "Metadata")
        rows = []
        for o in objs:
            row = {"cells": rowfn(o)}
            if include == "Object":
                row["object"] = o
            elif include != "None":
                row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                 "metadata": o.get("metadata", {})}
            rows.append(row)
        return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                "metadata": list_meta or {"resourceVersion": str(self.server_api.store.current_rv())},
                "columnDefinitions": cols, "rows": rows}

    def _list(self, resource, kind, namespaced, ns):
        store = self.server_api.store
        try:
            lm = label_matcher(self.query.get("labelSelector"))
            fm = field_matcher(self.query.get("fieldSelector"))
        except SelectorError as e:
            return self.send_status(status(400, "BadRequest", str(e)))
        items = [o for o in (self._present(resource, x) for x in store.list(resource, ns if namespaced else None))
                 if lm(o.get("metadata", {}).get("labels")) and fm(o)]
        rv = str(store.current_rv())
        if self.query.get("watch") in ("true", "1"):
            return self._watch(items, kind)
        start = 0
        cont = self.query.get("continue")
        if cont:
            try:
                start = int(base64.urlsafe_b64decode(cont.encode()).decode())
            except ValueError:
                return self.send_status(status(400, "BadRequest", "continue key is not valid"))
        meta = {"resourceVersion": rv}
        limit = self.query.get("limit")
        sel = items[start:]
        if limit and limit.isdigit() and int(limit) > 0 and len(sel) > int(limit):
            sel = sel[:int(limit)]
            meta["continue"] = base64.urlsafe_b64encode(str(start + len(sel)).encode()).decode()
            meta["remainingItemCount"] = len(items) - start - len(sel)
        if self._wants_table():
            return self.send_body(200, self._table(resource, [self._with_type(o, kind) for o in sel], meta))
        for o in sel:
            o.pop("kind", None)
            o.pop("apiVersion", None)
        return self.send_body(200, {"kind": kind + "List", "apiVersion": "v1", "metadata": meta, "items": sel})

    def _watch(self, items, kind):
        try:
            timeout = min(int(self.query.get("timeoutSeconds") or 30), 300)
        except ValueError:
            timeout = 30
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(data):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        try:
            if self.query.get("sendInitialEvents") != "false" and not self.query.get("resourceVersion"):
                for o in items:
                    chunk(json.dumps({"type": "ADDED", "object": self._with_type(o, kind)}).encode() + b"\n")
            elif self.query.get("resourceVersion") in ("0",):
                for o in items:
                    chunk(json.dumps({"type": "ADDED", "object": self._with_type(o, kind)}).encode() + b"\n")
            time.sleep(timeout)
            chunk(b"")
        except OSError:
            pass
        self.close_connection = True

    def _create(self, resource, kind, namespaced, key_ns):
        body = self.read_json()
        if body is Ellipsis:
            return
        if not isinstance(body, dict) or not body.get("metadata", {}).get("name"):
            return self.send_status(status(422, "Invalid", "%s \"\" is invalid: metadata.name: Required value: name or generateName is required" % kind))
        body.pop("kind", None)
        body.pop("apiVersion", None)
        if namespaced:
            body["metadata"]["namespace"] = key_ns
        if resource == "namespaces":
            body.setdefault("status", {"phase": "Active"})
            body.setdefault("spec", {"finalizers": ["kubernetes"]})
        try:
            self.server_api.store.create(resource, body, key_ns)
        except Conflict:
            name = body["metadata"]["name"]
            return self.send_status(status(409, "AlreadyExists", '%s "%s" already exists' % (resource, name),
                                           {"name": name, "kind": resource}))
        return self.send_body(201, self._with_type(body, kind))


def ensure_namespace(store, name):
    if store.get("namespaces", name) is None:
        try:
            store.create("namespaces", {"metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
                                        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
        except Conflict:
            pass


__all__ = ["APIServer", "ensure_namespace", "status", "merge_patch", "now_rfc3339"]
