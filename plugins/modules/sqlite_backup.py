#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: sqlite_backup
short_description: Take a consistent copy of a live SQLite database, such as K3s's datastore
version_added: 0.2.0
author: kubeforge maintainers (!UNKNOWN)
description:
  - Copies the SQLite database O(src) to O(dest) with SQLite's online backup API (the C(backup) method of
    Python's C(sqlite3.Connection)) while the programs using it keep running. This is how to back up the datastore
    of a K3s server that uses SQLite (C(<data-dir>/server/db/state.db), in WAL mode while K3s runs).
  - The copy is taken inside one read transaction, so it holds every transaction committed before the copy started
    (also those still in the C(-wal) file only) and none that is uncommitted. A plain file copy of a database in WAL
    mode misses the committed transactions that are still in the C(-wal) file and can be torn by a concurrent write.
  - O(src) is opened read-only. The module writes nothing beside it, except the C(-wal) and C(-shm) files that
    SQLite creates for a reader of a database in WAL mode when they do not exist yet (when K3s is stopped).
  - A writer holding a lock on O(src) makes the module wait (up to 30 seconds) instead of failing at once.
  - The copy is written to a temporary file in the directory of O(dest), created with O(mode) from the start, so
    it is never readable by others than O(mode) allows. The copy is switched to the rollback journal mode
    (C(journal_mode=DELETE)) so that it is one self-contained file, checked with C(PRAGMA integrity_check), flushed
    to disk and then renamed over O(dest). When anything fails, the temporary file is removed and O(dest) is left
    as it was.
  - The copy belongs to the user the module runs as. Its SELinux context is the one the policy gives to new files in
    its directory.
attributes:
  check_mode:
    support: full
    description: Checks O(src), the directory of O(dest) and O(mode), and reports a change without copying anything.
  diff_mode:
    support: none
    description: A database is a binary file; RV(sha256) and RV(size) tell the copy apart instead.
  idempotent:
    support: none
    description: Each run takes a new copy of the database as it is at that moment, and reports a change.
options:
  src:
    description:
      - The SQLite database to copy, for example V(/var/lib/rancher/k3s/server/db/state.db).
      - It must be an existing regular file (a symbolic link to one is followed).
    type: path
    required: true
  dest:
    description:
      - The file to write the copy to. Its directory must exist. An existing file there is replaced.
      - A symbolic link at O(dest) is replaced by the copy, not followed.
      - O(dest) must not be O(src).
    type: path
    required: true
  mode:
    description:
      - Octal permissions of the copy as a quoted string of 3 or 4 digits, such as V('0600') or V('0640').
      - Numbers are refused, because YAML reads an unquoted V(0640) as the number 416.
      - The default keeps the copy private to its owner. A K3s datastore holds the cluster's Secrets.
    type: raw
    default: '0600'
notes:
  - The module does not compress, rotate or prune copies; name O(dest) per run (for example with a timestamp) to keep
    several.
  - A source that is not an SQLite database, or a copy that fails its integrity check, fails the task.
seealso:
  - name: SQLite Online Backup API
    description: How SQLite copies a live database.
    link: https://www.sqlite.org/backup.html
"""

EXAMPLES = r"""
- name: Back up the K3s datastore while K3s runs
  kubeforge.cluster.sqlite_backup:
    src: /var/lib/rancher/k3s/server/db/state.db
    dest: "/var/backups/k3s/state-{{ now(utc=true, fmt='%Y%m%dT%H%M%SZ') }}.db"
  register: k3s_backup

- name: Fetch the copy to the controller
  ansible.builtin.fetch:
    src: "{{ k3s_backup.dest }}"
    dest: "backups/{{ inventory_hostname }}/"
    flat: true

- name: Keep a copy the backup group may read
  kubeforge.cluster.sqlite_backup:
    src: /var/lib/rancher/k3s/server/db/state.db
    dest: /var/backups/k3s/state-latest.db
    mode: '0640'
"""

RETURN = r"""
dest:
  description: The path of the copy (or of the copy that would be taken, in check mode).
  returned: always
  type: str
  sample: /var/backups/k3s/state-20250101T000000Z.db
size:
  description: Size of the copy in bytes.
  returned: success, not in check mode
  type: int
  sample: 5361664
sha256:
  description: SHA-256 digest of the copy, in hexadecimal.
  returned: success, not in check mode
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
pages:
  description: The number of database pages in the copy.
  returned: success, not in check mode
  type: int
  sample: 1309
tables:
  description: The number of tables in the copy (the rows of type C(table) in its C(sqlite_master)).
  returned: success, not in check mode
  type: int
  sample: 2
"""

import hashlib
import os
import re
import secrets
import sqlite3
import stat
import typing as t
from urllib.parse import quote

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeforge.cluster.plugins.module_utils.durable import fsync_dir

ARGUMENT_SPEC: dict[str, t.Any] = dict(
    src=dict(type="path", required=True),
    dest=dict(type="path", required=True),
    mode=dict(type="raw", default="0600"),
)
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


def run(params: dict[str, t.Any], check_mode: bool) -> dict[str, t.Any]:
    """The module's result for its parameters; raises SqliteBackupError."""
    mode = validate_mode(params["mode"])
    if check_mode:
        check_paths(params["src"], params["dest"])
        return dict(changed=True, dest=params["dest"])
    try:
        result = backup_database(params["src"], params["dest"], mode)
    except OSError as exc:
        raise SqliteBackupError("cannot copy %s to %s: %s" % (params["src"], params["dest"], exc)) from exc
    return dict(result, changed=True)


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = run(module.params, module.check_mode)
    except SqliteBackupError as exc:
        module.fail_json(msg=str(exc), changed=False, dest=module.params["dest"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
