# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scheduled SQLite backups of a K3s server: module_utils/sqlite_backup.py run as a script on the node."""
from __future__ import annotations

import datetime
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.kubeforge.cluster.plugins.module_utils import sqlite_backup
from ansible_collections.kubeforge.cluster.plugins.module_utils.sqlite_backup import (
    SqliteBackupError, prune, scheduled_backup, scheduled_name)

MODULE_UTILS = Path(sqlite_backup.__file__).parent


def database(path: Path, rows: int = 3) -> Path:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE kine (id INTEGER PRIMARY KEY, name TEXT)")
    con.executemany("INSERT INTO kine (name) VALUES (?)", [("/registry/configmaps/m%d" % i,) for i in range(rows)])
    con.commit()
    con.close()
    return path


def at(minute: int) -> datetime.datetime:
    return datetime.datetime(2026, 12, 5, 0, minute, 0, tzinfo=datetime.timezone.utc)


def test_a_scheduled_copy_is_private_complete_and_named_by_its_time(tmp_path: Path) -> None:
    db = database(tmp_path / "state.db")
    target = tmp_path / "backups"
    result = scheduled_backup(str(db), str(target), 3, now=at(15))
    assert result["dest"] == str(target / "state-20261205T001500Z.db") and result["removed"] == []
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert stat.S_IMODE(os.stat(result["dest"]).st_mode) == 0o600
    rows = sqlite3.connect(result["dest"]).execute("SELECT count(*) FROM kine").fetchone()[0]
    assert rows == 3
    assert scheduled_name(datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))) \
        == "state-20260102T010405Z.db"


def test_the_oldest_copies_and_stale_temporary_files_go_and_nothing_else(tmp_path: Path) -> None:
    db = database(tmp_path / "state.db")
    target = tmp_path / "backups"
    for minute in range(4):
        scheduled_backup(str(db), str(target), 5, now=at(minute))
    (target / ".state-20261205T000900Z.db.0a1b2c3d.sqlite_backup.tmp").write_bytes(b"torn")
    (target / "notes.txt").write_text("mine")
    result = scheduled_backup(str(db), str(target), 2, now=at(10))
    assert sorted(os.listdir(target)) == ["notes.txt", "state-20261205T000300Z.db", "state-20261205T001000Z.db"]
    assert len(result["removed"]) == 4
    assert prune(str(target), 2) == []


def test_keeping_no_copy_and_a_missing_database_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SqliteBackupError, match="keep at least one copy"):
        scheduled_backup(str(tmp_path / "state.db"), str(tmp_path / "b"), 0)
    with pytest.raises(SqliteBackupError, match="does not exist"):
        scheduled_backup(str(tmp_path / "state.db"), str(tmp_path / "b"), 1)


def test_the_script_runs_on_its_own_as_the_node_runs_it(tmp_path: Path) -> None:
    # What the k3s_server role puts on the node: this file, backup_rotation.py and durable.py side by side, no Ansible.
    lib = tmp_path / "lib"
    lib.mkdir()
    for name in ("sqlite_backup.py", "backup_rotation.py", "durable.py"):
        shutil.copy(MODULE_UTILS / name, lib / name)
    db = database(tmp_path / "state.db", rows=5)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    argv = [sys.executable, str(lib / "sqlite_backup.py"), "--db", str(db), "--dir", str(tmp_path / "b"), "--keep", "1"]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=str(tmp_path), check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("backup %s/state-" % (tmp_path / "b")) and "0 old copies removed" in done.stdout
    failed = subprocess.run(argv[:3] + [str(tmp_path / "nope.db")] + argv[4:], capture_output=True, text=True,
                            env=env, cwd=str(tmp_path), check=False)
    assert failed.returncode == 1 and "backup of %s failed: src" % (tmp_path / "nope.db") in failed.stderr
