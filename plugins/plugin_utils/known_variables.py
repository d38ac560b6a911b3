# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which variables with the collection's prefixes exist, and what a misspelled one was meant to be.

``known_names`` reads the roles (the only I/O); ``unknown_variable_errors`` is pure.
"""
from __future__ import annotations

import difflib
import os
import typing as t

import yaml

# The prefixes the collection owns: one per role (k3s_ covers k3s_server, k3s_agent and
# k3s_artifacts; cluster_ is the cluster role's shared inputs). A name that starts with an
# underscore (_k3s_..., __k3s_...) is internal and never checked.
PREFIXES: tuple[str, ...] = (
    "api_lb_",
    "backup_",
    "cluster_",
    "cni_",
    "containerd_",
    "datastore_",
    "k3s_",
    "kube_artifacts_",
    "kubeadm_",
    "kubeconfig_",
    "kubelet_",
    "node_prep_",
    "registration_",
    "remove_node_",
    "reset_",
    "restore_",
    "upgrade_",
    "workloads_",
)

# The collection's roles; a name with no close match points at the role(s) its prefix belongs to.
ROLES: tuple[str, ...] = (
    "api_lb",
    "backup",
    "cluster",
    "cni",
    "containerd",
    "datastore",
    "k3s_agent",
    "k3s_artifacts",
    "k3s_server",
    "kube_artifacts",
    "kubeadm",
    "kubeconfig",
    "kubelet",
    "node_prep",
    "registration",
    "remove_node",
    "reset",
    "restore",
    "upgrade",
    "workloads",
)

# Public facts the roles set themselves, and variables the playbooks read that no role declares.
# tests/unit/plugins/plugin_utils/test_known_variables.py greps the roles and playbooks so this cannot rot.
PUBLIC_NAMES: frozenset[str] = frozenset((
    "cluster_plan",  # set by the planning play (cluster role, validate.yml)
    "cluster_artifacts",  # verified release file paths (cluster role, fetch.yml)
    "k3s_server_cluster_token",  # the token read back from the first server (k3s_server, token.yml)
    "k3s_artifacts_binary_changed",  # whether the k3s binary changed (k3s_artifacts, install.yml)
    "cluster_hosts",  # playbooks/site.yml: the hosts to run on
    "workloads_plan",  # the workloads each cluster gets and loses (workloads role, validate.yml)
    "workloads_cluster",  # the cluster as the workloads' templates see it (workloads role, describe.yml)
    "registration_plan",  # the spokes to register or deregister (registration role, validate.yml)
))

# Per-role variables replaced by cluster_artifacts_cache_dir and cluster_artifacts_download_timeout;
# they still work in this release, with a deprecation warning (cluster role, fetch.yml).
DEPRECATED_NAMES: frozenset[str] = frozenset(
    "%s_%s" % (legacy, setting)
    for legacy in ("containerd", "k3s_artifacts", "kube_artifacts", "cni_calico")
    for setting in ("cache_dir", "download_timeout")
)

EXTRA_VARIABLES = "cluster_extra_variables"


def _load(path: str) -> t.Any:
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def known_names(roles_dir: str) -> set[str]:
    """Every variable name the collection declares: argument spec options, defaults, public facts."""
    names: set[str] = set(PUBLIC_NAMES) | set(DEPRECATED_NAMES) | {EXTRA_VARIABLES}
    for role in sorted(os.listdir(roles_dir)):
        role_dir = os.path.join(roles_dir, role)
        if not os.path.isdir(role_dir):
            continue
        defaults = _load(os.path.join(role_dir, "defaults", "main.yml"))
        if isinstance(defaults, dict):
            names.update(str(name) for name in defaults)
        specs = _load(os.path.join(role_dir, "meta", "argument_specs.yml"))
        entry_points = specs.get("argument_specs") if isinstance(specs, dict) else None
        for entry_point in (entry_points or {}).values():
            options = entry_point.get("options") if isinstance(entry_point, dict) else None
            names.update(str(name) for name in options or {})
    return names


def owned_prefix(name: str) -> str | None:
    """The longest owned prefix ``name`` starts with; None for internal or foreign names."""
    if name.startswith("_"):
        return None
    matches = [prefix for prefix in PREFIXES if name.startswith(prefix)]
    return max(matches, key=len) if matches else None


def _closest(name: str, prefix: str, known: set[str]) -> str | None:
    same_prefix = sorted(candidate for candidate in known if owned_prefix(candidate) == prefix)
    for candidates in (same_prefix, sorted(known)):
        matches = difflib.get_close_matches(name, candidates, n=1, cutoff=0.8)
        if matches:
            return matches[0]
    return None


def _roles_for(name: str, prefix: str) -> list[str]:
    by_role = [role for role in ROLES if name.startswith(role + "_")]
    if by_role:
        return [max(by_role, key=len)]
    return sorted({role for role in ROLES if (role + "_").startswith(prefix)})


def unknown_variable_errors(host: str, names: list[str], known: set[str], allowed: list[str]) -> list[str]:
    """One message for each name with an owned prefix that no role declares and ``allowed`` does not list."""
    keep = set(allowed)
    errors = []
    for name in sorted(set(names)):
        prefix = owned_prefix(name)
        if prefix is None or name in known or name in keep:
            continue
        closest = _closest(name, prefix, known)
        if closest is not None:
            hint = "did you mean %s?" % closest
        else:
            roles = _roles_for(name, prefix)
            hint = "no variable of %s is close; see %s" % (
                " or ".join("the %s role" % role for role in roles),
                " or ".join("ansible-doc -t role kubeforge.cluster.%s" % role for role in roles),
            )
        errors.append("%s: %s is not a variable of kubeforge.cluster; %s (a variable you use yourself can be kept "
                      "by listing it in %s)" % (host, name, hint, EXTRA_VARIABLES))
    return errors


def choice_specs(roles_dir: str) -> dict[str, tuple[str, list[t.Any], str]]:
    """The options with fixed choices, by name: (type, choices, role), from every role's argument specs."""
    found: dict[str, tuple[str, list[t.Any], str]] = {}
    for role in sorted(os.listdir(roles_dir)):
        specs = _load(os.path.join(roles_dir, role, "meta", "argument_specs.yml"))
        entry_points = specs.get("argument_specs") if isinstance(specs, dict) else None
        for entry_point in (entry_points or {}).values():
            for name, option in ((entry_point or {}).get("options") or {}).items():
                if isinstance(option, dict) and option.get("choices") and not str(name).startswith("_"):
                    found.setdefault(str(name), (str(option.get("type") or "str"), list(option["choices"]), role))
    return found


def choice_problems(host: str, values: dict[str, t.Any], specs: dict[str, tuple[str, list[t.Any], str]]) -> list[str]:
    """One line per variable whose value is not one of its choices (lists: per element), with the closest choice."""
    problems: list[str] = []
    for name in sorted(values):
        if name not in specs:
            continue
        kind, choices, role = specs[name]
        value = values[name]
        given = value if kind == "list" and isinstance(value, list) else [value]
        words = [str(choice) for choice in choices]
        bad = [item for item in given if str(item) not in words]
        for item in bad:
            close = difflib.get_close_matches(str(item).lower(), words, n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            problems.append(f"{host}: {name} is {item!r}, but it must be one of {', '.join(words)} "
                            f"(ansible-doc -t role kubeforge.cluster.{role}).{hint}")
    return problems
