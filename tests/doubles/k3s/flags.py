"""Flag tables and a Go-flag/urfave-cli-like parser for `k3s server|agent`.

Parsing follows Go's flag package as used by urfave/cli v2 (K3s sets
DisableSliceFlagSeparator, so only the flags marked split=True accept
comma-separated values, via K3s's util.SplitStringSlice):

* ``-name``/``--name``, ``--name=value`` or ``--name value``; bool flags take
  no separate value (``--flag=false`` to unset);
* parsing stops at the first non-flag argument or after ``--``;
* errors: ``flag provided but not defined: -x``, ``flag needs an argument: -x``,
  ``invalid boolean value "v" for -x: parse error``,
  ``invalid value "v" for flag -x: parse error``, ``bad flag syntax: ---x``.
"""
import re


class FlagError(Exception):
    pass


class Flag:
    __slots__ = ("name", "aliases", "kind", "default", "env", "split", "usage")

    def __init__(self, name, kind="string", default=None, aliases=(), env=(), split=False, usage=""):
        self.name = name
        self.kind = kind  # bool | string | int | slice | duration
        self.default = default
        self.aliases = tuple(aliases)
        self.env = tuple(env)
        self.split = split
        self.usage = usage


def F(name, kind="string", default=None, aliases=(), env=(), split=False, usage=""):
    if isinstance(env, str):
        env = (env,)
    if isinstance(aliases, str):
        aliases = (aliases,)
    return Flag(name, kind, default, aliases, env, split, usage)


B, S, I, R, D = "bool", "string", "int", "slice", "duration"

_LOG_FLAGS = [
    F("config", S, "/etc/rancher/k3s/config.yaml", "c", "K3S_CONFIG_FILE", usage="(config) Load configuration from FILE"),
    F("debug", B, False, env="K3S_DEBUG", usage="(logging) Turn on debug logs"),
    F("v", I, 0, usage="(logging) Number for the log level verbosity"),
    F("vmodule", S, usage="(logging) Comma-separated list of FILE_PATTERN=LOG_LEVEL settings for file-filtered logging"),
    F("log", S, aliases="l", usage="(logging) Log to file"),
    F("alsologtostderr", B, False, usage="(logging) Log to standard error as well as file (if set)"),
]

# flags shared by server and agent (agent/node, runtime, networking)
_NODE_FLAGS = [
    F("node-name", S, env="K3S_NODE_NAME", usage="(agent/node) Node name"),
    F("with-node-id", B, False, usage="(agent/node) Append id to node name"),
    F("node-label", R, usage="(agent/node) Registering and starting kubelet with set of labels"),
    F("node-taint", R, usage="(agent/node) Registering kubelet with set of taints"),
    F("image-credential-provider-bin-dir", S, "/var/lib/rancher/credentialprovider/bin"),
    F("image-credential-provider-config", S, "/var/lib/rancher/credentialprovider/config.yaml"),
    F("container-runtime-endpoint", S, usage="(agent/runtime) Disable embedded containerd and use the CRI socket at the given path"),
    F("default-runtime", S),
    F("image-service-endpoint", S),
    F("disable-default-registry-endpoint", B, False),
    F("nonroot-devices", B, False),
    F("pause-image", S, "rancher/mirrored-pause:3.6"),
    F("snapshotter", S, "overlayfs"),
    F("private-registry", S, "/etc/rancher/k3s/registries.yaml"),
    F("node-ip", R, aliases="i", split=True, usage="(agent/networking) IPv4/IPv6 addresses to advertise for node"),
    F("node-internal-dns", R, split=True),
    F("node-external-ip", R, split=True),
    F("node-external-dns", R, split=True),
    F("resolv-conf", S, env="K3S_RESOLV_CONF"),
    F("flannel-iface", S),
    F("flannel-conf", S),
    F("flannel-cni-conf", S),
    F("kubelet-arg", R, usage="(agent/flags) Customized flag for kubelet process"),
    F("kube-proxy-arg", R, usage="(agent/flags) Customized flag for kube-proxy process"),
    F("protect-kernel-defaults", B, False),
    F("selinux", B, False, env="K3S_SELINUX"),
    F("lb-server-port", I, 6444, env="K3S_LB_SERVER_PORT"),
    F("rootless", B, False),
    F("prefer-bundled-bin", B, False),
    F("enable-pprof", B, False),
    F("vpn-auth", S, env="K3S_VPN_AUTH"),
    F("vpn-auth-file", S, env="K3S_VPN_AUTH_FILE"),
    F("airgap-extra-registry", R),
]

