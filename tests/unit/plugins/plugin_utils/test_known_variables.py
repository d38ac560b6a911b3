# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The misspelled-variable check: what is known, what is refused, what is suggested."""
from __future__ import annotations

import re
import typing as t
from pathlib import Path

import pytest
import yaml

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.known_variables import (
    choice_problems,
    choice_specs,
    DEPRECATED_NAMES,
    PREFIXES,
    PUBLIC_NAMES,
    ROLES,
    known_names,
    owned_prefix,
    unknown_variable_errors,
)

ROOT = Path(__file__).resolve().parents[4]
ROLES_DIR = ROOT / "roles"
KNOWN = known_names(str(ROLES_DIR))
HINT = "(a variable you use yourself can be kept by listing it in cluster_extra_variables)"
SET_FACT = {"set_fact", "ansible.builtin.set_fact"}
# A variable read in a playbook expression: an owned prefix not preceded by a dot (kubeforge.cluster.k3s_server
# names a role, | kubeforge.cluster.cluster_summary a filter) or a quote (a group name, a tag).
PLAYBOOK_READ = re.compile(r"(?<![.\w'\"])((?:%s)[a-z0-9_]+)" % "|".join(re.escape(p) for p in PREFIXES))


def load(path: Path) -> object:
    return yaml.safe_load(path.read_text())


def walk(node: object):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def role_task_files() -> list[Path]:
    return sorted(ROLES_DIR.glob("*/tasks/*.yml")) + sorted(ROLES_DIR.glob("*/handlers/*.yml"))


def public_names_set_by_roles() -> set[str]:
    """set_fact keys and register names without a leading underscore, in every role's tasks and handlers."""
    names = set()
    for path in role_task_files():
        for node in walk(load(path)):
            for key, value in node.items():
                if key in SET_FACT and isinstance(value, dict):
                    names.update(k for k in value if k != "cacheable" and "{{" not in k)
                if key == "register" and isinstance(value, str):
                    names.add(value)
    return {name for name in names if not name.startswith("_")}


def names_in_playbooks() -> set[str]:
    """vars: keys and variables read in expressions, in the collection's playbooks."""
    names = set()
    for path in sorted((ROOT / "playbooks").rglob("*.yml")) + [ROOT / "site.yml"]:
        for node in walk(load(path)):
            if isinstance(node.get("vars"), dict):
                names.update(node["vars"])
        names.update(PLAYBOOK_READ.findall(path.read_text()))
    return {name for name in names if owned_prefix(name)}


def misspellings(name: str) -> set[str]:
    """Drop a letter, swap two adjacent letters, double a letter - after the prefix, which keeps it owned."""
    prefix = owned_prefix(name)
    assert prefix is not None
    body = name[len(prefix):]
    spelled = set()
    for i in range(len(body)):
        spelled.add(prefix + body[:i] + body[i + 1:])
        spelled.add(prefix + body[:i] + body[i] + body[i:])
        if i + 1 < len(body):
            spelled.add(prefix + body[:i] + body[i + 1] + body[i] + body[i + 2:])
    return {s for s in spelled if s not in KNOWN and owned_prefix(s) and not s.endswith("_")}


# What the roles declare.

def test_roles_constant_lists_the_roles() -> None:
    assert sorted(ROLES) == sorted(p.name for p in ROLES_DIR.iterdir() if (p / "tasks").is_dir())


@pytest.mark.parametrize("role", ROLES)
def test_every_role_prefix_is_owned(role: str) -> None:
    assert owned_prefix(role + "_x") is not None, f"add the prefix of role {role} to PREFIXES"


@pytest.mark.parametrize("path", sorted(ROLES_DIR.glob("*/defaults/main.yml")), ids=lambda p: p.parts[-3])
def test_every_default_is_known(path: Path) -> None:
    assert set(load(path) or {}) <= KNOWN


@pytest.mark.parametrize("path", sorted(ROLES_DIR.glob("*/meta/argument_specs.yml")), ids=lambda p: p.parts[-3])
def test_every_argument_spec_option_is_known(path: Path) -> None:
    for entry_point in load(path)["argument_specs"].values():
        assert set(entry_point.get("options") or {}) <= KNOWN


