"""kubeforge K3s test double (stdlib only).

A strict stand-in for the K3s binary used by the Molecule scenarios of this
collection.  See README.md in this directory for what is faithful and what is
simplified.  Entry point: ``main.main()``.
"""
