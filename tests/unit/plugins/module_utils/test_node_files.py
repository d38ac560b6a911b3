# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""node_files planning on made-up observations: no file is touched."""
from __future__ import annotations

import copy
import hashlib

import pytest

from ansible_collections.kubeforge.cluster.plugins.module_utils.node_files import (
    CREATE_DIR,
    DIR,
    FILE,
    LINK,
    MAKE_LINK,
    MISSING,
    OTHER,
    REMOVE,
    SET_ATTRS,
    WRITE_FILE,
    Action,
    Desired,
    NodeFilesError,
    Observed,
    ancestors,
    parse_items,
    parse_mode,
    plan,
)

UIDS = {"root": 0, "kube": 1000}
GIDS = {"root": 0, "kube": 1000}
SECRET = "token: K10aaaabbbbccccdddd::server:0123456789abcdef\n"
CONFIG = "write-kubeconfig-mode: '0600'\n"
KUBECTL = "/usr/local/bin/kubectl"
TO_SRV = Observed(LINK, 0o777, 0, 0, target="/srv/k3s", leads_to_dir=True)


def directory(path="/etc/rancher/k3s", mode="0700", **extra):
    return dict(path=path, mode=mode, **extra)


def file(dest="/etc/rancher/k3s/config.yaml", content=CONFIG, mode="0600", **extra):
    return dict(dest=dest, content=content, mode=mode, **extra)


def link(path="/usr/local/bin/kubectl", src="/usr/local/bin/k3s", **extra):
    return dict(path=path, src=src, **extra)


def existing_file(content: str, mode: int = 0o600, uid: int = 0, gid: int = 0) -> Observed:
    data = content.encode()
    return Observed(FILE, mode, uid, gid, hashlib.sha256(data).hexdigest(), data)


def world(desired: Desired, found: dict[str, Observed] | None = None) -> dict[str, Observed]:
    """Every path missing except ``found`` and /, /etc and /usr/local/bin (root's 0755 directories)."""
    observed = {path: Observed(MISSING) for path in desired.paths_to_observe()}
    for path in ("/", "/etc", "/usr", "/usr/local", "/usr/local/bin"):
        if path in observed:
            observed[path] = Observed(DIR, 0o755, 0, 0)
    observed.update(found or {})
    return observed


def run_plan(directories=(), files=(), links=(), absent=(), found=None, want_diff=True):
    desired = parse_items(list(directories), list(files), list(links), list(absent))
    return plan(desired, world(desired, found), UIDS, GIDS, want_diff=want_diff)


def kinds(result) -> list[tuple[str, str]]:
    return [(action.kind, action.path) for action in result.actions]


# Parsing


@pytest.mark.parametrize("value,expected", [("0700", 0o700), ("644", 0o644), ("2755", 0o2755), ("0000", 0)])
def test_parse_mode_accepts_octal_strings(value: str, expected: int) -> None:
    assert parse_mode(value, "files[0]") == expected


@pytest.mark.parametrize("value,words", [
    (420, "quoted octal string"),
    ("0799", "not an octal mode"),
    ("u=rw", "symbolic modes"),
    ("07000", "not an octal mode"),
    (None, "not an octal mode"),
    (True, "not an octal mode"),
])
def test_parse_mode_refuses_the_rest(value: object, words: str) -> None:
    with pytest.raises(NodeFilesError, match=words):
        parse_mode(value, "files[0]")


def test_relative_path_names_option_index_and_path() -> None:
    with pytest.raises(NodeFilesError) as excinfo:
        parse_items(files=[file(), file(dest="etc/rancher/k3s/other.yaml")])
    assert "files[1].dest: 'etc/rancher/k3s/other.yaml' is a relative path" in str(excinfo.value)
    assert "'/etc/rancher/k3s/other.yaml'" in str(excinfo.value)


def test_duplicates_across_lists_are_found_after_normalizing() -> None:
    with pytest.raises(NodeFilesError) as excinfo:
        parse_items(directories=[directory("/etc/rancher/k3s/")], absent=["/etc//rancher/./k3s"])
    assert str(excinfo.value) == ("absent[0] (/etc/rancher/k3s): the path is also directories[0], and each path "
                                  "may appear only once across directories, files, links and absent")


