"""Entry point of the kubeforge K3s test double."""
import json
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


def parse_command(cmd, table, args, environ, strip, positional=None):
    """Config merge + flag parsing; returns (options, source). A list given as ``positional`` receives the
    arguments after the flags."""
    try:
        cfg_args, files = config.load(args, environ)
    except config.ConfigError as e:
        klog.fatal("%s", e)
    if strip:
        cfg_args = config.strip_invalid(cfg_args, table.valid_names(), klog.warn)
    try:
        cfg_vals, _ = flags.parse(table, cfg_args)
        cli_vals, pos = flags.parse(table, args)
        if positional is not None:
            positional.extend(pos)
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
    """`k3s etcd-snapshot save|delete|ls|prune`: a request to the running local server (snapshot.py)."""
    from . import clientaccess, snapshot, tokens
    from .server import default_data_dir
    sub = args[0] if args and not args[0].startswith("-") else "save"
    rest = args[1:] if args and not args[0].startswith("-") else args
    if sub not in ("save", "delete", "ls", "list", "l", "prune"):
        sys.stdout.write("No help topic for '%s'\n" % sub)
        return 3
    op = "list" if sub in ("ls", "list", "l") else sub  # the request's operation
    table = {"list": flags.ETCD_SNAPSHOT_LS, "prune": flags.ETCD_SNAPSHOT_PRUNE}.get(op, flags.ETCD_SNAPSHOT)
    positional = []
    o, source = parse_command("etcd-snapshot", table, rest, environ, strip=True, positional=positional)
    if op == "save" and positional:
        klog.fatal("this command does not take any arguments")
    if op == "delete" and not positional:
        klog.fatal("no snapshots given for removal")
    if op == "list" and o["output"] and o["output"] not in ("json", "yaml", "table"):
        klog.fatal("invalid output format: %s", o["output"])
    if o["s3"]:
        klog.fatal("etcd-snapshot with S3 is not implemented by the kubeforge K3s test double")
    if op == "list" and o["output"] == "yaml":
        klog.fatal("etcd-snapshot ls -o yaml is not implemented by the kubeforge K3s test double (use -o json)")
    server_dir = os.path.join(os.path.abspath(os.path.expanduser(o["data-dir"] or default_data_dir())), "server")
    # A server without embedded etcd (SQLite, an external datastore): the message of the builds that opened the
    # etcd files themselves (CONTRACT.md, K3s issues 4845 and 8960).
    if not os.path.isdir(os.path.join(server_dir, "db", "etcd")):
        klog.fatal("etcd database not found in %s", server_dir)
    raw = o["token"]
    if not raw:
        token_file = os.path.join(server_dir, "token")
        try:
            with open(token_file) as fh:
                raw = fh.read().rstrip("\n")
        except OSError as e:
            klog.fatal("open %s: %s", token_file, (e.strerror or str(e)).lower())
    body = snapshot.request_body(op, o, positional, {k for k, v in source.items() if v != "default"})
    try:
        tok, bundle = clientaccess.validate(o["server"], raw)
        _, data = clientaccess.request(o["server"], "/db/snapshot", "POST", cadata=bundle,
                                       basic=("server", tok.password), body=snapshot.dumps(body),
                                       headers={"Content-Type": "application/json"}, timeout=120)
    except tokens.TokenError as e:
        klog.fatal("%s", e)
    except clientaccess.HTTPStatusError as e:
        klog.fatal("see server log for details: %s", e)
    except clientaccess.AccessError as e:
        klog.fatal("%s", e)
    resp = json.loads(data.decode() or "{}")
    if op == "save":
        for name in resp.get("created") or []:
            klog.info("Snapshot %s saved.", name)
    elif op == "delete":
        deleted = resp.get("deleted") or []
        for name in deleted:
            klog.info("Snapshot %s deleted.", name)
        for name in positional:
            if name not in deleted:
                klog.warn("Snapshot %s not found.", name)
    elif op == "prune":
        for name in resp.get("deleted") or []:
            klog.info("Snapshot %s deleted.", name)
    elif o["output"] == "json":
        sys.stdout.write(json.dumps(resp, indent=4) + "\n")
    else:
        sys.stdout.write(snapshot.table(resp))
    return 0


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