SERVER_FLAGS = _LOG_FLAGS + [
    F("bind-address", S, usage="(listener) k3s bind address (default: 0.0.0.0)"),
    F("https-listen-port", I, 6443, usage="(listener) HTTPS listen port"),
    F("advertise-address", S),
    F("advertise-port", I, 0),
    F("tls-san", R, split=True, usage="(listener) Add additional hostnames or IPv4/IPv6 addresses as Subject Alternative Names on the server TLS cert"),
    F("tls-san-security", B, True),
    F("data-dir", S, aliases="d", env="K3S_DATA_DIR", usage="(data) Folder to hold state"),
    F("cluster-cidr", R, split=True, usage="(networking) IPv4/IPv6 network CIDRs to use for pod IPs (default: 10.42.0.0/16)"),
    F("service-cidr", R, split=True, usage="(networking) IPv4/IPv6 network CIDRs to use for service IPs (default: 10.43.0.0/16)"),
    F("service-node-port-range", S, "30000-32767"),
    F("cluster-dns", R, split=True),
    F("cluster-domain", S, "cluster.local"),
    F("flannel-backend", S, "vxlan"),
    F("flannel-ipv6-masq", B, False),
    F("flannel-external-ip", B, False),
    F("egress-selector-mode", S, "agent"),
    F("servicelb-namespace", S, "kube-system"),
    F("write-kubeconfig", S, aliases="o", env="K3S_KUBECONFIG_OUTPUT", usage="(client) Write kubeconfig for admin client to this file"),
    F("write-kubeconfig-mode", S, env="K3S_KUBECONFIG_MODE", usage="(client) Write kubeconfig with this mode"),
    F("write-kubeconfig-group", S, env="K3S_KUBECONFIG_GROUP"),
    F("helm-job-image", S),
    F("token", S, aliases="t", env="K3S_TOKEN", usage="(cluster) Shared secret used to join a server or agent to a cluster"),
    F("token-file", S, env="K3S_TOKEN_FILE"),
    F("agent-token", S, env="K3S_AGENT_TOKEN"),
    F("agent-token-file", S, env="K3S_AGENT_TOKEN_FILE"),
    F("server", S, aliases="s", env="K3S_URL", usage="(cluster) Server to connect to, used to join a cluster"),
    F("cluster-init", B, False, env="K3S_CLUSTER_INIT"),
    F("cluster-reset", B, False, env="K3S_CLUSTER_RESET"),
    F("cluster-reset-restore-path", S),
    F("kube-apiserver-arg", R),
    F("etcd-arg", R),
    F("kube-controller-manager-arg", R),
    F("kube-scheduler-arg", R),
    F("kube-cloud-controller-manager-arg", R),
    F("datastore-endpoint", S, env="K3S_DATASTORE_ENDPOINT"),
    F("datastore-cafile", S, env="K3S_DATASTORE_CAFILE"),
    F("datastore-certfile", S, env="K3S_DATASTORE_CERTFILE"),
    F("datastore-keyfile", S, env="K3S_DATASTORE_KEYFILE"),
    F("etcd-expose-metrics", B, False),
    F("etcd-disable-snapshots", B, False),
    F("etcd-snapshot-name", S, "etcd-snapshot"),
    F("etcd-snapshot-schedule-cron", S, "0 */12 * * *"),
    F("etcd-snapshot-retention", I, 5),
    F("etcd-snapshot-dir", S),
    F("etcd-snapshot-compress", B, False),
    F("etcd-s3", B, False),
    F("etcd-s3-endpoint", S, "s3.amazonaws.com"),
    F("etcd-s3-endpoint-ca", S),
    F("etcd-s3-skip-ssl-verify", B, False),
    F("etcd-s3-access-key", S, env="AWS_ACCESS_KEY_ID"),
    F("etcd-s3-secret-key", S, env="AWS_SECRET_ACCESS_KEY"),
    F("etcd-s3-session-token", S, env="AWS_SESSION_TOKEN"),
    F("etcd-s3-bucket", S),
    F("etcd-s3-bucket-lookup-type", S),
    F("etcd-s3-region", S, "us-east-1"),
    F("etcd-s3-folder", S),
    F("etcd-s3-proxy", S),
    F("etcd-s3-config-secret", S),
    F("etcd-s3-insecure", B, False),
    F("etcd-s3-timeout", D, "5m0s"),
    F("etcd-s3-retention", I, 5),
    F("default-local-storage-path", S),
    F("disable", R, split=True, usage="(components) Do not deploy packaged components and delete any deployed components"),
    F("disable-scheduler", B, False),
    F("disable-cloud-controller", B, False),
    F("disable-kube-proxy", B, False),
    F("disable-network-policy", B, False),
    F("disable-helm-controller", B, False),
    F("disable-apiserver", B, False),
    F("disable-controller-manager", B, False),
    F("disable-etcd", B, False),
    F("disable-agent", B, False),
    F("embedded-registry", B, False),
    F("supervisor-metrics", B, False),
    F("system-default-registry", S, env="K3S_SYSTEM_DEFAULT_REGISTRY"),
    F("secrets-encryption", B, False),
    F("secrets-encryption-provider", S, "aescbc"),
    F("kine-tls", B, False),
] + _NODE_FLAGS

