# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""containerd configuration for Kubernetes nodes, for both config layouts.

containerd 1.x reads config version 2, where the CRI plugin is one section,
``plugins."io.containerd.grpc.v1.cri"``. containerd 2.x reads config version 3,
where the CRI plugin is split into ``io.containerd.cri.v1.runtime`` (runtimes,
with runc's ``SystemdCgroup``) and ``io.containerd.cri.v1.images`` (the sandbox
image as ``pinned_images.sandbox``, the registry ``config_path``). Writing the
1.x layout for 2.x (or the reverse) leaves the kubelet and containerd on
different cgroup drivers, so the layout follows the installed major version.

Registry mirrors go to ``<config_path>/<registry>/hosts.toml`` files, which
both majors read the same way.
"""
from __future__ import annotations

import re
import typing as t
from collections.abc import Mapping

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.dicts import deep_merge

CRI_V2 = "io.containerd.grpc.v1.cri"
CRI_RUNTIME_V3 = "io.containerd.cri.v1.runtime"
CRI_IMAGES_V3 = "io.containerd.cri.v1.images"
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_VERSION = re.compile(r"\bv?(\d+)\.(\d+)\.(\d+)")


class ContainerdConfigError(ValueError):
    """The settings cannot make a containerd configuration."""


def containerd_major(version_output: str) -> int:
    """Major version from ``containerd --version`` output.

    Debian prints ``containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1``,
    upstream ``containerd github.com/containerd/containerd/v2 v2.0.0 207ad71...``.
    """
    fields = (version_output or "").split()
    for field in fields[2:] + fields[:2]:
        match = _VERSION.match(field)
        if match:
            return int(match.group(1))
    raise ContainerdConfigError("cannot read a containerd version from %r; expected the output of "
                                "'containerd --version'" % version_output)


def containerd_config(major: int, settings: Mapping[str, t.Any] | None = None) -> dict[str, t.Any]:
    """The configuration as nested dicts for containerd ``major`` (1 or 2).

    settings: ``systemd_cgroup`` (bool, default True), ``sandbox_image`` (str),
    ``registry_config_path`` (str, default /etc/containerd/certs.d) and
    ``extra`` (dict, merged last, key by key, for anything else).
    """
    settings = dict(settings or {})
    unknown = sorted(set(settings) - {"systemd_cgroup", "sandbox_image", "registry_config_path", "extra"})
    if unknown:
        raise ContainerdConfigError("unknown containerd settings: %s" % ", ".join(unknown))
    systemd_cgroup = settings.get("systemd_cgroup", True)
    if not isinstance(systemd_cgroup, bool):
        raise ContainerdConfigError("systemd_cgroup must be true or false, not %r" % (systemd_cgroup,))
    sandbox_image = settings.get("sandbox_image") or ""
    config_path = settings.get("registry_config_path") or "/etc/containerd/certs.d"
    extra = settings.get("extra") or {}
    if not isinstance(extra, Mapping):
        raise ContainerdConfigError("extra must be a dict of containerd settings, not %r" % (extra,))
    runc = {"runtime_type": "io.containerd.runc.v2", "options": {"SystemdCgroup": systemd_cgroup}}
    if major == 1:
        cri: dict[str, t.Any] = {
            "containerd": {"default_runtime_name": "runc", "runtimes": {"runc": runc}},
            "registry": {"config_path": config_path},
        }
        if sandbox_image:
            cri["sandbox_image"] = sandbox_image
        config: dict[str, t.Any] = {"version": 2, "plugins": {CRI_V2: cri}}
    elif major == 2:
        images: dict[str, t.Any] = {"registry": {"config_path": config_path}}
        if sandbox_image:
            images["pinned_images"] = {"sandbox": sandbox_image}
        config = {"version": 3, "plugins": {
            CRI_RUNTIME_V3: {"containerd": {"default_runtime_name": "runc", "runtimes": {"runc": runc}}},
            CRI_IMAGES_V3: images,
        }}
    else:
        raise ContainerdConfigError("containerd %s is not supported; this collection configures containerd 1.x "
                                    "(config version 2) and 2.x (config version 3)" % major)
    return deep_merge(config, extra)


def systemd_cgroup_path(major: int) -> list[str]:
    """Where runc's SystemdCgroup sits in the configuration of ``major``."""
    plugin = CRI_V2 if major == 1 else CRI_RUNTIME_V3
    return ["plugins", plugin, "containerd", "runtimes", "runc", "options", "SystemdCgroup"]


def hosts_toml(registry: str, mirrors: t.Sequence[str], server: str | None = None) -> str:
    """``hosts.toml`` for ``registry``: pull through ``mirrors`` in order, then ``server``."""
    if not registry or "/" in registry:
        raise ContainerdConfigError("a registry mirror key must be a registry host such as docker.io, not %r"
                                    % (registry,))
    if isinstance(mirrors, str) or not mirrors:
        raise ContainerdConfigError("the mirrors of %s must be a non-empty list of URLs" % registry)
    for mirror in mirrors:
        if not isinstance(mirror, str) or not re.match(r"^https?://[^/\s]+", mirror):
            raise ContainerdConfigError("mirror %r of %s is not an http(s) URL" % (mirror, registry))
    if server is None:
        server = "https://registry-1.docker.io" if registry == "docker.io" else "https://" + registry
    doc: dict[str, t.Any] = {"server": server, "host": {m: {"capabilities": ["pull", "resolve"]} for m in mirrors}}
    return to_toml(doc)


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(ch if ord(ch) >= 0x20 and ch != "\x7f" else "\\u%04x" % ord(ch) for ch in escaped)
    return '"%s"' % escaped


def _value(value: t.Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise ContainerdConfigError("cannot write %r (%s) to TOML" % (value, type(value).__name__))


def to_toml(doc: Mapping[str, t.Any]) -> str:
    """TOML text for nested dicts of scalars and lists of scalars; sub-dicts become tables."""
    lines: list[str] = []

    def table(path: list[str], data: Mapping[str, t.Any]) -> None:
        scalars = [(k, v) for k, v in data.items() if not isinstance(v, Mapping)]
        tables = [(k, v) for k, v in data.items() if isinstance(v, Mapping)]
        if path and (scalars or not tables):
            if lines:
                lines.append("")
            lines.append("[" + ".".join(_key(p) for p in path) + "]")
        for key, value in scalars:
            if not isinstance(key, str):
                raise ContainerdConfigError("TOML keys must be strings, not %r" % (key,))
            lines.append("%s = %s" % (_key(key), _value(value)))
        for key, value in tables:
            table(path + [str(key)], value)

    table([], doc)
    return "\n".join(lines) + "\n"
