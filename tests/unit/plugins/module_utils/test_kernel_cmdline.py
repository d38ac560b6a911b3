from __future__ import annotations

import pytest

from ansible_collections.kubeforge.cluster.plugins.module_utils.kernel_cmdline import (
    CmdlineError, parse_cmdline, update_cmdline)

PI_LINE = "console=serial0,115200 console=tty1 root=PARTUUID=6c586e13-02 rootfstype=ext4 fsck.repair=yes rootwait\n"
K3S = ["cgroup_memory=1", "cgroup_enable=memory"]


def test_words_are_appended_once_and_order_is_kept() -> None:
    after, changed = update_cmdline(PI_LINE, K3S, [])
    assert changed
    assert after == PI_LINE.strip() + " cgroup_memory=1 cgroup_enable=memory\n"
    again, changed_again = update_cmdline(after, K3S, [])
    assert (again, changed_again) == (after, False)


def test_present_words_are_not_duplicated() -> None:
    line = "root=/dev/mmcblk0p2 cgroup_enable=memory rootwait\n"
    after, changed = update_cmdline(line, K3S, [])
    assert after == "root=/dev/mmcblk0p2 cgroup_enable=memory rootwait cgroup_memory=1\n"
    assert after.split().count("cgroup_enable=memory") == 1 and changed


def test_other_values_of_the_same_key_are_kept() -> None:
    after, _ = update_cmdline("cgroup_enable=cpuset root=x\n", K3S, [])
    assert after.split() == ["cgroup_enable=cpuset", "root=x", "cgroup_memory=1", "cgroup_enable=memory"]


def test_remove_and_missing_newline() -> None:
    after, changed = update_cmdline("quiet splash root=x", [], ["splash"])
    assert (after, changed) == ("quiet root=x\n", True)


@pytest.mark.parametrize("text, add, remove, message", [
    ("a\nb\n", ["x"], [], "exactly one line"),
    ("a\n", ["two words"], [], "not a single kernel parameter"),
    ("a\n", ["x"], ["x"], "both added and removed"),
])
def test_refusals(text: str, add: list[str], remove: list[str], message: str) -> None:
    with pytest.raises(CmdlineError, match=message):
        update_cmdline(text, add, remove)


def test_empty_file_has_no_words() -> None:
    assert parse_cmdline("\n") == []