AGENT_FLAGS = _LOG_FLAGS + [
    F("token", S, aliases="t", env="K3S_TOKEN"),
    F("token-file", S, env="K3S_TOKEN_FILE"),
    F("server", S, aliases="s", env="K3S_URL"),
    F("data-dir", S, aliases="d", env="K3S_DATA_DIR"),
    F("bind-address", S),
    F("disable-apiserver-lb", B, False),
] + _NODE_FLAGS


class FlagTable:
    def __init__(self, flags):
        self.flags = flags
        self.by_name = {}
        for f in flags:
            for n in (f.name,) + f.aliases:
                if n in self.by_name:
                    raise AssertionError("duplicate flag %s" % n)
                self.by_name[n] = f

    def valid_names(self):
        return set(self.by_name)

    def usage_lines(self):
        out = []
        for f in self.flags:
            names = [("-" if len(f.name) == 1 else "--") + f.name] + ["-" + a for a in f.aliases]
            label = ", ".join(names) + ("" if f.kind == B else " value")
            extra = ""
            if f.default not in (None, False, "", 0):
                extra = ' (default: %s)' % (f.default if f.kind != S else '"%s"' % f.default)
            env = " [%s]" % ", ".join("$" + e for e in f.env) if f.env else ""
            out.append("   %-45s %s%s%s" % (label, f.usage, extra, env))
        return out


# `k3s etcd-snapshot save|delete|ls|prune` (pkg/cli/cmds/etcd_snapshot.go, with the --token and --server of the
# builds whose subcommands call the running server); ls adds -o/--output, prune --snapshot-retention.
ETCD_SNAPSHOT_FLAGS = _LOG_FLAGS + [
    F("node-name", S, env="K3S_NODE_NAME", usage="(agent/node) Node name"),
    F("data-dir", S, aliases="d", env="K3S_DATA_DIR", usage="(data) Folder to hold state"),
    F("token", S, aliases="t", env="K3S_TOKEN", usage="(cluster) Shared secret used to join a server or agent to a cluster"),
    F("server", S, "https://127.0.0.1:6443", aliases="s", env="K3S_URL", usage="(cluster) Server to connect to"),
    F("dir", S, aliases="etcd-snapshot-dir", usage="(db) Directory to save etcd on-demand snapshot. (default: ${data-dir}/db/snapshots)"),
    F("name", S, "on-demand", usage="(db) Set the base name of the etcd on-demand snapshot (appended with UNIX timestamp)."),
    F("snapshot-compress", B, False, aliases="etcd-snapshot-compress", usage="(db) Compress etcd snapshot"),
    F("s3", B, False, aliases="etcd-s3", usage="(db) Enable backup to S3"),
    F("s3-endpoint", S, "s3.amazonaws.com", aliases="etcd-s3-endpoint", usage="(db) S3 endpoint url"),
    F("s3-endpoint-ca", S, aliases="etcd-s3-endpoint-ca", usage="(db) S3 custom CA cert to connect to S3 endpoint"),
    F("s3-skip-ssl-verify", B, False, aliases="etcd-s3-skip-ssl-verify", usage="(db) Disables S3 SSL certificate validation"),
    F("s3-access-key", S, aliases="etcd-s3-access-key", env="AWS_ACCESS_KEY_ID", usage="(db) S3 access key"),
    F("s3-secret-key", S, aliases="etcd-s3-secret-key", env="AWS_SECRET_ACCESS_KEY", usage="(db) S3 secret key"),
    F("s3-bucket", S, aliases="etcd-s3-bucket", usage="(db) S3 bucket name"),
    F("s3-region", S, "us-east-1", aliases="etcd-s3-region", usage="(db) S3 region / bucket location (optional)"),
    F("s3-folder", S, aliases="etcd-s3-folder", usage="(db) S3 folder"),
    F("s3-insecure", B, False, aliases="etcd-s3-insecure", usage="(db) Disables S3 over HTTPS"),
    F("s3-timeout", D, "5m0s", aliases="etcd-s3-timeout", usage="(db) S3 timeout"),
]