def test_every_parse_problem_is_reported_at_once() -> None:
    with pytest.raises(NodeFilesError) as excinfo:
        parse_items(directories=[directory(mode=700)], files=[file(mode="rw")], links=[link(path="kubectl")],
                    absent=["/"])
    message = str(excinfo.value)
    assert "directories[0] (/etc/rancher/k3s): mode must be a quoted octal string" in message
    assert "files[0] (/etc/rancher/k3s/config.yaml): mode 'rw'" in message
    assert "links[0].path: 'kubectl' is a relative path" in message
    assert "absent[0]: '/' is the root directory" in message


def test_defaults_and_labels() -> None:
    desired = parse_items(directories=[directory()], files=[file(owner="kube", secret=True)],
                          links=[link()], absent=["/etc/old"])
    assert (desired.directories[0].owner, desired.directories[0].group) == ("root", "root")
    assert desired.files[0].secret and desired.files[0].content == CONFIG.encode()
    assert desired.links[0].force is True
    assert desired.owner_names() == {"root": ["directories[0] (/etc/rancher/k3s)"],
                                     "kube": ["files[0] (/etc/rancher/k3s/config.yaml)"]}
    assert "/etc/rancher" in desired.paths_to_observe() and "/" in desired.paths_to_observe()


def test_ancestors_run_up_to_the_root() -> None:
    assert ancestors("/etc/rancher/k3s") == ["/etc/rancher", "/etc", "/"]


# Directories


def test_missing_directory_is_created_with_its_missing_parents() -> None:
    result = run_plan(directories=[directory("/etc/rancher/k3s/config.yaml.d")])
    assert kinds(result) == [(CREATE_DIR, "/etc/rancher"), (CREATE_DIR, "/etc/rancher/k3s"),
                             (CREATE_DIR, "/etc/rancher/k3s/config.yaml.d")]
    assert {(a.mode, a.uid, a.gid) for a in result.actions} == {(0o700, 0, 0)}
    assert result.changed_paths == ("/etc/rancher", "/etc/rancher/k3s", "/etc/rancher/k3s/config.yaml.d")
    assert result.diff[0] == {"before_header": "/etc/rancher", "after_header": "/etc/rancher", "before": "absent\n",
                              "after": "directory\nmode 0700\nowner root\ngroup root\n"}


def test_a_listed_parent_gets_its_own_mode_whatever_the_order() -> None:
    result = run_plan(directories=[directory("/etc/rancher/k3s", "0700"), directory("/etc/rancher", "0755")])
    assert [(a.path, a.mode) for a in result.actions] == [("/etc/rancher", 0o755), ("/etc/rancher/k3s", 0o700)]


def test_existing_directory_mode_is_fixed_in_place() -> None:
    result = run_plan(directories=[directory()], found={"/etc/rancher": Observed(DIR, 0o755, 0, 0),
                                                         "/etc/rancher/k3s": Observed(DIR, 0o755, 0, 0)})
    assert result.actions == (Action(SET_ATTRS, "/etc/rancher/k3s", mode=0o700),)
    assert result.diff[0]["before"] == "directory\nmode 0755\nowner root\ngroup root\n"


def test_owner_change_also_sets_the_mode_again() -> None:
    result = run_plan(directories=[directory(owner="kube")],
                      found={"/etc/rancher": Observed(DIR, 0o755, 0, 0), "/etc/rancher/k3s": Observed(DIR, 0o700, 0, 0)})
    assert result.actions == (Action(SET_ATTRS, "/etc/rancher/k3s", mode=0o700, uid=1000),)
    assert "owner kube" in result.diff[0]["after"] and "owner root" in result.diff[0]["before"]


def test_directory_in_place_of_a_link_or_under_a_file_is_refused() -> None:
    with pytest.raises(NodeFilesError, match=r"directories\[0\] \(/etc/rancher/k3s\): the path is a symbolic link"):
        run_plan(directories=[directory()], found={"/etc/rancher": Observed(DIR, 0o755, 0, 0), "/etc/rancher/k3s": TO_SRV})
    with pytest.raises(NodeFilesError, match="cannot create it because /etc/rancher is a regular file"):
        run_plan(directories=[directory()], found={"/etc/rancher": existing_file("x")})


def test_a_parent_that_links_to_a_directory_is_used() -> None:
    result = run_plan(files=[file()], found={"/etc/rancher": Observed(DIR, 0o755, 0, 0), "/etc/rancher/k3s": TO_SRV})
    assert kinds(result) == [(WRITE_FILE, "/etc/rancher/k3s/config.yaml")]


# Files


