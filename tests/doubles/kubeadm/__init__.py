"""kubeforge kubeadm and kubelet test doubles (stdlib only).

Strict stand-ins for the ``kubeadm`` and ``kubelet`` binaries used by the
Molecule scenarios of this collection.  They reuse the K3s double's API
server, object store, PKI and logging helpers (see k3slib.py).  README.md in
this directory says what is faithful and what is simplified.  Entry point:
``main.run()``.
"""
