# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Consistent copies of a live SQLite database (K3s's datastore) with SQLite's online backup API.

Used by the sqlite_backup module, and run on its own as the script of a K3s server's scheduled backups (the
k3s_server role copies this file and durable.py to the node; ``python3 sqlite_backup.py --help``): each run writes
``state-<UTC time>.db`` into a directory and keeps the newest copies.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import re
import secrets
import sqlite3
import stat
import sys
import typing as t
from urllib.parse import quote

try:
    from ansible_collections.kubeforge.cluster.plugins.module_utils.backup_rotation import prune as rotate
    from ansible_collections.kubeforge.cluster.plugins.module_utils.backup_rotation import scheduled_name as rotation_name
    from ansible_collections.kubeforge.cluster.plugins.module_utils.durable import fsync_dir
except ImportError:  # the scheduled backup's script on a node, outside Ansible: its modules lie beside it
    from backup_rotation import prune as rotate  # type: ignore[no-redef]
    from backup_rotation import scheduled_name as rotation_name  # type: ignore[no-redef]
    from durable import fsync_dir  # type: ignore[no-redef]

BUSY_TIMEOUT = 30.0
_MODE_RE = re.compile(r"[0-7]{3,4}")
_TEMP_SUFFIX = ".sqlite_backup.tmp"
# What SQLite may leave beside a database file it opened; removed with the temporary copy.
_SIDE_FILES = ("-journal", "-wal", "-shm")


class SqliteBackupError(Exception):
    """A problem the user has to fix; its text is the module's failure message."""


def validate_mode(value: t.Any) -> int:
    """The permission bits of an octal mode string of 3 or 4 digits, such as '0600'."""
    if not isinstance(value, str):
        raise SqliteBackupError("mode must be a quoted octal string of 3 or 4 digits such as '0600', not %r (YAML reads "
                                "an unquoted 0600 as the number 384): quote it" % (value,))
    if not _MODE_RE.fullmatch(value):
        raise SqliteBackupError("mode %r is not an octal string of 3 or 4 digits such as '0600' or '0640'" % value)
    return int(value, 8)


def check_paths(src: str, dest: str) -> None:
    """Refuse a source that is not a regular file, a destination without its directory, or the source as dest."""
    try:
        info = os.stat(src)
    except FileNotFoundError as exc:
        raise SqliteBackupError("src %s does not exist: does this server keep its datastore in SQLite "
                                "(cluster_datastore sqlite), and is the K3s data directory right?" % src) from exc
    except OSError as exc:
        raise SqliteBackupError("src %s cannot be inspected: %s" % (src, exc.strerror or exc)) from exc
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise SqliteBackupError("src %s is %s: point src at the database file itself, such as "
                                "<data-dir>/server/db/state.db" % (src, kind))
    directory = os.path.dirname(dest) or "."
    if not os.path.isdir(directory):
        raise SqliteBackupError("the directory %s of dest %s does not exist or is not a directory: create it first "
                                "(for example with ansible.builtin.file state=directory mode=0700)" % (directory, dest))
    if os.path.isdir(dest) and not os.path.islink(dest):
        raise SqliteBackupError("dest %s is a directory: give the path of the copy's file, such as %s"
                                % (dest, os.path.join(dest, os.path.basename(src))))
    if os.path.realpath(dest) == os.path.realpath(src) or (os.path.exists(dest) and os.path.samefile(dest, src)):
        raise SqliteBackupError("dest %s is the database src %s itself: write the copy elsewhere" % (dest, src))


def _create_temp(dest: str, mode: int) -> str:
    """Create an empty, unique temporary file beside ``dest`` with ``mode`` (plus the owner's rw to write it)."""
    directory, name = os.path.split(dest)
    create_mode = mode | stat.S_IRUSR | stat.S_IWUSR
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for dummy in range(10):
        tmp = os.path.join(directory or ".", ".%s.%s%s" % (name, secrets.token_hex(4), _TEMP_SUFFIX))
        try:
            fd = os.open(tmp, flags, create_mode)
        except FileExistsError:
            continue
        try:
            os.fchmod(fd, create_mode)  # the umask may have narrowed it; it can never have widened it
        finally:
            os.close(fd)  # before SQLite opens it: closing a descriptor later would drop SQLite's locks
        return tmp
    raise SqliteBackupError("no free temporary file name beside dest %s" % dest)


