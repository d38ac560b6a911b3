# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check K3s settings (the content of ``/etc/rancher/k3s/config.yaml``) before they reach a host.

A K3s configuration file maps long flag names without the dashes to values; K3s
turns each entry into ``--name=value`` arguments (one per list item) for the
``server`` or ``agent`` command. K3s itself only notices a bad value when the
service starts, so :func:`check_k3s_config` refuses the usual mistakes first,
on the controller. Pure functions only.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import typing as t
from collections.abc import Mapping
from urllib.parse import urlsplit

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.k3s_token import (
    K3sTokenError,
    parse_k3s_token,
)

COMMANDS = ('server', 'agent')

# Value kinds. SLICE flags are repeatable; SPLIT marks the slice flags whose
# values K3s also splits on commas (util.SplitStringSlice).
BOOL = 'bool'
STRING = 'string'
INT = 'int'
DURATION = 'duration'
SLICE = 'slice'


class FlagSpec(t.NamedTuple):
    """How K3s parses one flag."""

    kind: str
    split: bool = False


def _flags(kind: str, *names: str, split: bool = False) -> dict[str, FlagSpec]:
    return {name: FlagSpec(kind, split) for name in names}


# Flags that every K3s command accepts (config, logging).
_COMMON_FLAGS: dict[str, FlagSpec] = {
    **_flags(STRING, 'config', 'vmodule', 'log'),
    **_flags(BOOL, 'debug', 'alsologtostderr'),
    **_flags(INT, 'v'),
}

# Flags that both `k3s server` and `k3s agent` accept (node, runtime, networking).
_NODE_FLAGS: dict[str, FlagSpec] = {
    **_flags(
        STRING,
        'token', 'token-file', 'server', 'data-dir', 'bind-address',
        'node-name', 'image-credential-provider-bin-dir', 'image-credential-provider-config',
        'container-runtime-endpoint', 'default-runtime', 'image-service-endpoint', 'pause-image',
        'snapshotter', 'private-registry', 'resolv-conf', 'flannel-iface', 'flannel-conf',
        'flannel-cni-conf', 'vpn-auth', 'vpn-auth-file',
    ),
    **_flags(
        BOOL,
        'with-node-id', 'disable-default-registry-endpoint', 'nonroot-devices',
        'protect-kernel-defaults', 'selinux', 'rootless', 'prefer-bundled-bin', 'enable-pprof',
    ),
    **_flags(INT, 'lb-server-port'),
    **_flags(SLICE, 'node-label', 'node-taint', 'kubelet-arg', 'kube-proxy-arg', 'airgap-extra-registry'),
    **_flags(SLICE, 'node-ip', 'node-internal-dns', 'node-external-ip', 'node-external-dns', split=True),
}

_SERVER_ONLY_FLAGS: dict[str, FlagSpec] = {
    **_flags(
        STRING,
        'advertise-address', 'service-node-port-range', 'cluster-domain', 'flannel-backend',
        'egress-selector-mode', 'servicelb-namespace', 'write-kubeconfig', 'write-kubeconfig-mode',
        'write-kubeconfig-group', 'helm-job-image', 'agent-token', 'agent-token-file',
        'cluster-reset-restore-path', 'datastore-endpoint', 'datastore-cafile', 'datastore-certfile',
        'datastore-keyfile', 'etcd-snapshot-name', 'etcd-snapshot-schedule-cron', 'etcd-snapshot-dir',
        'etcd-s3-endpoint', 'etcd-s3-endpoint-ca', 'etcd-s3-access-key', 'etcd-s3-secret-key',
        'etcd-s3-session-token', 'etcd-s3-bucket', 'etcd-s3-bucket-lookup-type', 'etcd-s3-region',
        'etcd-s3-folder', 'etcd-s3-proxy', 'etcd-s3-config-secret', 'default-local-storage-path',
        'system-default-registry', 'secrets-encryption-provider',
    ),
    **_flags(
        BOOL,
        'tls-san-security', 'flannel-ipv6-masq', 'flannel-external-ip', 'cluster-init', 'cluster-reset',
        'etcd-expose-metrics', 'etcd-disable-snapshots', 'etcd-snapshot-compress', 'etcd-s3',
        'etcd-s3-skip-ssl-verify', 'etcd-s3-insecure', 'disable-scheduler', 'disable-cloud-controller',
        'disable-kube-proxy', 'disable-network-policy', 'disable-helm-controller', 'disable-apiserver',
        'disable-controller-manager', 'disable-etcd', 'disable-agent', 'embedded-registry',
        'supervisor-metrics', 'secrets-encryption', 'kine-tls',
    ),
    **_flags(INT, 'https-listen-port', 'advertise-port', 'etcd-snapshot-retention', 'etcd-s3-retention'),
    **_flags(DURATION, 'etcd-s3-timeout'),
    **_flags(
        SLICE,
        'kube-apiserver-arg', 'etcd-arg', 'kube-controller-manager-arg', 'kube-scheduler-arg',
        'kube-cloud-controller-manager-arg',
    ),
    **_flags(SLICE, 'tls-san', 'cluster-cidr', 'service-cidr', 'cluster-dns', 'disable', split=True),
}

