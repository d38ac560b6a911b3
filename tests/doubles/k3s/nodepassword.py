"""K3s node passwords (pkg/nodepassword, pkg/agent/config/config.go, pkg/authenticator/hash/scrypt.go).

Every node keeps a random password in ``/etc/rancher/node/password`` (16 random bytes as 32 hex digits and a
newline, mode 0600, directory 0755; created when missing, then kept) and sends it, with its node name, in the
headers ``K3s-Node-Name`` and ``K3s-Node-Password`` of its requests for kubelet certificates
(``/v1-k3s/serving-kubelet.crt``, ``/v1-k3s/client-kubelet.crt``).  The supervisor checks it against the
immutable Secret ``kube-system/<node name, lower case>.node-password.k3s`` (type ``k3s.cattle.io/node-password``,
``data.hash``), creating it when missing; another password is refused with 403 and the agent retries.  The
hash is K3s's scrypt format ``$1:<salt hex>:<log2 N>:<r>:<p>:<key, base64 without padding>`` with N = 2^15, r = 8,
p = 1, an 8-byte salt and a 64-byte key (hashlib.scrypt: the same KDF and parameters, so K3s and the double
can verify each other's hashes).

``KUBEFORGE_DOUBLE_ROOT`` (TEST HOOK ONLY, never set in Molecule; the kubeadm double's hook of the same name) is
put in front of ``/etc/rancher/node``, so the unit tests never touch the host's file and each simulated host
has its own.  Messages keep the real path.
"""
import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets

from .state import Conflict

ROOT_ENV = "KUBEFORGE_DOUBLE_ROOT"
NODE_CONFIG_DIR = "/etc/rancher/node"  # K3s: nodePasswordRoot "/" (rootless mode, not modelled: <data-dir>/agent)
PASSWORD_FILE = NODE_CONFIG_DIR + "/password"
ID_FILE = NODE_CONFIG_DIR + "/id"
NAMESPACE = "kube-system"
SECRET_TYPE = "k3s.cattle.io/node-password"  # SecretTypeNodePassword (K3s Nov 2025 releases and later)
NODE_NAME_HEADER = "K3s-Node-Name"
NODE_PASSWORD_HEADER = "K3s-Node-Password"
NODE_IP_HEADER = "K3s-Node-IP"
# pkg/agent/config/config.go getNodeNamedCrt, on a 403
REJECTED = ("Node password rejected, duplicate hostname or contents of '%s' may not match server node-passwd "
            "entry, try enabling a unique node name with the --with-node-id flag")

# hash.NewSCrypt()
SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P, KEY_LEN, SALT_LEN = 15, 8, 1, 64, 8
_HASH_RE = re.compile(r"^\$(\d+):([0-9a-f]*):(\d+):(\d+):(\d+):([A-Za-z0-9+/]*)$")


class VerifyFailed(Exception):
    """nodepassword.ErrVerifyFailed (passwordError): ``unable to verify password for node <n>: <cause>``."""

    def __init__(self, node, cause):
        Exception.__init__(self, "unable to verify password for node %s: %s" % (node, cause))
        self.node = node


# -- host files ---------------------------------------------------------------------------------------------

def host_path(path, environ):
    """The file to open for the logical path (under the test root, when the hook is set)."""
    root = (environ.get(ROOT_ENV) or "").rstrip("/")
    return root + path if root else path


def _ensure_random_file(path, value, mode):
    """The stripped contents of ``path``, or ``value`` written there with ``mode`` (its directory made 0755 first,
    as K3s's config.get does)."""
    os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
    if os.path.exists(path):
        with open(path) as fh:
            return fh.read().strip()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    os.chmod(path, mode)
    return value


def ensure_password(environ):
    """K3s ensureNodePassword: the password file's contents, or a new random password (16 bytes as hex, 0600)."""
    return _ensure_random_file(host_path(PASSWORD_FILE, environ), secrets.token_hex(16), 0o600)


def ensure_node_id(environ):
    """K3s ensureNodeID (``--with-node-id``): ``/etc/rancher/node/id``, 4 random bytes as hex, mode 0644."""
    return _ensure_random_file(host_path(ID_FILE, environ), secrets.token_hex(4), 0o644)


# -- hash (pkg/authenticator/hash/scrypt.go) ------------------------------------------------------------------

def _scrypt(password, salt, log_n, r, p, dklen):
    n = 1 << log_n
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=dklen,
                          maxmem=128 * r * n + 1024 * 1024 * 2)


def create_hash(password):
    salt = os.urandom(SALT_LEN)
    dk = _scrypt(password, salt, SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P, KEY_LEN)
    return "$1:%s:%d:%d:%d:%s" % (binascii.hexlify(salt).decode(), SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P,
                                  base64.b64encode(dk).decode().rstrip("="))


def verify_hash(hashed, password):
    """None when ``password`` matches, else the cause (K3s's VerifyHash error text; Sscanf's wording for a
    malformed hash is the double's own)."""
    m = _HASH_RE.match(hashed or "")
    if not m:
        return "input does not match format"
    version, salt, log_n, r, p, enc = m.groups()
    if int(version) != 1:
        return "hash version %s does not match package version 1" % version
    try:
        dk = base64.b64decode(enc + "=" * (-len(enc) % 4))
        salt_b = binascii.unhexlify(salt)
        got = _scrypt(password, salt_b, int(log_n), int(r), int(p), len(dk))
    except (ValueError, binascii.Error, MemoryError) as e:
        return str(e)
    if not hmac.compare_digest(dk, got):
        return "hash does not match"
    return None


# -- the Secret (nodepassword.go) ---------------------------------------------------------------------------------

def secret_name(node):
    """getSecretName."""
    return (node + ".node-password.k3s").lower()


def stored_hash(secret):
    """The hash string of a node-password Secret, or None when it has no ``data.hash``."""
    raw = ((secret or {}).get("data") or {}).get("hash")
    if raw is None:
        return None
    try:
        return base64.b64decode(raw).decode()
    except (ValueError, UnicodeDecodeError):
        return ""


def verify(store, node, password):
    """verifyHash: the Secret of ``node`` against ``password``.  Returns False when there is no Secret; raises
    VerifyFailed when it does not match (or has no hash)."""
    secret = store.get("secrets", secret_name(node), NAMESPACE)
    if secret is None:
        return False
    hashed = stored_hash(secret)
    if hashed is None:
        raise VerifyFailed(node, "password hash not found in node secret")
    cause = verify_hash(hashed, password)
    if cause:
        raise VerifyFailed(node, cause)
    return True


def ensure(store, node, password):
    """nodepassword ensure: verify the node's Secret, or create it (immutable, typed) with a new hash of
    ``password``.  Raises VerifyFailed on a mismatch; store errors (no quorum, an unreachable datastore)
    propagate (the caller then defers the check, as K3s's verifyRemotePassword does)."""
    if verify(store, node, password):
        return "verified"
    obj = {"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": secret_name(node), "namespace": NAMESPACE},
           "immutable": True, "type": SECRET_TYPE,
           "data": {"hash": base64.b64encode(create_hash(password).encode()).decode()}}
    try:
        store.create("secrets", obj, NAMESPACE)
    except Conflict:
        verify(store, node, password)  # another server created it meanwhile
        return "verified"
    return "created"


def delete(store, node):
    """nodepassword.Delete; True when there was a Secret."""
    return bool(store.delete("secrets", secret_name(node), NAMESPACE))
