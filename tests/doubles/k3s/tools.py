"""Embedded tool dispatch: kubectl (passthrough to /usr/bin/kubectl), crictl, ctr."""
import os
import sys

from . import version

KUBECTL = "/usr/bin/kubectl"
NOT_IMPL = "%s %s: not implemented by the kubeforge K3s test double"


def kubectl(args, environ):
    real = environ.get("KUBEFORGE_DOUBLE_KUBECTL") or KUBECTL  # test hook; default absolute path
    if not os.path.isfile(real) or not os.access(real, os.X_OK):
        sys.stderr.write("kubectl: %s not found; the kubeforge K3s test double needs a real kubectl there\n" % real)
        return 1
    try:
        me = os.path.realpath(sys.argv[0])
        if os.path.realpath(real) == me:
            sys.stderr.write("kubectl: %s resolves to the K3s test double itself; refusing to recurse\n" % real)
            return 1
    except OSError:
        pass
    env = dict(environ)
    has_flag = any(a == "--kubeconfig" or a.startswith("--kubeconfig=") for a in args)
    if not env.get("KUBECONFIG") and not has_flag:
        if os.path.exists("/etc/rancher/k3s/k3s.yaml"):
            kc = "/etc/rancher/k3s/k3s.yaml"
        else:
            kc = os.path.join(os.path.expanduser("~"), ".kube", "k3s.yaml")
        if os.path.exists(kc) and not os.access(kc, os.R_OK):
            sys.stderr.write('time="" level=warning msg="Unable to read %s, please start server with '
                             '--write-kubeconfig-mode or --write-kubeconfig-group to modify kube config permissions"\n' % kc)
        env["KUBECONFIG"] = kc
    sys.stdout.flush()
    os.execve(real, ["kubectl"] + list(args), env)


def crictl(args, environ):
    if args[:1] == ["version"]:
        print("Version:  0.1.0\nRuntimeName:  containerd\nRuntimeVersion:  v2.0.5-k3s1\nRuntimeApiVersion:  v1")
        return 0
    if args[:1] in (["--version"], ["-v"]):
        print("crictl version v1.31.0-k3s2")
        return 0
    sys.stderr.write(NOT_IMPL % ("crictl", " ".join(args)) + "\n")
    return 1


def ctr(args, environ):
    if args[:1] == ["version"]:
        print("Client:\n  Version:  v2.0.5-k3s1\n  Revision: \n  Go version: %s\n\n"
              "Server:\n  Version:  v2.0.5-k3s1\n  Revision: \n  UUID: 00000000-0000-0000-0000-000000000000"
              % version.GO_VERSION)
        return 0
    if args[:1] in (["--version"], ["-v"]):
        print("ctr github.com/containerd/containerd/v2 v2.0.5-k3s1")
        return 0
    sys.stderr.write(NOT_IMPL % ("ctr", " ".join(args)) + "\n")
    return 1


TOOLS = {"kubectl": kubectl, "crictl": crictl, "ctr": ctr}
