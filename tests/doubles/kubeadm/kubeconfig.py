"""kubeconfig files: write them like kubeadm/the kubelet, read them like client-go (subset)."""
import base64

from . import paths, yamlk


class KubeconfigError(Exception):
    pass


def b64(data):
    return base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode()


def build(cluster, server, ca_pem, user, context=None, cert_pem=None, key_pem=None, token=None,
          cert_file=None, key_file=None, namespace=None):
    u = {}
    if cert_pem is not None:
        u["client-certificate-data"] = b64(cert_pem)
    if key_pem is not None:
        u["client-key-data"] = b64(key_pem)
    if cert_file:
        u["client-certificate"] = cert_file
    if key_file:
        u["client-key"] = key_file
    if token:
        u["token"] = token
    ctx_name = context or "%s@%s" % (user, cluster)
    ctx = {"cluster": cluster}
    if namespace:
        ctx["namespace"] = namespace
    ctx["user"] = user
    return {"apiVersion": "v1",
            "clusters": [{"cluster": {"certificate-authority-data": b64(ca_pem), "server": server},
                          "name": cluster}],
            "contexts": [{"context": ctx, "name": ctx_name}],
            "current-context": ctx_name,
            "kind": "Config",
            "preferences": {},
            "users": [{"name": user, "user": u}]}


def write(path, cfg, mode=0o600):
    paths.write(path, yamlk.dump(cfg), mode)


def load(path):
    """(cluster dict, user dict) of the current context, with *-data decoded into bytes."""
    try:
        text = paths.read_text(path)
    except FileNotFoundError:
        raise KubeconfigError("stat %s: no such file or directory" % path)
    except OSError as e:
        raise KubeconfigError("open %s: %s" % (path, (e.strerror or str(e)).lower()))
    try:
        cfg = yamlk.safe_load(text) or {}
    except yamlk.YamlError as e:
        raise KubeconfigError("error loading config file \"%s\": %s" % (path, e))
    return resolve(cfg, path)


def resolve(cfg, path="<kubeconfig>"):
    if not isinstance(cfg, dict):
        raise KubeconfigError("error loading config file \"%s\": not a kubeconfig" % path)
    cur = cfg.get("current-context") or ""
    ctx = next((c.get("context") or {} for c in cfg.get("contexts") or [] if c.get("name") == cur), None)
    if ctx is None:
        raise KubeconfigError("invalid configuration: no configuration has been provided, try setting "
                              "KUBERNETES_MASTER environment variable")
    cl = next((c.get("cluster") or {} for c in cfg.get("clusters") or [] if c.get("name") == ctx.get("cluster")), None)
    us = next((u.get("user") or {} for u in cfg.get("users") or [] if u.get("name") == ctx.get("user")), {})
    if cl is None or not cl.get("server"):
        raise KubeconfigError("invalid configuration: no server found for cluster %r" % ctx.get("cluster"))
    out_c = {"server": cl["server"], "name": ctx.get("cluster")}
    if cl.get("certificate-authority-data"):
        out_c["ca"] = base64.b64decode(cl["certificate-authority-data"])
    elif cl.get("certificate-authority"):
        out_c["ca"] = paths.read_bytes(cl["certificate-authority"])
    out_c["insecure"] = bool(cl.get("insecure-skip-tls-verify"))
    out_u = {"name": ctx.get("user")}
    try:
        if us.get("client-certificate-data"):
            out_u["cert"] = base64.b64decode(us["client-certificate-data"])
        elif us.get("client-certificate"):
            out_u["cert"] = paths.read_bytes(us["client-certificate"])
        if us.get("client-key-data"):
            out_u["key"] = base64.b64decode(us["client-key-data"])
        elif us.get("client-key"):
            out_u["key"] = paths.read_bytes(us["client-key"])
    except OSError as e:
        raise KubeconfigError("unable to read client-cert/key: %s" % e)
    if us.get("token"):
        out_u["token"] = us["token"]
    return out_c, out_u


def host_port(server):
    """'https://h:p' -> 'h:p'."""
    s = server.split("://", 1)[-1]
    return s.split("/", 1)[0]
