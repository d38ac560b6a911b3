"""The K3s double's reusable modules, imported by name.

From the source tree the K3s double is the package ``k3s`` (tests/doubles on
sys.path); in a built single-file binary build.py embeds it as
``kubeforge_k3s_double`` next to this package (``kubeforge_kubeadm_double``).
"""
import importlib

_K3S = "kubeforge_k3s_double" if __name__.startswith("kubeforge_") else "k3s"

api = importlib.import_module(_K3S + ".api")
state = importlib.import_module(_K3S + ".state")
pki = importlib.import_module(_K3S + ".pki")
klog = importlib.import_module(_K3S + ".klog")
etcd = importlib.import_module(_K3S + ".etcd")
rbac = importlib.import_module(_K3S + ".rbac")

# modules of the K3s package that the kubeadm build embeds (api -> fieldmanager, klog, protobuf, rbac,
# serviceaccount, state; serviceaccount -> rbac; etcd -> klog, state)
EMBEDDED = ("__init__", "api", "fieldmanager", "protobuf", "rbac", "serviceaccount", "state", "pki", "klog", "etcd")