_AGENT_ONLY_FLAGS: dict[str, FlagSpec] = _flags(BOOL, 'disable-apiserver-lb')

K3S_FLAGS: dict[str, dict[str, FlagSpec]] = {
    'server': {**_COMMON_FLAGS, **_NODE_FLAGS, **_SERVER_ONLY_FLAGS},
    'agent': {**_COMMON_FLAGS, **_NODE_FLAGS, **_AGENT_ONLY_FLAGS},
}

# One-letter aliases; a config key of one letter becomes `-k=value`.
K3S_FLAG_ALIASES: dict[str, str] = {
    'c': 'config',
    'l': 'log',
    't': 'token',
    's': 'server',
    'd': 'data-dir',
    'o': 'write-kubeconfig',
    'i': 'node-ip',
}
_ALIASES_BY_COMMAND: dict[str, dict[str, str]] = {
    command: {alias: name for alias, name in K3S_FLAG_ALIASES.items() if name in flags}
    for command, flags in K3S_FLAGS.items()
}

# Flags that older K3s releases had and current ones refuse: what to use instead.
REMOVED_FLAGS: dict[str, str] = {
    'no-deploy': "use 'disable' with the same items",
    'no-flannel': "use 'flannel-backend: none'",
    'docker': "use 'container-runtime-endpoint' with the socket of cri-dockerd",
    'cluster-secret': "use 'token'",
    'disable-selinux': "leave SELinux support off by not setting 'selinux: true'",
}

FLANNEL_BACKENDS = ('vxlan', 'host-gw', 'wireguard-native', 'none')
REMOVED_FLANNEL_BACKENDS = ('ipsec', 'wireguard')
EGRESS_SELECTOR_MODES = ('agent', 'cluster', 'pod', 'disabled')
DISABLE_ITEMS = ('traefik', 'servicelb', 'local-storage', 'metrics-server', 'coredns', 'runtimes')
# `disable` items that are really separate boolean flags.
_DISABLE_FLAG_HINTS = {
    'network-policy': 'disable-network-policy',
    'cloud-controller': 'disable-cloud-controller',
    'ccm': 'disable-cloud-controller',
    'kube-proxy': 'disable-kube-proxy',
    'helm-controller': 'disable-helm-controller',
    'scheduler': 'disable-scheduler',
    'etcd': 'disable-etcd',
    'apiserver': 'disable-apiserver',
    'controller-manager': 'disable-controller-manager',
}
SECRETS_ENCRYPTION_PROVIDERS = ('aescbc', 'secretbox')
TAINT_EFFECTS = ('NoSchedule', 'PreferNoSchedule', 'NoExecute')

