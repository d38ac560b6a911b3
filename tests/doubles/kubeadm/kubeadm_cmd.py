"""The ``kubeadm`` program of the double: global flags, then one module of ``commands`` a subcommand
(version, config, init, join, reset, token, upgrade)."""
from __future__ import annotations

import sys

from .kconfig import ConfigError
from .commands.base import Fail, GLOBAL_FLAGS, STACK_HINT
from .commands.config import cmd_config
from .commands.init import cmd_init
from .commands.join import cmd_join
from .commands.reset import cmd_reset
from .commands.token import cmd_token
from .commands.upgrade import cmd_upgrade
from .commands.version import cmd_version


USAGE = """

    ┌──────────────────────────────────────────────────────────┐
    │ KUBEADM                                                  │
    │ Easily bootstrap a secure Kubernetes cluster             │
    │                                                          │
    │ (kubeforge test double: version, config validate, init,  │
    │  join, reset, token, upgrade)                            │
    └──────────────────────────────────────────────────────────┘

Usage:
  kubeadm [command]

Available Commands:
  config      Manage configuration for a kubeadm cluster persisted in a ConfigMap in the cluster
  init        Run this command in order to set up the Kubernetes control plane
  join        Run this on any machine you wish to join an existing cluster
  reset       Performs a best effort revert of changes made to this host by 'kubeadm init' or 'kubeadm join'
  token       Manage bootstrap tokens
  upgrade     Upgrade your cluster smoothly to a newer version with this command
  version     Print the version of kubeadm
"""


COMMANDS = {"version": cmd_version, "config": cmd_config, "init": cmd_init, "join": cmd_join, "reset": cmd_reset,
            "token": cmd_token, "upgrade": cmd_upgrade}


def main(argv):
    args = argv[1:]
    # leading global flags
    while args and args[0].startswith("-") and args[0] not in ("-h", "--help"):
        name = args[0].lstrip("-").split("=", 1)[0]
        if name in ("v",) or name in GLOBAL_FLAGS:
            if "=" not in args[0] and GLOBAL_FLAGS.get(name, "int") != "bool" and len(args) > 1:
                args = args[2:]
            else:
                args = args[1:]
            continue
        break
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    cmd = args[0]
    fn = COMMANDS.get(cmd)
    try:
        if fn is None:
            if cmd in ("certs", "kubeconfig", "alpha", "completion"):
                raise Fail('"kubeadm %s" is not implemented by the kubeforge kubeadm test double' % cmd)
            raise Fail('unknown command "%s" for "kubeadm"' % cmd)
        return fn(args[1:]) or 0
    except (Fail, ConfigError) as e:
        phase = getattr(e, "phase", None)
        msg = str(e)
        if phase:
            msg = "error execution phase %s: %s" % (phase, msg)
        sys.stdout.flush()
        sys.stderr.write("error: %s\n%s" % (msg, STACK_HINT))
        sys.stderr.flush()
        return 1