@pytest.mark.parametrize("path", sorted(ROLES_DIR.glob("*/vars/main.yml")), ids=lambda p: p.parts[-3])
def test_role_vars_are_internal(path: Path) -> None:
    """Role vars are variables too: they must start with an underscore, which the check never looks at."""
    assert [name for name in load(path) or {} if owned_prefix(name)] == []


def test_public_facts_the_roles_set_are_known() -> None:
    found = public_names_set_by_roles()
    assert found, "the grep found no public fact at all; has the layout changed?"
    assert found - KNOWN == set(), "add these to PUBLIC_NAMES"


def test_variables_the_playbooks_read_are_known() -> None:
    found = names_in_playbooks()
    assert "cluster_hosts" in found
    assert found - KNOWN == set(), "add these to PUBLIC_NAMES"


def test_public_names_are_still_used() -> None:
    """PUBLIC_NAMES lists nothing the roles and playbooks no longer set or read."""
    assert PUBLIC_NAMES <= public_names_set_by_roles() | names_in_playbooks()


def test_deprecated_names_follow_the_roles() -> None:
    legacy = set()
    for path in sorted(ROLES_DIR.glob("*/tasks/*.yml")):
        legacy.update(re.findall(r"^\s*_cluster_fetch_legacy:\s*(\w+)\s*$", path.read_text(), re.MULTILINE))
    assert legacy
    assert DEPRECATED_NAMES == {f"{p}_{s}" for p in legacy for s in ("cache_dir", "download_timeout")}
    assert DEPRECATED_NAMES <= KNOWN


def test_extra_variables_is_known() -> None:
    assert "cluster_extra_variables" in KNOWN


# What is refused, and what is suggested.

def test_misspellings_are_refused_with_the_original_suggested() -> None:
    total = hits = 0
    misses = []
    for name in sorted(n for n in KNOWN if owned_prefix(n)):
        for wrong in sorted(misspellings(name)):
            errors = unknown_variable_errors("h1", [wrong], KNOWN, [])
            assert len(errors) == 1, wrong
            total += 1
            if f"did you mean {name}?" in errors[0]:
                hits += 1
            else:
                misses.append((wrong, name))
    rate = hits / total
    print(f"misspellings: {total}, original suggested: {hits} ({rate:.1%}), misses: {misses[:20]}")
    assert total > 1000
    assert rate >= 0.9


def test_message() -> None:
    assert unknown_variable_errors("node1", ["k3s_sever_config", "cluster_nmae"], KNOWN, []) == [
        "node1: cluster_nmae is not a variable of kubeforge.cluster; did you mean cluster_name? " + HINT,
        "node1: k3s_sever_config is not a variable of kubeforge.cluster; did you mean k3s_server_config? " + HINT,
    ]


def test_nothing_close_names_the_role() -> None:
    assert unknown_variable_errors("node1", ["kubelet_something_else_entirely"], KNOWN, []) == [
        "node1: kubelet_something_else_entirely is not a variable of kubeforge.cluster; no variable of the kubelet "
        "role is close; see ansible-doc -t role kubeforge.cluster.kubelet " + HINT,
    ]
    [error] = unknown_variable_errors("node1", ["k3s_server_my_own_thing"], KNOWN, [])
    assert "ansible-doc -t role kubeforge.cluster.k3s_server " in error


def test_nothing_close_with_the_shared_k3s_prefix_names_every_k3s_role() -> None:
    [error] = unknown_variable_errors("node1", ["k3s_my_own_thing_entirely"], KNOWN, [])
    for role in ("k3s_agent", "k3s_artifacts", "k3s_server"):
        assert f"ansible-doc -t role kubeforge.cluster.{role}" in error


def test_suggestion_prefers_the_same_prefix() -> None:
    [error] = unknown_variable_errors("h", ["kubeadm_bi"], KNOWN, [])
    assert "did you mean kubeadm_bin?" in error