_CIDR_FLAGS = ('cluster-cidr', 'service-cidr')
_IP_FLAGS = ('cluster-dns', 'node-ip', 'node-external-ip', 'advertise-address', 'bind-address')
# name -> (lowest, highest) accepted value
_INT_RANGES: dict[str, tuple[int, int]] = {
    'https-listen-port': (1, 65535),
    'lb-server-port': (1, 65535),
    'advertise-port': (0, 65535),  # 0: use https-listen-port
    'etcd-snapshot-retention': (0, 2 ** 31 - 1),
    'etcd-s3-retention': (0, 2 ** 31 - 1),
    'v': (0, 2 ** 31 - 1),
}
_TOKEN_FLAGS = ('token', 'agent-token')

_BOOL_STRINGS = ('true', 'false')
_DIGITS_RE = re.compile(r'^[0-9]+$')
_DURATION_RE = re.compile(r'^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|ms|s|m|h)'
                          r'(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|ms|s|m|h))*$')
_MODE_RE = re.compile(r'^0?[0-7]{3}$')
_PORT_RANGE_RE = re.compile(r'^([0-9]+)-([0-9]+)$')
_LABEL_NAME_RE = re.compile(r'^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$')
_DNS_SUBDOMAIN_RE = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')


class K3sConfigError(ValueError):
    """Raised when check_k3s_config is called wrongly (not for problems in the settings)."""


def k3s_flag_names(command: str = 'server') -> set[str]:
    """Return every setting name (long flags and one-letter aliases) that ``k3s <command>`` accepts."""
    _check_command(command)
    return set(K3S_FLAGS[command]) | set(_ALIASES_BY_COMMAND[command])


def check_k3s_config(config: t.Any, command: str = 'server') -> list[str]:
    """Return what is wrong with K3s settings ``config`` for ``k3s <command>``; an empty list means OK.

    ``config`` is one configuration file's content: a dict of flag names without
    dashes (``key+`` appends, one-letter aliases allowed) to a scalar or a list.
    Each message names the setting and says how to fix it.
    """
    _check_command(command)
    if not isinstance(config, Mapping):
        return ['the K3s %s configuration must be a dict of setting name to value, got %s'
                % (command, _type_name(config))]
    errors: list[str] = []
    for key, value in config.items():
        errors.extend(_check_entry(key, value, command))
    errors.extend(_check_ip_families(config, command))
    return errors


def _check_command(command: t.Any) -> None:
    if command not in COMMANDS:
        raise K3sConfigError('The K3s command must be one of %s, got %r.' % (', '.join(COMMANDS), command))


def _type_name(value: t.Any) -> str:
    if value is None:
        return 'nothing (null)'
    if isinstance(value, bool):
        return 'the boolean %s' % str(value).lower()
    if isinstance(value, Mapping):
        return 'a mapping'
    if isinstance(value, (list, tuple)):
        return 'a list'
    if isinstance(value, (int, float)):
        return 'the number %s' % value
    return 'a %s' % type(value).__name__


def _canonical(key: str, command: str) -> str:
    """Return the long flag name for ``key`` (append marker removed, alias resolved)."""
    name = key[:-1] if key.endswith('+') else key
    return _ALIASES_BY_COMMAND[command].get(name, name)


def _check_entry(key: t.Any, value: t.Any, command: str) -> list[str]:
    if not isinstance(key, str):
        return ['K3s %s setting names must be strings (flag names without dashes), got %s; quote the name'
                % (command, _type_name(key))]
    name = key[:-1] if key.endswith('+') else key
    flag = _canonical(key, command)
    spec = K3S_FLAGS[command].get(flag)
    if spec is None:
        return [_unknown_key_message(key, name, command)]

    label = "'%s'" % key if flag == name else "'%s' (--%s)" % (key, flag)
    items, errors = _check_kind(label, spec, value)
    if errors:
        return errors
    checker = _VALUE_CHECKS.get(flag)
    if checker is None:
        return []
    return checker(label, flag, value, items)