SERVER = FlagTable(SERVER_FLAGS)
AGENT = FlagTable(AGENT_FLAGS)
ETCD_SNAPSHOT = FlagTable(ETCD_SNAPSHOT_FLAGS)
ETCD_SNAPSHOT_LS = FlagTable(ETCD_SNAPSHOT_FLAGS + [F("output", S, aliases="o", usage="(db) List format. Default: standard. Optional: json")])
ETCD_SNAPSHOT_PRUNE = FlagTable(ETCD_SNAPSHOT_FLAGS + [F("snapshot-retention", I, 5, usage="(db) Number of snapshots to retain.")])

_BOOL = {"1": True, "t": True, "T": True, "true": True, "TRUE": True, "True": True,
         "0": False, "f": False, "F": False, "false": False, "FALSE": False, "False": False}
_DUR_RE = re.compile(r"^([0-9]*(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+$")


def _convert(flag, name, raw):
    if flag.kind == I:
        try:
            return int(raw, 0) if not re.match(r"^[-+]?0[0-9]", raw) else int(raw, 8)
        except ValueError:
            raise FlagError('invalid value "%s" for flag -%s: parse error' % (raw, name))
    if flag.kind == D:
        if raw != "0" and not _DUR_RE.match(raw.lstrip("+-")):
            raise FlagError('invalid value "%s" for flag -%s: parse error' % (raw, name))
        return raw
    return raw


def split_values(flag, raw):
    if flag.kind == R and flag.split:
        return [p.strip() for p in raw.split(",") if p.strip()]
    return [raw]


def parse(table, args):
    """Parse args (no subcommand).  Return (values, positional).

    values maps canonical flag name -> value (list for slice flags)."""
    values = {}
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            return values, args[i + 1:]
        if len(a) < 2 or a[0] != "-":
            return values, args[i:]
        body = a[2:] if a.startswith("--") else a[1:]
        if not body or body[0] == "-" or body[0] == "=":
            raise FlagError("bad flag syntax: %s" % a)
        if "=" in body:
            name, raw = body.split("=", 1)
            has_value = True
        else:
            name, raw, has_value = body, None, False
        if name in ("h", "help"):
            raise HelpRequested()
        flag = table.by_name.get(name)
        if flag is None:
            raise FlagError("flag provided but not defined: -%s" % name)
        i += 1
        if flag.kind == B:
            if has_value:
                if raw not in _BOOL:
                    raise FlagError('invalid boolean value "%s" for -%s: parse error' % (raw, name))
                values[flag.name] = _BOOL[raw]
            else:
                values[flag.name] = True
            continue
        if not has_value:
            if i >= len(args):
                raise FlagError("flag needs an argument: -%s" % name)
            raw = args[i]
            i += 1
        v = _convert(flag, name, raw)
        if flag.kind == R:
            values.setdefault(flag.name, []).extend(split_values(flag, v))
        else:
            values[flag.name] = v
    return values, []


class HelpRequested(Exception):
    pass


def resolve(table, config_values, cli_values, environ):
    """Merge: CLI > config file > environment > default.

    For slice flags the CLI list replaces the config list (documented K3s
    semantics).  Returns (merged, source) where source[name] is one of
    'cli', 'config', 'env', 'default'."""
    merged, source = {}, {}
    for f in table.flags:
        if f.name in cli_values:
            merged[f.name], source[f.name] = cli_values[f.name], "cli"
        elif f.name in config_values:
            merged[f.name], source[f.name] = config_values[f.name], "config"
        else:
            envval = None
            for e in f.env:
                if environ.get(e):
                    envval = environ[e]
                    break
            if envval is not None:
                if f.kind == B:
                    if envval not in _BOOL:
                        raise FlagError('could not parse "%s" as bool value from env %s for flag %s: parse error'
                                        % (envval, f.env[0], f.name))
                    v = _BOOL[envval]
                elif f.kind == R:
                    v = [p.strip() for p in envval.split(",") if p.strip()]
                else:
                    v = _convert(f, f.name, envval)
                merged[f.name], source[f.name] = v, "env"
            else:
                d = f.default
                if f.kind == R:
                    d = list(d or [])
                merged[f.name], source[f.name] = d, "default"
    return merged, source
