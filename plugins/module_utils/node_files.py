# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan the changes that bring a node's small files, directories and links to a desired state.

The node_files module works in three steps: it observes every path involved (never following the last
component of an item's path), asks :func:`plan` what to do, and applies the actions unless in check mode.
Everything here is pure: the desired items and the observations come in as plain data, the actions and the
diff go out, and no file, user database or process is touched. Owner and group names are resolved to ids
by the caller.
"""
from __future__ import annotations

import hashlib
import posixpath
import re
import typing as t
from dataclasses import dataclass, field

# What a path is, as os.lstat sees it.
MISSING = "missing"
FILE = "file"
DIR = "directory"
LINK = "link"
OTHER = "other"
KIND_TEXT = {
    FILE: "a regular file",
    DIR: "a directory",
    LINK: "a symbolic link",
    OTHER: "a special file (device, socket or FIFO)",
}

# What an action does.
CREATE_DIR = "create_dir"
SET_ATTRS = "set_attrs"
WRITE_FILE = "write_file"
MAKE_LINK = "make_link"
REMOVE = "remove"

_MODE = re.compile(r"^[0-7]{3,4}$")
SECRET_TEXT = "(secret content not shown)"


class NodeFilesError(ValueError):
    """The desired items cannot be parsed, or the node's paths do not allow reaching them."""


@dataclass(frozen=True)
class Directory:
    path: str
    mode: int
    owner: str
    group: str
    label: str


@dataclass(frozen=True)
class File:
    """A ``files`` item; ``path`` is its dest."""

    path: str
    content: bytes = field(repr=False)
    mode: int
    owner: str
    group: str
    secret: bool
    label: str


@dataclass(frozen=True)
class Link:
    path: str
    src: str
    force: bool
    label: str


@dataclass(frozen=True)
class Absent:
    path: str
    label: str


@dataclass(frozen=True)
class Desired:
    directories: tuple[Directory, ...] = ()
    files: tuple[File, ...] = ()
    links: tuple[Link, ...] = ()
    absent: tuple[Absent, ...] = ()

    def paths_to_observe(self) -> list[str]:
        """Every item's path and every ancestor of a directory, file or link, sorted."""
        paths = {item.path for item in self.absent}
        for item in (*self.directories, *self.files, *self.links):
            paths.add(item.path)
            paths.update(ancestors(item.path))
        return sorted(paths)

    def owner_names(self) -> dict[str, list[str]]:
        """Owner names mapped to the labels of the items that ask for them."""
        return _names(self, "owner")

    def group_names(self) -> dict[str, list[str]]:
        """Group names mapped to the labels of the items that ask for them."""
        return _names(self, "group")


def _names(desired: Desired, attribute: str) -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}
    for item in (*desired.directories, *desired.files):
        names.setdefault(getattr(item, attribute), []).append(item.label)
    return names


@dataclass(frozen=True)
class Observed:
    """One path as found on the node; ``sha256`` and ``content`` only for the paths of ``files`` items."""

    kind: str
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    sha256: str | None = None
    content: bytes | None = field(default=None, repr=False)
    target: str | None = None
    leads_to_dir: bool = False

    @property
    def is_dir(self) -> bool:
        """Whether the path can hold entries: a directory, or a link that leads to one."""
        return self.kind == DIR or (self.kind == LINK and self.leads_to_dir)


@dataclass(frozen=True)
class Action:
    """One change; a None ``mode``, ``uid`` or ``gid`` of a ``set_attrs`` action means leave it as it is."""

    kind: str
    path: str
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    content: bytes | None = field(default=None, repr=False)
    target: str | None = None


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    changed_paths: tuple[str, ...]
    diff: tuple[dict[str, str], ...]

    @property
    def changed(self) -> bool:
        return bool(self.actions)