def _remove(tmp: str) -> None:
    for path in (tmp,) + tuple(tmp + side for side in _SIDE_FILES):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _copy(src: str, tmp: str, timeout: float) -> tuple[int, int]:
    """Back ``src`` up into the empty database ``tmp``, check it; its page and table counts."""
    source = sqlite3.connect("file:%s?mode=ro" % quote(os.path.abspath(src)), uri=True, timeout=timeout,
                             isolation_level=None)
    try:
        # Take the read lock (the snapshot the copy is of) here, where the busy timeout applies: Python's
        # backup() retries a busy source forever.
        source.execute("BEGIN")
        source.execute("SELECT count(*) FROM sqlite_master").fetchall()
        target = sqlite3.connect(tmp, timeout=timeout)
        try:
            source.backup(target)  # all pages in one step, inside the read transaction above
            source.execute("ROLLBACK")
            # The copy keeps the source's WAL mark; the rollback journal makes it a single self-contained file.
            target.execute("PRAGMA journal_mode=DELETE").fetchall()
            problems = [row[0] for row in target.execute("PRAGMA integrity_check").fetchall()]
            if problems != ["ok"]:
                raise SqliteBackupError("the copy of %s failed its integrity check, nothing was written: %s"
                                        % (src, "; ".join(str(problem) for problem in problems[:10])))
            pages = target.execute("PRAGMA page_count").fetchone()[0]
            tables = target.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        finally:
            target.close()
    finally:
        source.close()
    return int(pages), int(tables)


def _digest_and_sync(path: str, mode: int) -> tuple[int, str]:
    """Give ``path`` its final mode, flush it to disk; its size and sha256."""
    digest = hashlib.sha256()
    size = 0
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as handle:
        os.fchmod(handle.fileno(), mode)
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
        os.fsync(handle.fileno())
    return size, digest.hexdigest()


def backup_database(src: str, dest: str, mode: int, timeout: float = BUSY_TIMEOUT) -> dict[str, t.Any]:
    """Copy the database ``src`` to ``dest`` with permissions ``mode``; what the module returns about the copy."""
    check_paths(src, dest)
    tmp = _create_temp(dest, mode)
    try:
        try:
            pages, tables = _copy(src, tmp, timeout)
        except sqlite3.OperationalError as exc:
            hint = ""
            if "locked" in str(exc) or "busy" in str(exc):
                hint = " (a writer held its lock longer than %g seconds; try again)" % timeout
            raise SqliteBackupError("cannot copy %s: %s%s" % (src, exc, hint)) from exc
        except sqlite3.DatabaseError as exc:
            raise SqliteBackupError("cannot copy %s: %s: is it an SQLite database?" % (src, exc)) from exc
        size, sha256 = _digest_and_sync(tmp, mode)
        os.replace(tmp, dest)
        tmp = ""
    finally:
        if tmp:
            _remove(tmp)
    try:
        fsync_dir(os.path.dirname(dest) or ".")
    except OSError:
        pass  # the copy is in place; only its durability across a crash right now is at stake
    return dict(dest=dest, size=size, sha256=sha256, pages=pages, tables=tables)


def scheduled_name(now: datetime.datetime) -> str:
    """The file name of the scheduled copy taken at ``now`` (UTC): state-20261205T001500Z.db."""
    return rotation_name("state", now)


def prune(directory: str, keep: int) -> list[str]:
    """Remove all but the ``keep`` newest scheduled copies in ``directory``, and the temporary files of copies a
    killed run left; nothing else. Returns the removed paths."""
    return rotate(directory, keep, "state", lambda n: n.startswith(".state-") and _TEMP_SUFFIX in n)


def scheduled_backup(db: str, directory: str, keep: int, now: datetime.datetime | None = None) -> dict[str, t.Any]:
    """One scheduled copy of ``db`` into ``directory`` (created 0700), then the prune to ``keep`` copies."""
    if keep < 1:
        raise SqliteBackupError("keep is %d: keep at least one copy" % keep)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    dest = os.path.join(directory, scheduled_name(now or datetime.datetime.now(datetime.timezone.utc)))
    result = backup_database(db, dest, 0o600)
    result["removed"] = prune(directory, keep)
    return result


def main(argv: list[str] | None = None) -> int:
    """The scheduled backup: one copy, the prune, one line for the journal; exit status 1 with the reason."""
    parser = argparse.ArgumentParser(description="Copy a live SQLite database into DIR as state-<UTC time>.db and "
                                                 "keep the KEEP newest copies.")
    parser.add_argument("--db", required=True, help="the database, such as /var/lib/rancher/k3s/server/db/state.db")
    parser.add_argument("--dir", required=True, help="where the copies go")
    parser.add_argument("--keep", type=int, required=True, help="how many copies to keep")
    args = parser.parse_args(argv)
    try:
        result = scheduled_backup(args.db, args.dir, args.keep)
    except (SqliteBackupError, OSError) as exc:
        sys.stderr.write("backup of %s failed: %s\n" % (args.db, exc))
        return 1
    sys.stdout.write("backup %s: %d bytes, sha256 %s, %d tables; %d old copies removed\n"
                     % (result["dest"], result["size"], result["sha256"], result["tables"], len(result["removed"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())  # pylint: disable=ansible-bad-function  # the timer's script, never a module