def _unknown_key_message(key: str, name: str, command: str) -> str:
    stripped = name.lstrip('-')
    if stripped != name and _ALIASES_BY_COMMAND[command].get(stripped, stripped) in K3S_FLAGS[command]:
        return ("K3s %s setting '%s' starts with dashes: write the flag name without them, as '%s'"
                % (command, key, key.lstrip('-')))
    if command == 'agent' and _canonical(key, 'server') in K3S_FLAGS['server']:
        return ("'%s' is a K3s server setting: a K3s agent does not accept it and exits with "
                "\"flag provided but not defined: -%s\"; remove it from the agent configuration"
                % (key, name))
    if command == 'server' and _canonical(key, 'agent') in K3S_FLAGS['agent']:
        return ("'%s' is a K3s agent setting: a K3s server ignores it (\"Unknown flag --%s found in config.yaml, "
                "skipping\"); remove it from the server configuration" % (key, name))
    if name in REMOVED_FLAGS:
        return "K3s %s setting '%s' was removed from K3s; %s" % (command, key, REMOVED_FLAGS[name])
    known = sorted(K3S_FLAGS[command])
    match = difflib.get_close_matches(name.replace('_', '-').lower(), known, n=1, cutoff=0.75)
    if match:
        return "unknown K3s %s setting '%s' (did you mean '%s'?)" % (command, key, match[0] + key[len(name):])
    return ("unknown K3s %s setting '%s': setting names are the long flag names of 'k3s %s' without the "
            "leading dashes (see 'k3s %s --help'); fix the name or remove the setting" % (command, key, command, command))


def _check_kind(label: str, spec: FlagSpec, value: t.Any) -> tuple[list[str], list[str]]:
    """Check the value's shape; return (the value as strings, errors)."""
    if value is None:
        return [], ['%s has no value; give it a value or remove the setting' % label]
    if spec.kind == SLICE:
        return _check_slice(label, spec, value)
    if isinstance(value, Mapping):
        return [], ['%s takes a single value, not a mapping' % label]
    if isinstance(value, (list, tuple)):
        return [], ['%s takes a single value, not a list (K3s would keep only the last item); '
                    'set one value' % label]
    if spec.kind == BOOL:
        if isinstance(value, bool):
            return [str(value).lower()], []
        if isinstance(value, str) and value in _BOOL_STRINGS:
            return [value], []
        return [], ['%s must be true or false, got %s; write true or false' % (label, _show(value))]
    if spec.kind == INT:
        if isinstance(value, int) and not isinstance(value, bool):
            return [str(value)], []
        if isinstance(value, str) and _DIGITS_RE.match(value):
            return [value], []
        return [], ['%s must be a whole number, got %s; write it as a plain number, for example 6443'
                    % (label, _show(value))]
    if spec.kind == DURATION:
        if isinstance(value, str) and (value == '0' or _DURATION_RE.match(value)):
            return [value], []
        if isinstance(value, int) and not isinstance(value, bool) and value == 0:
            return ['0'], []
        return [], ['%s must be a duration such as 5m0s, 30s or 1h, got %s' % (label, _show(value))]
    if isinstance(value, (str, int, float)):
        return [_as_string(value)], []
    return [], ['%s must be a string, got %s' % (label, _type_name(value))]


def _check_slice(label: str, spec: FlagSpec, value: t.Any) -> tuple[list[str], list[str]]:
    if isinstance(value, Mapping):
        example = ', '.join("'%s=%s'" % (k, v) for k, v in list(value.items())[:2])
        return [], ['%s must be a string or a list of strings, not a mapping; write each entry as a '
                    "'key=value' string, for example [%s]" % (label, example)]
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    items: list[str] = []
    errors: list[str] = []
    for index, item in enumerate(values, start=1):
        if isinstance(item, bool) or item is None or not isinstance(item, (str, int, float)):
            errors.append('%s must be a string or a list of strings; item %d is %s'
                          % (label, index, _type_name(item)))
            continue
        text = _as_string(item)
        if spec.split:
            items.extend(part.strip() for part in text.split(',') if part.strip())
        else:
            items.append(text)
    return items, errors


def _as_string(value: t.Any) -> str:
    return value if isinstance(value, str) else str(value)


