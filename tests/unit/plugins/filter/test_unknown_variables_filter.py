# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import os

import pytest

from ansible.errors import AnsibleFilterError
from ansible.plugins.loader import filter_loader

from ansible_collections.kubeforge.cluster.plugins.filter import unknown_variables as plugin

UNKNOWN_VARIABLES = plugin.FilterModule().filters()["unknown_variables"]
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def test_found_by_fqcn() -> None:
    assert filter_loader.get("kubeforge.cluster.unknown_variables") is not None


def test_reads_the_collections_own_roles() -> None:
    assert os.path.realpath(plugin.ROLES_DIR) == os.path.realpath(os.path.join(REPO_ROOT, "roles"))


def test_known_names_are_read_once() -> None:
    plugin._known.cache_clear()
    UNKNOWN_VARIABLES(["cluster_name"], "h")
    UNKNOWN_VARIABLES(["cluster_nmae"], "h", [])
    info = plugin._known.cache_info()
    assert (info.misses, info.hits) == (1, 1)


def test_messages() -> None:
    names = ["k3s_sever_config", "cluster_nmae", "cluster_name", "k3s_server_config", "cluster_mine", "ansible_host"]
    errors = UNKNOWN_VARIABLES(names, "node1", ["cluster_mine"])
    assert [e.split(";")[0] for e in errors] == [
        "node1: cluster_nmae is not a variable of kubeforge.cluster",
        "node1: k3s_sever_config is not a variable of kubeforge.cluster",
    ]
    assert "did you mean k3s_server_config?" in errors[1]
    assert errors[1].endswith("(a variable you use yourself can be kept by listing it in cluster_extra_variables)")


def test_clean_names_and_no_allowed() -> None:
    assert UNKNOWN_VARIABLES(["cluster_plan", "cluster_extra_variables", "_k3s_x", "other"], "h") == []
    assert UNKNOWN_VARIABLES([], "h", None) == []


@pytest.mark.parametrize("args, match", [
    (("cluster_nmae", "h", []), "the input must be a list of variable names"),
    (([1], "h", []), "the input must be a list of variable names"),
    ((["cluster_nmae"], None, []), "the host must be a string"),
    ((["cluster_nmae"], "h", "cluster_nmae"), "cluster_extra_variables must be a list of variable names, got str"),
])
def test_wrong_types_are_filter_errors(args: tuple, match: str) -> None:
    with pytest.raises(AnsibleFilterError, match=match):
        UNKNOWN_VARIABLES(*args)
