# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""sqlite_backup on real temporary SQLite databases: the backup function, then main() end to end."""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import threading
from urllib.parse import quote

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.kubeforge.cluster.plugins.module_utils import sqlite_backup as sqlite_backup_utils
from ansible_collections.kubeforge.cluster.plugins.modules import sqlite_backup
from ansible_collections.kubeforge.cluster.plugins.modules.sqlite_backup import (
    SqliteBackupError,
    backup_database,
    validate_mode,
)

ROWS = 300


def make_wal_db(path, rows: int = ROWS) -> sqlite3.Connection:
    """A K3s-like database in WAL mode whose committed rows stay in the -wal file; the open writer connection."""
    writer = sqlite3.connect(str(path), isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # keep every commit in the -wal file, as between checkpoints
    writer.execute("CREATE TABLE kine (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, value BLOB)")
    writer.execute("CREATE INDEX kine_name_index ON kine (name)")
    for number in range(rows):
        writer.execute("INSERT INTO kine (name, value) VALUES (?, ?)", ("/registry/k%d" % number, b"v" * 200))
    return writer


def names(path) -> list[str]:
    copy = sqlite3.connect("file:%s?mode=ro" % quote(str(path)), uri=True)
    try:
        return [row[0] for row in copy.execute("SELECT name FROM kine ORDER BY id")]
    finally:
        copy.close()


def mode_of(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def umask_000():
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def live_db(tmp_path):
    """src (a WAL database with ROWS committed rows), an empty backup directory and the writer, in a transaction."""
    src = tmp_path / "db" / "state.db"
    src.parent.mkdir()
    writer = make_wal_db(src)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO kine (name, value) VALUES ('/registry/uncommitted', x'00')")
    backups = tmp_path / "backups"
    backups.mkdir()
    yield src, backups, writer
    writer.rollback()
    writer.close()


def test_copy_of_a_live_wal_database_holds_every_committed_row(live_db) -> None:
    src, backups, dummy = live_db
    result = backup_database(str(src), str(backups / "copy.db"), 0o600)
    assert names(backups / "copy.db") == ["/registry/k%d" % number for number in range(ROWS)]
    assert result["tables"] == 2  # kine and sqlite_sequence
    copy = sqlite3.connect(str(backups / "copy.db"))
    try:
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
        assert result["pages"] == copy.execute("PRAGMA page_count").fetchone()[0]
    finally:
        copy.close()
    assert os.listdir(backups) == ["copy.db"]


def test_a_plain_file_copy_would_miss_the_rows_in_the_wal_file(live_db) -> None:
    """Why the module uses the backup API: state.db alone does not hold the commits since the last checkpoint."""
    src, backups, dummy = live_db
    (backups / "naive.db").write_bytes(src.read_bytes())
    with pytest.raises(sqlite3.OperationalError):
        names(backups / "naive.db")  # even the table is still only in the -wal file


def test_source_is_left_as_it_was(live_db) -> None:
    src, backups, dummy = live_db
    before = {name: (src.parent / name).read_bytes() for name in os.listdir(src.parent)}
    backup_database(str(src), str(backups / "copy.db"), 0o600)
    assert {name: (src.parent / name).read_bytes() for name in os.listdir(src.parent)} == before


def test_the_writer_goes_on_and_a_new_copy_sees_its_commit(live_db) -> None:
    src, backups, writer = live_db
    backup_database(str(src), str(backups / "copy.db"), 0o600)
    writer.execute("INSERT INTO kine (name, value) VALUES ('/registry/later', x'00')")
    writer.execute("COMMIT")
    assert names(backups / "copy.db")[-1] == "/registry/k%d" % (ROWS - 1)
    backup_database(str(src), str(backups / "copy.db"), 0o600)
    assert names(backups / "copy.db")[-2:] == ["/registry/uncommitted", "/registry/later"]
    assert os.listdir(backups) == ["copy.db"]
    writer.execute("BEGIN")  # for the fixture's rollback


@pytest.mark.parametrize("text, expected", [("0600", 0o600), ("0640", 0o640), ("600", 0o600), ("0400", 0o400)])
def test_copy_gets_the_mode_even_with_umask_000(tmp_path, umask_000, text, expected) -> None:
    src = tmp_path / "state.db"
    make_wal_db(src, rows=3).close()
    dest = tmp_path / "copy.db"
    backup_database(str(src), str(dest), validate_mode(text))
    assert mode_of(dest) == expected


def test_temporary_file_is_created_with_the_mode_despite_umask_000(tmp_path, umask_000) -> None:
    tmp = sqlite_backup_utils._create_temp(str(tmp_path / "copy.db"), 0o640)
    assert mode_of(tmp) == 0o640 and os.path.basename(tmp).startswith(".copy.db.")
    assert sqlite_backup_utils._create_temp(str(tmp_path / "copy.db"), 0o400) != tmp
    assert sorted(mode_of(tmp_path / name) for name in os.listdir(tmp_path)) == [0o600, 0o640]


def test_size_and_sha256_describe_the_written_file(tmp_path) -> None:
    src = tmp_path / "state.db"
    make_wal_db(src).close()
    dest = tmp_path / "copy.db"
    result = backup_database(str(src), str(dest), 0o600)
    data = dest.read_bytes()
    assert result == dict(dest=str(dest), size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                          pages=len(data) // 4096, tables=2)


def test_paths_with_uri_characters_are_copied(tmp_path) -> None:
    """src is opened through a file: URI; '?', '#', '%' and spaces in its path must not change its meaning."""
    directory = tmp_path / "data dir?mode=rw#%20"
    directory.mkdir()
    make_wal_db(directory / "state.db", rows=4).close()
    backup_database(str(directory / "state.db"), str(directory / "copy.db"), 0o600)
    assert len(names(directory / "copy.db")) == 4 and os.listdir(tmp_path) == [directory.name]
    # The reader of a closed WAL database leaves the -wal and -shm files SQLite made for it, as documented.
    assert sorted(os.listdir(directory)) == ["copy.db", "state.db", "state.db-shm", "state.db-wal"]


def test_an_existing_dest_is_replaced(tmp_path) -> None:
    src = tmp_path / "state.db"
    make_wal_db(src, rows=5).close()
    dest = tmp_path / "copy.db"
    dest.write_bytes(b"old backup")
    dest.chmod(0o644)
    backup_database(str(src), str(dest), 0o600)
    assert len(names(dest)) == 5 and mode_of(dest) == 0o600


def test_a_waiting_writer_lock_is_waited_for(tmp_path) -> None:
    """A writer holding an exclusive lock (rollback journal) delays the copy; it fails only after the timeout."""
    src = tmp_path / "state.db"
    make_wal_db(src, rows=5).close()
    locker = sqlite3.connect(str(src), isolation_level=None, check_same_thread=False)
    locker.execute("PRAGMA journal_mode=DELETE")
    locker.execute("BEGIN EXCLUSIVE")
    locker.execute("INSERT INTO kine (name, value) VALUES ('/registry/locked', x'00')")
    dest = tmp_path / "copy.db"
    try:
        with pytest.raises(SqliteBackupError, match=r"cannot copy .*state\.db: database is locked \(a writer held"):
            backup_database(str(src), str(dest), 0o600, timeout=0.2)
        assert sorted(os.listdir(tmp_path)) == ["state.db", "state.db-journal"]
        timer = threading.Timer(0.5, locker.commit)
        timer.start()
        backup_database(str(src), str(dest), 0o600, timeout=30)
        timer.join()
    finally:
        locker.close()
    assert names(dest)[-1] == "/registry/locked"


def test_missing_src_is_named(tmp_path) -> None:
    with pytest.raises(SqliteBackupError, match=r"^src %s/nope\.db does not exist: .*cluster_datastore sqlite"
                       % tmp_path):
        backup_database(str(tmp_path / "nope.db"), str(tmp_path / "copy.db"), 0o600)
    assert os.listdir(tmp_path) == []


def test_src_that_is_a_directory_is_refused(tmp_path) -> None:
    with pytest.raises(SqliteBackupError, match=r"^src %s is a directory: point src at the database file" % tmp_path):
        backup_database(str(tmp_path), str(tmp_path / "copy.db"), 0o600)


def test_missing_dest_directory_is_refused(tmp_path) -> None:
    src = tmp_path / "state.db"
    make_wal_db(src, rows=1).close()
    with pytest.raises(SqliteBackupError, match=r"^the directory %s/backups of dest .* does not exist" % tmp_path):
        backup_database(str(src), str(tmp_path / "backups" / "copy.db"), 0o600)
    assert not (tmp_path / "backups").exists()


def test_dest_that_is_the_source_or_a_directory_is_refused(tmp_path) -> None:
    src = tmp_path / "state.db"
    make_wal_db(src, rows=1).close()
    with pytest.raises(SqliteBackupError, match=r"is the database src .* itself"):
        backup_database(str(src), str(tmp_path / "." / "state.db"), 0o600)
    with pytest.raises(SqliteBackupError, match=r"^dest %s is a directory" % tmp_path):
        backup_database(str(src), str(tmp_path), 0o600)


@pytest.mark.parametrize("value", ["0800", "06000", "60", "u=rw", "", " 0600", "0o600", 384, None])
def test_bad_modes_are_refused(value) -> None:
    with pytest.raises(SqliteBackupError, match=r"^mode "):
        validate_mode(value)


@pytest.mark.parametrize("content", [b"not a database at all\n" * 200, b"SQLite format 3\x00" + b"\xff" * 4080])
def test_a_file_that_is_not_a_database_fails_and_leaves_nothing(tmp_path, content) -> None:
    src = tmp_path / "state.db"
    src.write_bytes(content)
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "copy.db").write_bytes(b"the previous copy")
    with pytest.raises(SqliteBackupError, match=r"^cannot copy %s: .*: is it an SQLite database\?$" % src):
        backup_database(str(src), str(backups / "copy.db"), 0o600)
    assert os.listdir(backups) == ["copy.db"] and (backups / "copy.db").read_bytes() == b"the previous copy"
    assert src.read_bytes() == content


def test_a_copy_failing_its_integrity_check_is_not_kept(tmp_path) -> None:
    """An index whose entries disagree with its table: the backup copies it page by page, the check catches it."""
    src = tmp_path / "state.db"
    make_wal_db(src, rows=50).close()
    db = sqlite3.connect(str(src), isolation_level=None)
    db.execute("PRAGMA writable_schema=ON")
    db.execute("UPDATE sqlite_master SET sql = replace(sql, '(name)', '(value)') WHERE name = 'kine_name_index'")
    db.close()
    dest = tmp_path / "backups" / "copy.db"
    dest.parent.mkdir()
    with pytest.raises(SqliteBackupError, match=r"^the copy of .* failed its integrity check, nothing was written"):
        backup_database(str(src), str(dest), 0o600)
    assert os.listdir(dest.parent) == []


def run(capsys, check_mode: bool = False, **params) -> dict:
    params["_ansible_check_mode"] = check_mode
    with patch_module_args(params):
        with pytest.raises(SystemExit):
            sqlite_backup.main()
    return json.loads(capsys.readouterr().out)


def test_main_takes_a_new_copy_on_every_run(live_db, capsys) -> None:
    src, backups, dummy = live_db
    dest = backups / "copy.db"
    first = run(capsys, src=str(src), dest=str(dest))
    second = run(capsys, src=str(src), dest=str(dest))
    for result in (first, second):
        assert result["changed"] is True and result["dest"] == str(dest)
        assert (result["size"], result["tables"]) == (dest.stat().st_size, 2)
    assert first["sha256"] == second["sha256"] == hashlib.sha256(dest.read_bytes()).hexdigest()
    assert mode_of(dest) == 0o600


def test_main_in_check_mode_writes_nothing(live_db, capsys) -> None:
    src, backups, dummy = live_db
    result = run(capsys, check_mode=True, src=str(src), dest=str(backups / "copy.db"), mode="0640")
    assert result["changed"] is True and result["dest"] == str(backups / "copy.db")
    assert not {"size", "sha256", "pages", "tables"} & set(result)
    assert os.listdir(backups) == []


def test_main_in_check_mode_still_checks_its_arguments(tmp_path, capsys) -> None:
    result = run(capsys, check_mode=True, src=str(tmp_path / "state.db"), dest=str(tmp_path / "copy.db"))
    assert result["failed"] is True and result["msg"].startswith("src %s/state.db does not exist" % tmp_path)


def test_main_refuses_an_unquoted_mode(live_db, capsys) -> None:
    src, backups, dummy = live_db
    result = run(capsys, src=str(src), dest=str(backups / "copy.db"), mode=416)
    assert result["failed"] is True and result["changed"] is False
    assert "mode must be a quoted octal string" in result["msg"] and os.listdir(backups) == []
