"""Entry point of the kubeadm/kubelet doubles: arch guard, then the program by name."""
import os
import sys

from common import hostarch

from . import version


def arch_guard(argv0):
    hostarch.arch_guard(argv0, version.BAKED_ARCH)


def program(argv0, forced=None):
    if forced:
        return forced
    if version.PROGRAM:
        return version.PROGRAM
    base = os.path.basename(argv0 or "")
    return "kubelet" if base.startswith("kubelet") else "kubeadm"


def main(argv=None, prog=None):
    argv = list(sys.argv if argv is None else argv)
    argv0 = argv[0] if argv else "kubeadm"
    arch_guard(argv0)
    try:
        if program(argv0, prog) == "kubelet":
            from . import kubelet
            return kubelet.main(argv)
        from . import kubeadm_cmd
        return kubeadm_cmd.main(argv)
    except KeyboardInterrupt:
        return 130


def run(prog=None):
    rc = main(prog=prog)
    sys.stdout.flush()
    sys.exit(rc or 0)