def test_missing_file_is_written_after_the_directory_made_for_it() -> None:
    result = run_plan(directories=[directory()], files=[file(mode="0640", group="kube")])
    assert kinds(result)[-1] == (WRITE_FILE, "/etc/rancher/k3s/config.yaml")
    write = result.actions[-1]
    assert (write.mode, write.uid, write.gid, write.content) == (0o640, 0, 1000, CONFIG.encode())
    assert result.diff[-1] == {
        "before_header": "/etc/rancher/k3s/config.yaml (absent)",
        "after_header": "/etc/rancher/k3s/config.yaml (mode 0640, owner root, group kube)",
        "before": "", "after": CONFIG}


def test_changed_content_is_rewritten_and_shown() -> None:
    result = run_plan(files=[file(dest="/etc/k3s.yaml")], found={"/etc/k3s.yaml": existing_file("old: 1\n", 0o644)})
    assert kinds(result) == [(WRITE_FILE, "/etc/k3s.yaml")]
    assert result.diff[0]["before"] == "old: 1\n" and result.diff[0]["after"] == CONFIG
    assert result.diff[0]["before_header"] == "/etc/k3s.yaml (mode 0644, owner root, group root)"


def test_same_content_with_other_mode_is_fixed_in_place() -> None:
    result = run_plan(files=[file(dest="/etc/k3s.yaml")], found={"/etc/k3s.yaml": existing_file(CONFIG, 0o644)})
    assert result.actions == (Action(SET_ATTRS, "/etc/k3s.yaml", mode=0o600),)
    assert result.changed_paths == ("/etc/k3s.yaml",)


def test_file_in_its_state_changes_nothing() -> None:
    result = run_plan(files=[file(dest="/etc/k3s.yaml")], found={"/etc/k3s.yaml": existing_file(CONFIG)})
    assert not result.changed and result.changed_paths == () and result.diff == ()


def test_file_that_is_not_utf8_is_not_shown() -> None:
    data = b"\xff\xfe"
    observed = Observed(FILE, 0o600, 0, 0, hashlib.sha256(data).hexdigest(), data)
    result = run_plan(files=[file(dest="/etc/k3s.yaml")], found={"/etc/k3s.yaml": observed})
    assert result.diff[0]["before"] == "(content that is not UTF-8, not shown)\n"


@pytest.mark.parametrize("found,words", [
    (Observed(DIR, 0o755, 0, 0), "the path is a directory"),
    (Observed(LINK, 0o777, 0, 0, target="/srv/k3s.yaml"), "the path is a symbolic link"),
    (Observed(OTHER, 0o600, 0, 0), "the path is a special file"),
])
def test_file_dest_that_is_not_a_regular_file_is_refused(found: Observed, words: str) -> None:
    with pytest.raises(NodeFilesError) as excinfo:
        run_plan(files=[file(dest="/etc/k3s.yaml")], found={"/etc/k3s.yaml": found})
    assert str(excinfo.value).startswith("files[0] (/etc/k3s.yaml): " + words)


def test_missing_parent_of_a_file_or_link_is_refused() -> None:
    with pytest.raises(NodeFilesError) as excinfo:
        run_plan(files=[file()], links=[link(path="/opt/bin/kubectl")])
    assert str(excinfo.value) == (
        "files[0] (/etc/rancher/k3s/config.yaml): the directory /etc/rancher/k3s does not exist (add it to "
        "directories); links[0] (/opt/bin/kubectl): the directory /opt/bin does not exist (add it to directories)")


# Secrets


@pytest.mark.parametrize("found", [None, existing_file("token: old\n"), existing_file(SECRET, 0o644)])
def test_secret_content_is_never_in_the_plan_output(found: Observed | None) -> None:
    result = run_plan(files=[file(dest="/etc/k3s.yaml", content=SECRET, secret=True)],
                      found={"/etc/k3s.yaml": found} if found else None)
    assert result.changed
    shown = repr(result) + repr(result.diff)
    assert "K10aaaa" not in shown and "token: old" not in shown
    assert "secret content not shown" in result.diff[0]["after"] or "secret" in result.diff[0]["before"]


def test_secret_rewrite_says_so_without_content() -> None:
    result = run_plan(files=[file(dest="/etc/k3s.yaml", content=SECRET, secret=True)],
                      found={"/etc/k3s.yaml": existing_file("token: old\n")})
    assert result.diff[0]["before"].startswith("file (secret content not shown)\n")
    assert result.diff[0]["after"].startswith("file (secret content not shown), rewritten\n")


# Links