def test_known_names_are_accepted() -> None:
    assert unknown_variable_errors("h", sorted(KNOWN), KNOWN, []) == []


def test_allowed_names_are_kept() -> None:
    assert unknown_variable_errors("h", ["cluster_my_flag", "k3s_sever_config"], KNOWN, ["cluster_my_flag"]) == [
        "h: k3s_sever_config is not a variable of kubeforge.cluster; did you mean k3s_server_config? " + HINT,
    ]


@pytest.mark.parametrize("name", [
    "ansible_host", "inventory_hostname", "kube_bin_dir", "kubernetes_version", "clusters", "k3", "my_cluster_name",
    "kubeforge_test_repo_port", "calico_version", "cluster", "k3s",
])
def test_other_prefixes_are_ignored(name: str) -> None:
    assert unknown_variable_errors("h", [name], KNOWN, []) == []


@pytest.mark.parametrize("name", ["_cluster_nmae", "__k3s_sever_result", "_k3s_server_whatever", "__cluster_x"])
def test_underscore_names_are_ignored(name: str) -> None:
    assert owned_prefix(name) is None
    assert unknown_variable_errors("h", [name], KNOWN, []) == []


def test_longest_prefix_wins() -> None:
    assert owned_prefix("kube_artifacts_version") == "kube_artifacts_"
    assert owned_prefix("kubeconfig_dest") == "kubeconfig_"
    assert owned_prefix("k3s_server_config") == "k3s_"


def test_each_name_once_in_order() -> None:
    errors = unknown_variable_errors("h", ["cni_plugn", "api_lb_vpi", "cni_plugn"], KNOWN, [])
    assert [e.split()[1] for e in errors] == ["api_lb_vpi", "cni_plugn"]


def test_known_names_reads_a_roles_tree(tmp_path: Path) -> None:
    (tmp_path / "demo" / "defaults").mkdir(parents=True)
    (tmp_path / "demo" / "meta").mkdir()
    (tmp_path / "demo" / "defaults" / "main.yml").write_text("demo_a: 1\n")
    (tmp_path / "demo" / "meta" / "argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    options:\n      demo_a: {type: int}\n  other:\n    options:\n      _demo_b: {}\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "README.md").write_text("not a role\n")
    names = known_names(str(tmp_path))
    assert {"demo_a", "_demo_b", "cluster_extra_variables"} <= names
    assert PUBLIC_NAMES <= names


def test_choice_specs_come_from_the_roles() -> None:
    specs = choice_specs(str(ROLES_DIR))
    assert specs["containerd_source"][1] == ["package", "release"] and specs["containerd_source"][2] == "containerd"
    assert specs["cluster_distribution"][1] == ["k3s", "kubeadm"]
    assert not [name for name in specs if name.startswith("_")]


@pytest.mark.parametrize("name, value, expected", [
    ("containerd_source", "releases", "h: containerd_source is 'releases', but it must be one of package, release "
                                      "(ansible-doc -t role kubeforge.cluster.containerd). Did you mean 'release'?"),
    ("cluster_distribution", "K3S", "Did you mean 'k3s'?"),
    ("kube_artifacts_binaries", ["kubeadm", "kubctl"], "kube_artifacts_binaries is 'kubctl', but it must be one of "
                                                       "kubeadm, kubelet, kubectl"),
    ("cni_plugin", "weave", "h: cni_plugin is 'weave', but it must be one of flannel, calico, none"),
])
def test_wrong_words_are_one_line_each(name: str, value: t.Any, expected: str) -> None:
    problems = choice_problems("h", {name: value}, choice_specs(str(ROLES_DIR)))
    assert len(problems) == 1 and expected in problems[0], problems


def test_right_words_and_undeclared_names_pass() -> None:
    specs = choice_specs(str(ROLES_DIR))
    values = {"containerd_source": "release", "kube_artifacts_binaries": ["kubeadm", "kubelet"], "cluster_name": "x"}
    assert choice_problems("h", values, specs) == []
    far = choice_problems("h", {"cni_plugin": "cilium-enterprise"}, specs)
    assert len(far) == 1 and "Did you mean" not in far[0]
