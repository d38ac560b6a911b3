# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run kernel_cmdline's main() on temporary files."""
from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.kubeforge.cluster.plugins.modules import kernel_cmdline

LINE = "console=tty1 root=PARTUUID=1-02 rootwait\n"
ADD = ["cgroup_memory=1", "cgroup_enable=memory"]


def run(capsys, check_mode: bool = False, **params) -> dict:
    params["_ansible_check_mode"] = check_mode
    params["_ansible_diff"] = True
    with patch_module_args(params):
        with pytest.raises(SystemExit):
            kernel_cmdline.main()
    return json.loads(capsys.readouterr().out)


def test_adds_words_then_changes_nothing(tmp_path, capsys) -> None:
    path = tmp_path / "cmdline.txt"
    path.write_text(LINE)
    first = run(capsys, path=str(path), add=ADD)
    assert first["changed"] and path.read_text() == LINE.strip() + " cgroup_memory=1 cgroup_enable=memory\n"
    assert first["diff"]["before"] == LINE
    second = run(capsys, path=str(path), add=ADD)
    assert not second["changed"]


def test_check_mode_writes_nothing(tmp_path, capsys) -> None:
    path = tmp_path / "cmdline.txt"
    path.write_text(LINE)
    result = run(capsys, check_mode=True, path=str(path), add=ADD)
    assert result["changed"] and result["cmdline"].endswith("cgroup_enable=memory")
    assert path.read_text() == LINE


def test_missing_and_multiline_files_fail_clearly(tmp_path, capsys) -> None:
    missing = run(capsys, path=str(tmp_path / "nope.txt"), add=ADD)
    assert missing["failed"] and "does not exist" in missing["msg"]
    two = tmp_path / "two.txt"
    two.write_text("a\nb\n")
    result = run(capsys, path=str(two), add=ADD)
    assert result["failed"] and "exactly one line" in result["msg"]