def _show(value: t.Any) -> str:
    if isinstance(value, str):
        return repr(str(value))
    return _type_name(value)


# ---------------------------------------------------------------------------
# Value checks: (label, flag name, raw value, value as strings) -> errors


def _check_cidrs(label: str, flag: str, value: t.Any, items: list[str]) -> list[str]:
    errors = []
    for item in items:
        if '/' not in item or _network(item) is None:
            errors.append("%s: '%s' is not a network in CIDR notation (K3s exits with \"invalid %s %s\"); "
                          'write networks such as 10.42.0.0/16 or fd00:42::/56, comma-separated or as a list '
                          'for dual-stack' % (label, item, flag, item))
    return errors


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _check_ips(label: str, flag: str, value: t.Any, items: list[str]) -> list[str]:
    errors = []
    for item in items:
        if _address(item) is None:
            hint = ' (drop the prefix length)' if '/' in item and _network(item) is not None else ''
            errors.append("%s: '%s' is not an IP address%s; write an IPv4 or IPv6 address such as 192.0.2.10"
                          % (label, item, hint))
    return errors


def _check_int_range(label: str, flag: str, value: t.Any, items: list[str]) -> list[str]:
    low, high = _INT_RANGES[flag]
    number = int(items[0])
    if low <= number <= high:
        return []
    if high == 65535:
        return ['%s must be a port number from %d to 65535, got %d' % (label, low, number)]
    return ['%s must be %d or more, got %d' % (label, low, number)]


def _check_port_range(label: str, flag: str, value: t.Any, items: list[str]) -> list[str]:
    match = _PORT_RANGE_RE.match(items[0])
    if match:
        low, high = int(match.group(1)), int(match.group(2))
        if 1 <= low < high <= 65535:
            return []
    return ["%s: '%s' is not a valid port range (K3s exits with \"invalid port range\"); write it as "
            "'<first>-<last>' with 1 <= first < last <= 65535, for example '30000-32767'" % (label, items[0])]


def _check_choice(choices: tuple[str, ...], what: str) -> t.Callable[[str, str, t.Any, list[str]], list[str]]:
    def check(label: str, flag: str, value: t.Any, items: list[str]) -> list[str]:
        if items[0] in choices:
            return []
        return ["%s: '%s' is not a valid %s; use one of %s" % (label, items[0], what, ', '.join(choices))]
    return check


def _check_flannel_backend(label: str, flag: str, value: t.Any, items: list[str]) -> list[str]:
    backend = items[0]
    if backend in REMOVED_FLANNEL_BACKENDS:
        return ["%s: the '%s' backend was removed from K3s; use 'wireguard-native' for encrypted pod "
                'traffic (the WireGuard kernel module must be available on every node)' % (label, backend)]
    return _check_choice(FLANNEL_BACKENDS, 'flannel backend')(label, flag, value, items)


def _check_disable(label: str, flag: str, value: t.Any, items: list[str]) -> list[str]:
    errors = []
    for item in items:
        if item in DISABLE_ITEMS:
            continue
        if item in _DISABLE_FLAG_HINTS:
            errors.append("%s: '%s' is not a packaged component; set '%s: true' instead"
                          % (label, item, _DISABLE_FLAG_HINTS[item]))
            continue
        match = difflib.get_close_matches(item, DISABLE_ITEMS, n=1, cutoff=0.6)
        hint = " (did you mean '%s'?)" % match[0] if match else ''
        errors.append("%s: '%s' is not a K3s packaged component%s; valid items are %s"
                      % (label, item, hint, ', '.join(DISABLE_ITEMS)))
    return errors


