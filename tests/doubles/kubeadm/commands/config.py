"""``kubeadm config`` (validate, print init-defaults / join-defaults)."""
from __future__ import annotations

import sys

from .. import kconfig, version, yamlk
from .base import Fail, out, parse, read_config


def cmd_config(args):
    if not args or args[0] in ("-h", "--help"):
        out("Usage:\n  kubeadm config [command]\n\nAvailable Commands:\n  images\n  migrate\n  print\n  validate")
        return 0
    sub, rest = args[0], args[1:]
    if sub == "validate":
        vals, pos, _ = parse(rest, {"config": "str", "allow-experimental-api": "bool", "kubeconfig": "str"})
        if not vals.get("config"):
            raise Fail("the --config flag is mandatory")
        text = read_config(vals["config"])
        ld = kconfig.load_text(text, strict=True)
        errs = kconfig.validate_loaded(ld, version.VERSION)
        if errs:
            raise Fail(kconfig.aggregate(errs))
        out("ok")
        return 0
    if sub == "print":
        what = rest[0] if rest else ""
        if what == "init-defaults":
            init, cluster = kconfig.default_init({"bootstrapTokens": [{"token": "abcdef.0123456789abcdef"}],
                                                  "localAPIEndpoint": {"advertiseAddress": "1.2.3.4"},
                                                  "nodeRegistration": {"name": "node"}},
                                                 {"kubernetesVersion": "%d.%d.0" % (version.MAJOR, version.MINOR)},
                                                 version.VERSION)
            sys.stdout.write(yamlk.dump_all([init, cluster]))
            return 0
        if what == "join-defaults":
            j = kconfig.default_join({"discovery": {"bootstrapToken": {"token": "abcdef.0123456789abcdef",
                                                                       "apiServerEndpoint": "kube-apiserver:6443",
                                                                       "unsafeSkipCAVerification": True}},
                                      "nodeRegistration": {"name": "node"}})
            sys.stdout.write(yamlk.dump(j))
            return 0
    raise Fail('"kubeadm config %s" is not implemented by the kubeforge kubeadm test double' % " ".join(args))
