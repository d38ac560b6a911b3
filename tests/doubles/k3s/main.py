"""Entry point of the kubeforge K3s test double."""
import os
import sys

from common import hostarch

from . import config, flags, klog, tools, version

ROOT_USAGE = """NAME:
   k3s - Kubernetes, but small and simple

USAGE:
   k3s [global options] command [command options] [arguments...]

VERSION:
   %s (%s)

COMMANDS:
   server         Run management server
   agent          Run node agent
   kubectl        Run kubectl
   crictl         Run crictl
   ctr            Run ctr
   check-config   Run config check
   etcd-snapshot  Manage etcd snapshots
   help, h        Shows a list of commands or help for one command

GLOBAL OPTIONS:
   --debug                     (logging) Turn on debug logs [$K3S_DEBUG]
   --data-dir value, -d value  (data) Folder to hold state (default: /var/lib/rancher/k3s or ${HOME}/.rancher/k3s if not root) [$K3S_DATA_DIR]
   --help, -h                  show help
   --version, -v               print the version
"""

COMMANDS = ("server", "agent", "kubectl", "crictl", "ctr", "check-config", "etcd-snapshot",
            "token", "secrets-encrypt", "certificate", "completion", "help", "h")


def arch_guard(argv0):
    hostarch.arch_guard(argv0, version.BAKED_ARCH)


def command_usage(cmd, table):
    out = ["NAME:", "   k3s %s - Run %s" % (cmd, "management server" if cmd == "server" else "node agent"), "",
           "USAGE:", "   k3s %s [OPTIONS]" % cmd, "", "OPTIONS:"]
    out += table.usage_lines()
    return "\n".join(out) + "\n"


def parse_command(cmd, table, args, environ, strip):
    """Config merge + flag parsing; returns (options, source)."""
    try:
        cfg_args, files = config.load(args, environ)
    except config.ConfigError as e:
        klog.fatal("%s", e)
    if strip:
        cfg_args = config.strip_invalid(cfg_args, table.valid_names(), klog.warn)
    try:
        cfg_vals, _ = flags.parse(table, cfg_args)
        cli_vals, _pos = flags.parse(table, args)
        o, source = flags.resolve(table, cfg_vals, cli_vals, environ)
    except flags.HelpRequested:
        sys.stdout.write(command_usage(cmd, table))
        raise SystemExit(0)
    except flags.FlagError as e:
        sys.stdout.write("Incorrect Usage: %s\n\n" % e)
        sys.stdout.write(command_usage(cmd, table))
        sys.stdout.flush()
        klog.fatal("%s", e)
    return o, source


def cmd_server(args, environ):
    from . import server
    o, source = parse_command("server", flags.SERVER, args, environ, strip=True)
    return server.K3sServer(o, source, environ).run()


def cmd_agent(args, environ):
    from . import agent
    o, _ = parse_command("agent", flags.AGENT, args, environ, strip=False)
    return agent.run(o, environ)


def cmd_etcd_snapshot(args, environ):
    sub = args[0] if args and not args[0].startswith("-") else "save"
    rest = args[1:] if args and not args[0].startswith("-") else args
    if sub not in ("save", "delete", "ls", "list", "l", "prune"):
        sys.stdout.write("No help topic for '%s'\n" % sub)
        return 3
    dd = environ.get("K3S_DATA_DIR") or ("/var/lib/rancher/k3s" if os.geteuid() == 0 else os.path.expanduser("~/.rancher/k3s"))
    for i, a in enumerate(rest):
        for fl in ("--data-dir", "-d", "-data-dir"):
            if a == fl and i + 1 < len(rest):
                dd = rest[i + 1]
            elif a.startswith(fl + "="):
                dd = a.split("=", 1)[1]
    server_dir = os.path.join(dd, "server")
    if not os.path.isdir(os.path.join(server_dir, "db", "etcd")):
        klog.fatal("etcd database not found in %s", server_dir)
    klog.fatal("etcd-snapshot %s is not implemented by the kubeforge K3s test double", sub)


def cmd_check_config(args, environ):
    print("Verifying binaries in /var/lib/rancher/k3s/data/current/bin:")
    print("- sha256sum: good")
    print("\nSystem:\n- kubeforge K3s test double: no real checks performed")
    print("\nSTATUS: pass")
    return 0


def main(argv=None, environ=None):
    argv = list(sys.argv if argv is None else argv)
    environ = dict(os.environ if environ is None else environ)
    argv0 = argv[0] if argv else "k3s"
    arch_guard(argv0)
    base = os.path.basename(argv0)
    try:
        if base in tools.TOOLS:
            return tools.TOOLS[base](argv[1:], environ)
        args = argv[1:]
        # root flags (before the command)
        while args and args[0].startswith("-"):
            a = args.pop(0)
            if a in ("-v", "--version", "-version"):
                sys.stdout.write("\n".join(version.version_lines()) + "\n")
                return 0
            if a in ("-h", "--help", "-help"):
                sys.stdout.write(ROOT_USAGE % (version.VERSION, version.COMMIT))
                return 0
            if a in ("--debug", "-debug"):
                klog.DEBUG = True
                continue
            name = a.lstrip("-").split("=", 1)[0]
            sys.stdout.write("Incorrect Usage. flag provided but not defined: -%s\n\n" % name)
            sys.stdout.write(ROOT_USAGE % (version.VERSION, version.COMMIT))
            klog.fatal("flag provided but not defined: -%s", name)
        if not args:
            sys.stdout.write(ROOT_USAGE % (version.VERSION, version.COMMIT))
            return 0
        cmd, rest = args[0], args[1:]
        if cmd in tools.TOOLS:
            return tools.TOOLS[cmd](rest, environ)
        if cmd == "server":
            return cmd_server(rest, environ)
        if cmd == "agent":
            return cmd_agent(rest, environ)
        if cmd == "etcd-snapshot":
            return cmd_etcd_snapshot(rest, environ)
        if cmd == "check-config":
            return cmd_check_config(rest, environ)
        if cmd in ("help", "h"):
            if rest and rest[0] not in COMMANDS:
                sys.stdout.write("No help topic for '%s'\n" % rest[0])
                return 3
            sys.stdout.write(ROOT_USAGE % (version.VERSION, version.COMMIT))
            return 0
        if cmd in COMMANDS:
            sys.stderr.write(tools.NOT_IMPL % ("k3s", cmd) + "\n")
            return 1
        # urfave/cli: with no matching command the root action shows help for
        # the first argument -> "No help topic for '<x>'", exit status 3.
        sys.stdout.write("No help topic for '%s'\n" % cmd)
        return 3
    except klog.Fatal:
        return 1
    except KeyboardInterrupt:
        return 130


def run():
    rc = main()
    sys.stdout.flush()
    sys.exit(rc or 0)