def _check_kubeconfig_mode(label: str, flag: str, value: t.Any, items: list[str]) -> list[str]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        message = ('%s is the number %s, not a quoted string: K3s reads the mode as octal text, and YAML turns '
                   'an unquoted 0644 into the decimal number 420' % (label, value))
        if isinstance(value, int) and 0 <= value <= 0o777:
            return [message + '; %d is what an unquoted 0%o becomes, so write "0%o" (quoted) if that is the '
                    'mode you meant' % (value, value, value)]
        if isinstance(value, int) and re.match(r'^[0-7]{3}$', str(value)):
            return [message + '; quote the mode: "0%d"' % value]
        return [message + '; quote the mode, for example "0600"']
    if isinstance(value, str) and _MODE_RE.match(value):
        return []
    return ['%s must be a quoted octal file mode such as "0600" or "644", got %s' % (label, _show(value))]


def _check_server_url(label: str, flag: str, value: t.Any, items: list[str]) -> list[str]:
    url = items[0]
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # pylint: disable=pointless-statement  # raises ValueError for a bad port
    except ValueError:
        host = None
        parts = None
    if parts is not None and parts.scheme != 'https':
        return ["%s: '%s' is not an https:// URL (K3s exits with \"only https:// URLs are supported\"); "
                'write it as https://<server>:6443' % (label, url)]
    if not host:
        return ["%s: '%s' is not a valid URL; write it as https://<server>:6443" % (label, url)]
    return []


def _check_label_key(key: str) -> str | None:
    """Return why ``key`` is not a valid Kubernetes label or taint key, or None."""
    prefix, sep, name = key.rpartition('/')
    if sep and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN_RE.match(prefix)):
        return "its prefix '%s' must be a lower-case DNS subdomain such as example.com" % prefix
    if not name or len(name) > 63 or not _LABEL_NAME_RE.match(name):
        return ('its name must be 1 to 63 characters of letters, digits, -, _ or ., starting and ending '
                'with a letter or digit')
    return None


def _check_label_value(text: str) -> str | None:
    if text and (len(text) > 63 or not _LABEL_NAME_RE.match(text)):
        return ("the value '%s' must be at most 63 characters of letters, digits, -, _ or ., starting and "
                'ending with a letter or digit' % text)
    return None


def _check_node_labels(label: str, flag: str, value: t.Any, items: list[str]) -> list[str]:
    errors = []
    for item in items:
        key, sep, text = item.partition('=')
        problem = None
        if not sep:
            problem = "it must be written as 'key=value'"
        else:
            problem = _check_label_key(key) or _check_label_value(text)
        if problem:
            errors.append("%s: '%s' is not a valid node label: %s, for example 'topology.kubernetes.io/zone=a'"
                          % (label, item, problem))
    return errors


def _check_node_taints(label: str, flag: str, value: t.Any, items: list[str]) -> list[str]:
    errors = []
    for item in items:
        errors.extend("%s: '%s' is not a valid node taint: %s; write 'key=value:Effect' or 'key:Effect' with "
                      'Effect one of %s' % (label, item, problem, ', '.join(TAINT_EFFECTS))
                      for problem in _taint_problems(item))
    return errors


def _taint_problems(item: str) -> list[str]:
    parts = item.split(':')
    if len(parts) != 2:
        return ['it needs exactly one \':\' before the effect']
    key_value, effect = parts
    problems = []
    if effect not in TAINT_EFFECTS:
        problems.append("'%s' is not a taint effect" % effect)
    key, sep, text = key_value.partition('=')
    if sep and '=' in text:
        problems.append("it has more than one '='")
    else:
        problem = _check_label_key(key) or _check_label_value(text)
        if problem:
            problems.append(problem)
    return problems


def _check_token(label: str, flag: str, value: t.Any, items: list[str]) -> list[str]:
    try:
        parse_k3s_token(items[0])
    except K3sTokenError as exc:
        # The token module's messages never contain the secret.
        return ['%s: %s' % (label, exc)]
    return []