def test_missing_link_is_made_and_a_right_one_left_alone() -> None:
    assert kinds(run_plan(links=[link()])) == [(MAKE_LINK, "/usr/local/bin/kubectl")]
    same = Observed(LINK, 0o777, 0, 0, target="/usr/local/bin/k3s")
    assert not run_plan(links=[link()], found={KUBECTL: same}).changed


@pytest.mark.parametrize("found,before", [
    (Observed(LINK, 0o777, 0, 0, target="/opt/kubectl"), "symbolic link to /opt/kubectl\n"),
    (existing_file("#!/bin/sh\n", 0o755), "regular file\n"),
])
def test_other_link_or_file_is_replaced_with_force(found: Observed, before: str) -> None:
    result = run_plan(links=[link()], found={KUBECTL: found})
    assert result.actions == (Action(MAKE_LINK, "/usr/local/bin/kubectl", target="/usr/local/bin/k3s"),)
    assert result.diff[0]["before"] == before
    assert result.diff[0]["after"] == "symbolic link to /usr/local/bin/k3s\n"


@pytest.mark.parametrize("found,words", [
    (Observed(LINK, 0o777, 0, 0, target="/opt/kubectl"), "a symbolic link to /opt/kubectl and force is false"),
    (existing_file("#!/bin/sh\n", 0o755), "a regular file and force is false"),
])
def test_other_link_or_file_without_force_is_refused(found: Observed, words: str) -> None:
    with pytest.raises(NodeFilesError, match=words):
        run_plan(links=[link(force=False)], found={KUBECTL: found})


def test_directory_at_a_link_path_is_refused_even_with_force() -> None:
    with pytest.raises(NodeFilesError, match="is a directory, which node_files never replaces with a link"):
        run_plan(links=[link(force=True)], found={KUBECTL: Observed(DIR, 0o755, 0, 0)})


# Absent


def test_absent_removes_files_and_links_and_skips_missing_paths() -> None:
    result = run_plan(absent=["/etc/a", "/etc/b", "/etc/c"], found={"/etc/a": existing_file("x"), "/etc/b": Observed(LINK, 0o777, 0, 0, target="a")})
    assert kinds(result) == [(REMOVE, "/etc/a"), (REMOVE, "/etc/b")]
    assert [entry["before"] for entry in result.diff] == ["regular file\n", "symbolic link to a\n"]


def test_absent_directory_is_refused() -> None:
    with pytest.raises(NodeFilesError, match=r"absent\[0\] \(/etc/a\): the path is a directory, and absent removes only"):
        run_plan(absent=["/etc/a"], found={"/etc/a": Observed(DIR, 0o755, 0, 0)})


# The plan as a whole


def test_every_problem_is_named_and_nothing_planned() -> None:
    with pytest.raises(NodeFilesError) as excinfo:
        run_plan(directories=[directory("/etc/a")], files=[file(dest="/etc/b")], absent=["/etc/c"],
                 found={"/etc/a": existing_file("x"), "/etc/b": Observed(DIR, 0o755, 0, 0),
                        "/etc/c": Observed(DIR, 0o755, 0, 0)})
    assert str(excinfo.value).count(";") == 2


def test_plan_is_pure_and_repeatable() -> None:
    """What check mode reports is what a real run does: plan() has no check mode and keeps its inputs."""
    desired = parse_items([directory()], [file(), file(dest="/etc/k3s.env", content=SECRET, secret=True)],
                          [link()], ["/etc/old"])
    observed = world(desired, {"/etc/old": existing_file("x")})
    snapshot = copy.deepcopy(observed)
    first = plan(desired, observed, UIDS, GIDS)
    assert observed == snapshot
    assert plan(desired, observed, UIDS, GIDS) == first
    assert first.changed_paths == ("/etc/k3s.env", "/etc/old", "/etc/rancher", "/etc/rancher/k3s",
                                   "/etc/rancher/k3s/config.yaml", "/usr/local/bin/kubectl")


def test_without_diff_the_actions_are_the_same() -> None:
    with_diff = run_plan(directories=[directory()], files=[file()], links=[link()])
    without = run_plan(directories=[directory()], files=[file()], links=[link()], want_diff=False)
    assert without.actions == with_diff.actions and without.diff == ()


def test_missing_observation_is_a_programming_error() -> None:
    desired = parse_items(files=[file()])
    with pytest.raises(ValueError, match="no observation of"):
        plan(desired, {}, UIDS, GIDS)
