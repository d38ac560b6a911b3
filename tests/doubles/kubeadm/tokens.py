"""Bootstrap tokens: Secrets in kube-system, JWS signatures of cluster-info, ``token list`` rows."""
import base64
import hashlib
import hmac
import json
import time

from common import timestamps

from . import kconfig

SECRET_PREFIX = "bootstrap-token-"
SECRET_TYPE = "bootstrap.kubernetes.io/token"


def b64(s):
    return base64.b64encode(s.encode()).decode()


def unb64(s):
    try:
        return base64.b64decode(s or "").decode()
    except (ValueError, UnicodeDecodeError):
        return ""


rfc3339 = timestamps.format_rfc3339
parse_rfc3339 = timestamps.parse_rfc3339


def secret_for(token, description="", ttl=None, expires=None, usages=("signing", "authentication"),
               groups=(kconfig.DEFAULT_TOKEN_GROUP,)):
    """The Secret kubeadm writes for a BootstrapToken (ttl in seconds; 0/None with no expires -> never)."""
    tid, sec = token.split(".", 1)
    data = {"token-id": b64(tid), "token-secret": b64(sec)}
    if description:
        data["description"] = b64(description)
    if expires:
        data["expiration"] = b64(expires)
    elif ttl:
        data["expiration"] = b64(rfc3339(time.time() + ttl))
    for u in usages:
        data["usage-bootstrap-%s" % u] = b64("true")
    if groups:
        data["auth-extra-groups"] = b64(",".join(groups))
    return {"metadata": {"name": SECRET_PREFIX + tid, "namespace": "kube-system"}, "type": SECRET_TYPE, "data": data}


def decode_secret(obj):
    if not obj or obj.get("type") != SECRET_TYPE:
        return None
    d = obj.get("data") or {}
    tid, sec = unb64(d.get("token-id")), unb64(d.get("token-secret"))
    if not tid or not sec:
        return None
    exp = unb64(d.get("expiration")) or None
    return {"id": tid, "secret": sec, "token": "%s.%s" % (tid, sec), "expiration": exp,
            "expires_at": parse_rfc3339(exp) if exp else None,
            "usages": [u for u in ("authentication", "signing") if unb64(d.get("usage-bootstrap-%s" % u)) == "true"],
            "description": unb64(d.get("description")),
            "groups": [g for g in unb64(d.get("auth-extra-groups")).split(",") if g]}


def valid(tok, now=None):
    now = time.time() if now is None else now
    return tok["expires_at"] is None or tok["expires_at"] > now


def _b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jws_detached(content, token_id, token_secret):
    """Detached compact JWS (HS256, kid=<token id>) of the cluster-info kubeconfig."""
    header = _b64url(json.dumps({"alg": "HS256", "kid": token_id}, separators=(",", ":"), sort_keys=True).encode())
    payload = _b64url(content.encode())
    sig = hmac.new(token_secret.encode(), ("%s.%s" % (header, payload)).encode(), hashlib.sha256).digest()
    return "%s..%s" % (header, _b64url(sig))


def jws_valid(detached, content, token_id, token_secret):
    return hmac.compare_digest(detached, jws_detached(content, token_id, token_secret))


def short_human_duration(sec):
    """apimachinery duration.ShortHumanDuration."""
    sec = int(sec)
    if sec < -1:
        return "<invalid>"
    if sec < 0:
        return "0s"
    if sec < 60:
        return "%ds" % sec
    m = sec // 60
    if m < 60:
        return "%dm" % m
    h = m // 60
    if h < 48:
        return "%dh" % h
    if h < 24 * 365 * 2:
        return "%dd" % (h // 24)
    return "%dy" % (h // 24 // 365)


def tabwriter(rows, minwidth=10, padding=3):
    """Go text/tabwriter with (minwidth 10, tabwidth 4, padding 3, ' ', 0): every cell but the last of a line is
    padded to its column's width."""
    ncols = max(len(r) for r in rows)
    widths = [0] * ncols
    for r in rows:
        for i, c in enumerate(r[:-1]):
            widths[i] = max(widths[i], len(c) + padding, minwidth)
    out = []
    for r in rows:
        line = "".join(c.ljust(widths[i]) for i, c in enumerate(r[:-1])) + r[-1]
        out.append(line)
    return "\n".join(out) + "\n"


def list_rows(tokens, now=None):
    now = time.time() if now is None else now
    rows = [["TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS"]]
    for t in tokens:
        if t["expires_at"] is not None:
            ttl = short_human_duration(t["expires_at"] - now)
            exp = t["expiration"]
        else:
            ttl, exp = "<forever>", "<never>"
        rows.append([t["token"], ttl, exp, ",".join(t["usages"]), t["description"] or "<none>",
                     ",".join(t["groups"]) or "<none>"])
    return rows