_VALUE_CHECKS: dict[str, t.Callable[[str, str, t.Any, list[str]], list[str]]] = {
    **{flag: _check_cidrs for flag in _CIDR_FLAGS},
    **{flag: _check_ips for flag in _IP_FLAGS},
    **{flag: _check_int_range for flag in _INT_RANGES},
    **{flag: _check_token for flag in _TOKEN_FLAGS},
    'service-node-port-range': _check_port_range,
    'flannel-backend': _check_flannel_backend,
    'egress-selector-mode': _check_choice(EGRESS_SELECTOR_MODES, 'egress selector mode'),
    'secrets-encryption-provider': _check_choice(SECRETS_ENCRYPTION_PROVIDERS, 'secrets encryption provider'),
    'disable': _check_disable,
    'write-kubeconfig-mode': _check_kubeconfig_mode,
    'server': _check_server_url,
    'node-label': _check_node_labels,
    'node-taint': _check_node_taints,
}


def _families(config: Mapping[t.Any, t.Any], flag: str, command: str) -> set[int]:
    """IP versions used by ``flag`` (set without ``+``); empty when unset or not valid."""
    for key, value in config.items():
        if not isinstance(key, str) or key.endswith('+') or _canonical(key, command) != flag:
            continue
        items, errors = _check_kind(key, K3S_FLAGS[command][flag], value)
        if errors:
            return set()
        parse = _address if flag == 'node-ip' else _network
        parsed = [parse(item) for item in items]
        return {entry.version for entry in parsed if entry is not None}
    return set()


def _check_ip_families(config: Mapping[t.Any, t.Any], command: str) -> list[str]:
    """cluster-cidr, service-cidr and node-ip, where set, need an IP version in common (K3s refuses otherwise)."""
    if command != 'server':
        return []
    families = {flag: _families(config, flag, command) for flag in ('cluster-cidr', 'service-cidr', 'node-ip')}
    given = {flag: versions for flag, versions in families.items() if versions}
    if len(given) < 2 or set.intersection(*given.values()):
        return []
    found = ', '.join('%s is %s' % (flag, '/'.join('IPv%d' % v for v in sorted(versions)))
                      for flag, versions in given.items())
    return ['cluster-cidr, service-cidr and node-ip must share an IP version (K3s exits with "must share the '
            'same IP version"), but %s; use the same family in each, or list both families in each for '
            'dual-stack' % found]


# Settings that must be identical on every server of a cluster: a joining server
# with another value is refused by K3s (K3s docs cli/server.md).
CRITICAL_SERVER_SETTINGS: tuple[str, ...] = (
    'agent-token', 'cluster-cidr', 'cluster-dns', 'cluster-domain', 'disable-cloud-controller',
    'disable-helm-controller', 'disable-network-policy', 'egress-selector-mode', 'embedded-registry',
    'flannel-backend', 'flannel-external-ip', 'flannel-ipv6-masq', 'secrets-encryption',
    'secrets-encryption-provider', 'service-cidr',
)


def _critical_view(config: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    view: dict[str, t.Any] = {}
    for key in CRITICAL_SERVER_SETTINGS:
        if key in config:
            view[key] = config[key]
    disabled = config.get('disable', [])
    items = [disabled] if isinstance(disabled, str) else list(disabled or [])
    flat = {part.strip() for item in items for part in str(item).split(',')}
    view['disable=servicelb'] = 'servicelb' in flat
    return view


def critical_differences(configs: t.Mapping[str, t.Mapping[str, t.Any]]) -> list[str]:
    """Compare the critical settings of one cluster's servers (host -> config).

    Returns one message per setting whose value differs, naming the hosts, so
    the run stops before a joining server would be refused by K3s.
    """
    views = {host: _critical_view(config or {}) for host, config in configs.items()}
    keys = sorted({key for view in views.values() for key in view})
    problems = []
    for key in keys:
        values: dict[str, list[str]] = {}
        for host, view in views.items():
            shown = '(unset)' if key not in view else _show(view[key])
            values.setdefault(shown, []).append(host)
        if len(values) > 1:
            detail = '; '.join('%s on %s' % (value, ', '.join(hosts)) for value, hosts in values.items())
            problems.append(
                "%s must be the same on every server of a cluster (K3s refuses a joining server with "
                "'critical configuration value mismatch'), but it is %s. Set it once for the cluster, "
                "for example in the cluster's group_vars." % (key, detail)
            )
    return problems