def ancestors(path: str) -> list[str]:
    """The directories above an absolute path, nearest first, ending with ``/``."""
    found = []
    while path != "/":
        path = posixpath.dirname(path)
        found.append(path)
    return found


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_mode(value: t.Any, where: str) -> int:
    """An octal mode string such as ``'0644'`` as a number; integers are refused (YAML reads 0644 as 420)."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise NodeFilesError("%s: mode must be a quoted octal string such as '0644', got the number %d "
                             "(YAML reads an unquoted 0644 as the number 420), so quote it" % (where, value))
    if not isinstance(value, str) or not _MODE.match(value):
        raise NodeFilesError("%s: mode %r is not an octal mode of 3 or 4 digits such as '0644' or '0700' "
                             "(symbolic modes such as u=rw are not supported)" % (where, value))
    return int(value, 8)


def parse_path(value: t.Any, where: str) -> str:
    """An absolute path, normalized (``//`` and ``/./`` collapsed, ``..`` resolved as text)."""
    if not isinstance(value, str) or not value:
        raise NodeFilesError("%s: the path is empty, give an absolute path" % where)
    if not value.startswith("/"):
        raise NodeFilesError("%s: %r is a relative path, give an absolute path such as '/%s'"
                             % (where, value, value.lstrip("./")))
    path = "/" + posixpath.normpath(value).lstrip("/")
    if path == "/":
        raise NodeFilesError("%s: %r is the root directory, which node_files does not manage" % (where, value))
    return path


def _name(value: t.Any, what: str, where: str) -> str:
    if value is None:
        return "root"
    if not isinstance(value, str) or not value.strip():
        raise NodeFilesError("%s: %s must be a user or group name such as 'root', got %r" % (where, what, value))
    return value


def _directory(item: t.Mapping[str, t.Any], path: str, label: str) -> Directory:
    return Directory(path, parse_mode(item.get("mode"), label), _name(item.get("owner"), "owner", label),
                     _name(item.get("group"), "group", label), label)


def _file(item: t.Mapping[str, t.Any], path: str, label: str) -> File:
    content = item.get("content")
    if not isinstance(content, str):
        raise NodeFilesError("%s: content must be a string (the whole file), got %s" % (label, type(content).__name__))
    return File(path, content.encode("utf-8", "surrogateescape"), parse_mode(item.get("mode"), label),
                _name(item.get("owner"), "owner", label), _name(item.get("group"), "group", label),
                bool(item.get("secret")), label)


def _link(item: t.Mapping[str, t.Any], path: str, label: str) -> Link:
    src = item.get("src")
    if not isinstance(src, str) or not src:
        raise NodeFilesError("%s: src, the path the link points to, is empty" % label)
    return Link(path, src, item.get("force") is not False, label)


_OPTIONS: tuple[tuple[str, str | None, t.Callable[[t.Any, str, str], t.Any]], ...] = (
    ("directories", "path", _directory),
    ("files", "dest", _file),
    ("links", "path", _link),
    ("absent", None, lambda item, path, label: Absent(path, label)),
)


def parse_items(directories: t.Sequence[t.Mapping[str, t.Any]] | None = None,
                files: t.Sequence[t.Mapping[str, t.Any]] | None = None,
                links: t.Sequence[t.Mapping[str, t.Any]] | None = None,
                absent: t.Sequence[str] | None = None) -> Desired:
    """Check the module's four lists and return them as :class:`Desired`; every problem is named at once.

    Items are labelled ``option[index] (path)`` with 0-based indexes, as in the messages.
    """
    problems: list[str] = []
    seen: dict[str, str] = {}
    parsed: list[tuple[t.Any, ...]] = []
    for (option, key, build), items in zip(_OPTIONS, (directories, files, links, absent)):
        found = []
        for index, item in enumerate(items or ()):
            try:
                path = parse_path(item if key is None else item.get(key),
                                  "%s[%d]%s" % (option, index, "." + key if key else ""))
                label = "%s[%d] (%s)" % (option, index, path)
                if path in seen:
                    raise NodeFilesError("%s: the path is also %s, and each path may appear only once across "
                                         "directories, files, links and absent" % (label, seen[path]))
                seen[path] = "%s[%d]" % (option, index)
                found.append(build(item, path, label))
            except NodeFilesError as exc:
                problems.append(str(exc))
        parsed.append(tuple(found))
    if problems:
        raise NodeFilesError("; ".join(problems))
    return Desired(*parsed)


def _text(data: bytes | None) -> str:
    if data is None:
        return ""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "(content that is not UTF-8, not shown)\n"


class _Planner:
    """Walks the items in the order directories, files, links, absent over a model of the node's paths."""

    def __init__(self, observed: t.Mapping[str, Observed], uids: t.Mapping[str, int], gids: t.Mapping[str, int],
                 want_diff: bool) -> None:
        self.state = dict(observed)
        self.uids = uids
        self.gids = gids
        self.user_names = {uid: name for name, uid in sorted(uids.items(), reverse=True)}
        self.group_names = {gid: name for name, gid in sorted(gids.items(), reverse=True)}
        self.want_diff = want_diff
        self.actions: list[Action] = []
        self.diff: list[dict[str, str]] = []
        self.problems: list[str] = []

    def seen(self, path: str) -> Observed:
        try:
            return self.state[path]
        except KeyError:
            raise ValueError("no observation of %s; observe Desired.paths_to_observe()" % path) from None

    def act(self, action: Action, before: str, after: str, before_header: str = "", after_header: str = "") -> None:
        self.actions.append(action)
        if self.want_diff:
            self.diff.append({"before_header": before_header or action.path, "after_header": after_header or action.path,
                              "before": before, "after": after})

    def attrs(self, mode: int | None, uid: int | None, gid: int | None) -> str:
        if mode is None:
            return ""
        return "mode %04o\nowner %s\ngroup %s\n" % (mode, self.user_names.get(uid, uid), self.group_names.get(gid, gid))

    def header(self, path: str, mode: int | None, uid: int | None, gid: int | None) -> str:
        """A file diff's header: the path with its mode, owner and group, or (absent)."""
        if mode is None:
            return "%s (absent)" % path
        return "%s (%s)" % (path, self.attrs(mode, uid, gid).strip().replace("\n", ", "))

    @staticmethod
    def describe(seen: Observed) -> str:
        """What a link or an absent path replaces: nothing, a link or a regular file."""
        if seen.kind == LINK:
            return "symbolic link to %s\n" % seen.target
        return "absent\n" if seen.kind == MISSING else "regular file\n"

    def fix_attrs(self, path: str, seen: Observed, mode: int, uid: int, gid: int, prefix: str = "") -> None:
        """Plan a chown/chmod in place when the mode, owner or group differ."""
        if (seen.mode, seen.uid, seen.gid) == (mode, uid, gid):
            return
        owner_changes = (seen.uid, seen.gid) != (uid, gid)
        # chown clears set-user-ID and set-group-ID bits, so a change of owner also sets the mode again.
        action = Action(SET_ATTRS, path, mode=mode if owner_changes or seen.mode != mode else None,
                        uid=uid if seen.uid != uid else None, gid=gid if seen.gid != gid else None)
        self.act(action, prefix + self.attrs(seen.mode, seen.uid, seen.gid), prefix + self.attrs(mode, uid, gid))
        self.state[path] = Observed(seen.kind, mode, uid, gid, seen.sha256, seen.content, seen.target)

    def parent_ready(self, label: str, path: str) -> bool:
        parent = posixpath.dirname(path)
        seen = self.seen(parent)
        if seen.is_dir:
            return True
        if seen.kind == MISSING:
            self.problems.append("%s: the directory %s does not exist (add it to directories)" % (label, parent))
        else:
            self.problems.append("%s: %s is %s, not a directory" % (label, parent, KIND_TEXT[seen.kind]))
        return False

    def directory(self, item: Directory) -> None:
        uid, gid = self.uids[item.owner], self.gids[item.group]
        seen = self.seen(item.path)
        if seen.kind == DIR:
            self.fix_attrs(item.path, seen, item.mode, uid, gid, prefix="directory\n")
            return
        if seen.kind != MISSING:
            self.problems.append("%s: the path is %s, not a directory (remove it or choose another path)"
                                 % (item.label, KIND_TEXT[seen.kind]))
            return
        to_create = [item.path]
        for parent in ancestors(item.path):
            above = self.seen(parent)
            if above.is_dir:
                break
            if above.kind != MISSING:
                self.problems.append("%s: cannot create it because %s is %s, not a directory"
                                     % (item.label, parent, KIND_TEXT[above.kind]))
                return
            to_create.append(parent)
        for path in reversed(to_create):
            self.act(Action(CREATE_DIR, path, mode=item.mode, uid=uid, gid=gid),
                     "absent\n", "directory\n" + self.attrs(item.mode, uid, gid))
            self.state[path] = Observed(DIR, item.mode, uid, gid)

    def file(self, item: File) -> None:
        if not self.parent_ready(item.label, item.path):
            return
        uid, gid = self.uids[item.owner], self.gids[item.group]
        seen = self.seen(item.path)
        if seen.kind not in (MISSING, FILE):
            self.problems.append("%s: the path is %s, and node_files writes only regular files and does not "
                                 "follow links (remove it or choose another dest)" % (item.label, KIND_TEXT[seen.kind]))
            return
        digest = sha256(item.content)
        if seen.kind == FILE and seen.sha256 == digest:
            prefix = "file %s\n" % SECRET_TEXT if item.secret else ""
            self.fix_attrs(item.path, seen, item.mode, uid, gid, prefix=prefix)
            return
        action = Action(WRITE_FILE, item.path, mode=item.mode, uid=uid, gid=gid, content=item.content)
        if item.secret:
            if seen.kind == MISSING:
                before, after = "absent\n", "file %s\n" % SECRET_TEXT
            else:
                before = "file %s\n%s" % (SECRET_TEXT, self.attrs(seen.mode, seen.uid, seen.gid))
                after = "file %s, rewritten\n" % SECRET_TEXT
            self.act(action, before, after + self.attrs(item.mode, uid, gid))
        else:
            self.act(action, _text(seen.content), _text(item.content),
                     before_header=self.header(item.path, seen.mode, seen.uid, seen.gid),
                     after_header=self.header(item.path, item.mode, uid, gid))
        self.state[item.path] = Observed(FILE, item.mode, uid, gid, digest)

    def link(self, item: Link) -> None:
        if not self.parent_ready(item.label, item.path):
            return
        seen = self.seen(item.path)
        if seen.kind == LINK and seen.target == item.src:
            return
        if seen.kind in (DIR, OTHER):
            self.problems.append("%s: the path is %s, which node_files never replaces with a link (remove it or "
                                 "choose another path)" % (item.label, KIND_TEXT[seen.kind]))
            return
        if seen.kind != MISSING and not item.force:
            what = "a symbolic link to %s" % seen.target if seen.kind == LINK else KIND_TEXT[seen.kind]
            self.problems.append("%s: the path is %s and force is false (set force to true to replace it with a "
                                 "link to %s, or remove it)" % (item.label, what, item.src))
            return
        self.act(Action(MAKE_LINK, item.path, target=item.src), self.describe(seen),
                 "symbolic link to %s\n" % item.src)
        self.state[item.path] = Observed(LINK, target=item.src)

    def absent(self, item: Absent) -> None:
        seen = self.seen(item.path)
        if seen.kind == MISSING:
            return
        if seen.kind not in (FILE, LINK):
            self.problems.append("%s: the path is %s, and absent removes only regular files and symbolic links"
                                 % (item.label, KIND_TEXT[seen.kind]))
            return
        self.act(Action(REMOVE, item.path), self.describe(seen), "absent\n")
        self.state[item.path] = Observed(MISSING)


def plan(desired: Desired, observed: t.Mapping[str, Observed], uids: t.Mapping[str, int],
         gids: t.Mapping[str, int], want_diff: bool = True) -> Plan:
    """The actions that bring the observed paths to ``desired``, in the order they must run.

    ``observed`` holds an :class:`Observed` for every path of ``desired.paths_to_observe()``; ``uids`` and
    ``gids`` map every owner and group name of ``desired`` to its id. Directories are planned parents first,
    then files, links and absent paths in their given order, each seeing the changes planned before it.
    Raises :class:`NodeFilesError` naming every item that cannot be brought to its state; then nothing is
    to be done at all. The plan does not depend on check mode.
    """
    planner = _Planner(observed, uids, gids, want_diff)
    for directory in sorted(desired.directories, key=lambda item: item.path):
        planner.directory(directory)
    for file in desired.files:
        planner.file(file)
    for link in desired.links:
        planner.link(link)
    for gone in desired.absent:
        planner.absent(gone)
    if planner.problems:
        raise NodeFilesError("; ".join(planner.problems))
    return Plan(tuple(planner.actions), tuple(sorted({a.path for a in planner.actions})), tuple(planner.diff))
