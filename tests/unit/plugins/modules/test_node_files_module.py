# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run node_files' main() on a temporary directory, as the current user."""
from __future__ import annotations

import grp
import json
import os
import pwd
import stat

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.kubeforge.cluster.plugins.modules import node_files

# Owner and group of everything the tests make: root when the tests run as root, else the current user.
USER = pwd.getpwuid(os.geteuid()).pw_name
GROUP = grp.getgrgid(os.getegid()).gr_name
SECRET = "token: K10secretsecretsecret::server:feedface\n"
UNIT = "[Unit]\nDescription=K3s\n"


def run(capsys, check_mode: bool = False, diff: bool = True, **params) -> tuple[dict, str]:
    """The module's result and its raw output."""
    params["_ansible_check_mode"] = check_mode
    params["_ansible_diff"] = diff
    with patch_module_args(params):
        with pytest.raises(SystemExit):
            node_files.main()
    out = capsys.readouterr().out
    return json.loads(out), out


def mine(**item) -> dict:
    return dict(item, owner=USER, group=GROUP)


def k3s_params(root) -> dict:
    """A K3s server's files under ``root``: nested directories, a secret config, a unit, a link and an old file."""
    return dict(
        directories=[mine(path=f"{root}/etc/rancher/k3s/config.yaml.d", mode="0700")],
        files=[
            mine(dest=f"{root}/etc/rancher/k3s/config.yaml", content=SECRET, mode="0600", secret=True),
            mine(dest=f"{root}/k3s.service", content=UNIT, mode="0644"),
        ],
        links=[dict(path=f"{root}/kubectl", src="k3s")],
        absent=[f"{root}/old.env"],
    )


