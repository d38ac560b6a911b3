"""K3s config file discovery, drop-ins, merge and flattening (K3s pkg/configfilearg; docs installation/configuration.md)."""
import os

from . import yamlsub

DEFAULT_CONFIG = "/etc/rancher/k3s/config.yaml"


class ConfigError(Exception):
    pass


def find_config_file(args, environ):
    """Env K3S_CONFIG_FILE is checked before --config/-c (findConfigFileFlag)."""
    env = environ.get("K3S_CONFIG_FILE", "")
    if env:
        return env, True
    for i, a in enumerate(args):
        if a == "--":
            break
        for fl in ("--config", "-config", "-c", "--c"):
            if a == fl:
                if i + 1 < len(args):
                    return args[i + 1], True
                return "", False
            if a.startswith(fl + "="):
                return a[len(fl) + 1:], True
    return DEFAULT_CONFIG, False


def config_files(path):
    files = []
    if os.path.isfile(path):
        files.append(path)
    elif os.path.exists(path):
        raise ConfigError("failed to read config file %s: is a directory" % path)
    d = path + ".d"
    if os.path.isdir(d):
        for name in sorted(os.listdir(d)):
            full = os.path.join(d, name)
            if not os.path.isfile(full) or os.path.islink(full) and not os.path.isfile(os.path.realpath(full)):
                continue
            if name.lower().endswith((".yaml", ".yml")):
                files.append(full)
    return files


def merge_files(files):
    """Return ordered list of (key, value) where value is a str or list of str."""
    merged = {}
    order = []
    for fn in files:
        try:
            with open(fn, "r", encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError("failed to read config file %s: %s" % (fn, e))
        try:
            pairs = yamlsub.parse(text)
        except yamlsub.YamlError as e:
            raise ConfigError("failed to parse config file %s: yaml: %s" % (fn, e))
        for key, value in pairs:
            append = key.endswith("+")
            k = key[:-1] if append else key
            if isinstance(value, list):
                conv = [yamlsub.to_string(v) for v in value]
            else:
                conv = yamlsub.to_string(value)
            if append:
                prev = merged.get(k, [])
                if not isinstance(prev, list):
                    prev = [prev]
                add = conv if isinstance(conv, list) else [conv]
                merged[k] = prev + add
            else:
                merged[k] = conv
            if k not in order:
                order.append(k)
    return [(k, merged[k]) for k in order]


def flatten(pairs):
    out = []
    for k, v in pairs:
        prefix = "-" if len(k) == 1 else "--"
        if isinstance(v, list):
            out.extend("%s%s=%s" % (prefix, k, item) for item in v)
        else:
            out.append("%s%s=%s" % (prefix, k, v))
    return out


def load(args, environ):
    """Return (config_args, files_read) for the given user args."""
    path, _explicit = find_config_file(args, environ)
    if not path:
        return [], []
    files = config_files(path)
    return flatten(merge_files(files)), files


def strip_invalid(config_args, valid_names, warn):
    """stripInvalidFlags: drop config-derived flags unknown to the command."""
    kept = []
    for a in config_args:
        name = a.lstrip("-").split("=", 1)[0]
        if name in valid_names:
            kept.append(a)
        else:
            warn("Unknown flag %s found in config.yaml, skipping" % a.split("=", 1)[0])
    return kept