def mode_of(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def tree(root) -> dict[str, str]:
    """Every entry under ``root`` with its kind, mode and content or target."""
    found = {}
    for entry in sorted(root.rglob("*")):
        name = str(entry.relative_to(root))
        if entry.is_symlink():
            found[name] = "link -> %s" % os.readlink(entry)
        elif entry.is_dir():
            found[name] = "dir %04o" % mode_of(entry)
        else:
            found[name] = "file %04o %r" % (mode_of(entry), entry.read_bytes())
    return found


def test_first_run_changes_and_second_run_changes_nothing(tmp_path, capsys) -> None:
    (tmp_path / "old.env").write_text("X=1\n")
    first, dummy = run(capsys, **k3s_params(tmp_path))
    assert first["changed"] is True
    assert first["changed_paths"] == sorted(str(tmp_path / name) for name in (
        "etc", "etc/rancher", "etc/rancher/k3s", "etc/rancher/k3s/config.yaml.d", "etc/rancher/k3s/config.yaml",
        "k3s.service", "kubectl", "old.env"))
    assert tree(tmp_path) == {
        "etc": "dir 0700",
        "etc/rancher": "dir 0700",
        "etc/rancher/k3s": "dir 0700",
        "etc/rancher/k3s/config.yaml": "file 0600 %r" % SECRET.encode(),
        "etc/rancher/k3s/config.yaml.d": "dir 0700",
        "k3s.service": "file 0644 %r" % UNIT.encode(),
        "kubectl": "link -> k3s",
    }
    second, dummy = run(capsys, **k3s_params(tmp_path))
    assert second["changed"] is False and second["changed_paths"] == [] and second["diff"] == []


def test_existing_parent_keeps_its_mode(tmp_path, capsys) -> None:
    tmp_path.chmod(0o755)
    result, dummy = run(capsys, directories=[mine(path=f"{tmp_path}/a/b", mode="0750")])
    assert result["changed_paths"] == [f"{tmp_path}/a", f"{tmp_path}/a/b"]
    assert (mode_of(tmp_path), mode_of(tmp_path / "a"), mode_of(tmp_path / "a/b")) == (0o755, 0o750, 0o750)


def test_check_mode_changes_nothing_on_disk(tmp_path, capsys) -> None:
    (tmp_path / "old.env").write_text("X=1\n")
    (tmp_path / "k3s.service").write_text("[Unit]\n")
    (tmp_path / "k3s.service").chmod(0o600)
    before = tree(tmp_path)
    checked, dummy = run(capsys, check_mode=True, **k3s_params(tmp_path))
    assert tree(tmp_path) == before
    real, dummy = run(capsys, **k3s_params(tmp_path))
    assert checked["changed"] is True
    assert (checked["changed_paths"], checked["diff"]) == (real["changed_paths"], real["diff"])


def test_mode_only_change_is_made_in_place(tmp_path, capsys) -> None:
    dest = tmp_path / "k3s.service"
    dest.write_text(UNIT)
    dest.chmod(0o600)
    inode = dest.stat().st_ino
    result, dummy = run(capsys, files=[mine(dest=str(dest), content=UNIT, mode="0644")])
    assert result["changed_paths"] == [str(dest)]
    assert mode_of(dest) == 0o644 and dest.stat().st_ino == inode and dest.read_text() == UNIT
    assert result["diff"] == [{"before_header": str(dest), "after_header": str(dest),
                               "before": "mode 0600\nowner %s\ngroup %s\n" % (USER, GROUP),
                               "after": "mode 0644\nowner %s\ngroup %s\n" % (USER, GROUP)}]


def test_changed_content_is_shown_and_replaced(tmp_path, capsys) -> None:
    dest = tmp_path / "k3s.service"
    dest.write_text("[Unit]\nDescription=old\n")
    dest.chmod(0o644)
    result, dummy = run(capsys, files=[mine(dest=str(dest), content=UNIT, mode="0644")])
    assert dest.read_text() == UNIT
    assert result["diff"][0]["before"] == "[Unit]\nDescription=old\n" and result["diff"][0]["after"] == UNIT


def test_without_diff_mode_there_is_no_diff(tmp_path, capsys) -> None:
    result, dummy = run(capsys, diff=False, files=[mine(dest=f"{tmp_path}/a", content=UNIT, mode="0644")])
    assert result["changed"] is True and "diff" not in result


def test_link_to_another_target_is_replaced(tmp_path, capsys) -> None:
    path = tmp_path / "kubectl"
    path.symlink_to("/opt/old/kubectl")
    result, dummy = run(capsys, links=[dict(path=str(path), src="/usr/local/bin/k3s")])
    assert result["changed_paths"] == [str(path)] and os.readlink(path) == "/usr/local/bin/k3s"
    assert result["diff"][0]["before"] == "symbolic link to /opt/old/kubectl\n"
    assert sorted(os.listdir(tmp_path)) == ["kubectl"]


def test_file_where_a_link_goes_is_refused_without_force(tmp_path, capsys) -> None:
    path = tmp_path / "kubectl"
    path.write_text("#!/bin/sh\n")
    result, dummy = run(capsys, links=[dict(path=str(path), src="/usr/local/bin/k3s", force=False)])
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == ("links[0] (%s): the path is a regular file and force is false (set force to true to "
                             "replace it with a link to /usr/local/bin/k3s, or remove it)" % path)
    assert path.read_text() == "#!/bin/sh\n" and not path.is_symlink()


def test_file_replaced_by_a_link_with_force(tmp_path, capsys) -> None:
    path = tmp_path / "kubectl"
    path.write_text("#!/bin/sh\n")
    result, dummy = run(capsys, links=[dict(path=str(path), src="k3s")])
    assert result["changed"] is True and os.readlink(path) == "k3s"


def test_directory_at_a_file_dest_is_refused_and_nothing_changes(tmp_path, capsys) -> None:
    (tmp_path / "config.yaml").mkdir()
    result, dummy = run(capsys, directories=[mine(path=f"{tmp_path}/new", mode="0700")],
                        files=[mine(dest=f"{tmp_path}/config.yaml", content="a: 1\n", mode="0600")])
    assert result["failed"] is True
    assert result["msg"].startswith("files[0] (%s/config.yaml): the path is a directory" % tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["config.yaml"]


def test_a_link_at_a_file_dest_is_not_followed(tmp_path, capsys) -> None:
    target = tmp_path / "real.yaml"
    target.write_text("a: 1\n")
    (tmp_path / "config.yaml").symlink_to(target)
    result, dummy = run(capsys, files=[mine(dest=f"{tmp_path}/config.yaml", content="a: 2\n", mode="0600")])
    assert result["failed"] is True and "the path is a symbolic link" in result["msg"]
    assert target.read_text() == "a: 1\n"


def test_atomic_write_leaves_no_temporary_file(tmp_path, capsys) -> None:
    dest = tmp_path / "k3s.service"
    dest.write_text("old\n")
    for content in (UNIT, UNIT + "After=network.target\n"):
        run(capsys, files=[mine(dest=str(dest), content=content, mode="0644")])
        assert os.listdir(tmp_path) == ["k3s.service"] and dest.read_text() == content


def test_failed_rename_keeps_the_old_file_and_removes_the_temporary_one(tmp_path, capsys, monkeypatch) -> None:
    dest = tmp_path / "k3s.service"
    dest.write_text("old\n")

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied", dst)

    monkeypatch.setattr(node_files.os, "rename", refuse)
    result, dummy = run(capsys, files=[mine(dest=str(dest), content=UNIT, mode="0644")])
    assert result["failed"] is True and result["msg"].startswith("Cannot write %s: " % dest)
    assert os.listdir(tmp_path) == ["k3s.service"] and dest.read_text() == "old\n"


def test_secret_content_is_never_in_the_output(tmp_path, capsys) -> None:
    dest = tmp_path / "config.yaml"
    secret_file = mine(dest=str(dest), content=SECRET, mode="0600", secret=True)
    outputs = [run(capsys, files=[secret_file])[1]]
    dest.write_text("token: K10oldoldold\n")
    outputs.append(run(capsys, files=[secret_file])[1])
    outputs.append(run(capsys, check_mode=True, files=[dict(secret_file, content=SECRET + "x: 1\n")])[1])
    dest.chmod(0o644)
    outputs.append(run(capsys, files=[secret_file])[1])
    outputs.append(run(capsys, files=[secret_file, dict(secret_file)])[1])  # a failure, with the duplicate
    assert all(json.loads(out)["changed"] for out in outputs[:4]) and json.loads(outputs[4])["failed"]
    for out in outputs:
        assert "K10secret" not in out and "K10old" not in out
    assert dest.read_text() == SECRET


def test_absent_removes_files_and_links_but_not_directories(tmp_path, capsys) -> None:
    (tmp_path / "old.env").write_text("X=1\n")
    (tmp_path / "old-link").symlink_to("old.env")
    result, dummy = run(capsys, absent=[f"{tmp_path}/old.env", f"{tmp_path}/old-link", f"{tmp_path}/never"])
    assert result["changed_paths"] == [f"{tmp_path}/old-link", f"{tmp_path}/old.env"]
    assert os.listdir(tmp_path) == []
    (tmp_path / "dir").mkdir()
    refused, dummy = run(capsys, absent=[f"{tmp_path}/dir"])
    assert refused["failed"] is True and (tmp_path / "dir").is_dir()


def test_bad_arguments_name_option_index_and_path(tmp_path, capsys) -> None:
    result, dummy = run(capsys, files=[mine(dest="etc/k3s.yaml", content="", mode="0600"),
                                       mine(dest=f"{tmp_path}/a", content="", mode=384)],
                        links=[dict(path=f"{tmp_path}/a/", src="b")])
    assert result["failed"] is True
    assert "files[0].dest: 'etc/k3s.yaml' is a relative path" in result["msg"]
    assert "files[1] (%s/a): mode must be a quoted octal string" % tmp_path in result["msg"]
    assert "links[0] (%s/a): the path is also files[1]" % tmp_path in result["msg"]


def test_unknown_owner_and_group_are_named(tmp_path, capsys) -> None:
    result, dummy = run(capsys, directories=[dict(path=f"{tmp_path}/d", mode="0700", owner="no-such-user-kf",
                                                  group="no-such-group-kf")])
    assert result["failed"] is True and os.listdir(tmp_path) == []
    assert result["msg"] == ("user 'no-such-user-kf' of directories[0] (%s/d) does not exist on this host; "
                             "group 'no-such-group-kf' of directories[0] (%s/d) does not exist on this host"
                             % (tmp_path, tmp_path))


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_owner_is_fixed_in_place_as_root(tmp_path, capsys) -> None:
    nobody = pwd.getpwnam("nobody")
    dest = tmp_path / "k3s.service"
    dest.write_text(UNIT)
    dest.chmod(0o644)
    result, dummy = run(capsys, files=[dict(dest=str(dest), content=UNIT, mode="0644", owner="nobody")])
    assert result["changed_paths"] == [str(dest)] and dest.stat().st_uid == nobody.pw_uid
    assert "owner nobody" in result["diff"][0]["after"]
