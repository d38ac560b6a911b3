from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.kubeforge.cluster.plugins.module_utils.backup_rotation import (
    RotationError,
    prune,
    run_scheduled,
    scheduled_name,
)

MODULE_UTILS = Path(__file__).resolve().parents[4] / "plugins" / "module_utils"
WRITE = ["sh", "-c", 'printf "snapshot of %s" "$1" > "$0"', "{path}", "member-1"]


def at(minute: int) -> datetime.datetime:
    return datetime.datetime(2026, 12, 5, 0, minute, 0, tzinfo=datetime.timezone.utc)


def test_names_sort_by_time() -> None:
    assert scheduled_name("etcd", at(15)) == "etcd-20261205T001500Z.db"
    later = datetime.datetime(2026, 12, 5, 2, 15, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    assert scheduled_name("etcd", later) == "etcd-20261205T001500Z.db"


def test_a_run_writes_a_private_copy_and_keeps_the_newest(tmp_path: Path) -> None:
    target = tmp_path / "backups"
    for minute in range(4):
        run_scheduled(str(target), 5, "etcd", WRITE, now=at(minute))
    (target / "etcd-20261205T000900Z.db.part").write_bytes(b"torn")
    (target / "state-20261205T000000Z.db").write_bytes(b"another prefix's")
    (target / "notes.txt").write_text("mine")
    result = run_scheduled(str(target), 2, "etcd", WRITE, now=at(10))
    assert result["dest"] == str(target / "etcd-20261205T001000Z.db")
    assert (target / "etcd-20261205T001000Z.db").read_text() == "snapshot of member-1"
    assert sorted(os.listdir(target)) == ["etcd-20261205T000300Z.db", "etcd-20261205T001000Z.db", "notes.txt",
                                          "state-20261205T000000Z.db"]
    assert len(result["removed"]) == 4
    assert oct(os.stat(target).st_mode & 0o777) == "0o700"
    assert oct(os.stat(result["dest"]).st_mode & 0o777) == "0o600"
    assert prune(str(target), 2, "etcd") == []


def test_a_failed_command_keeps_the_old_copies_and_says_why(tmp_path: Path) -> None:
    target = tmp_path / "backups"
    run_scheduled(str(target), 1, "etcd", WRITE, now=at(0))
    failing = ["sh", "-c", 'echo "Error: context deadline exceeded" >&2; exit 5']
    with pytest.raises(RotationError, match="sh exited 5: Error: context deadline exceeded"):
        run_scheduled(str(target), 1, "etcd", failing, now=at(1))
    # a command that says it worked but wrote nothing fails too
    with pytest.raises(RotationError, match="sh exited 0"):
        run_scheduled(str(target), 1, "etcd", ["sh", "-c", "true"], now=at(2))
    assert os.listdir(target) == ["etcd-20261205T000000Z.db"]
    with pytest.raises(RotationError, match="keep at least one copy"):
        run_scheduled(str(target), 0, "etcd", WRITE)


def test_the_script_runs_on_its_own_as_the_node_runs_it(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copy(MODULE_UTILS / "backup_rotation.py", lib / "backup_rotation.py")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    argv = [sys.executable, str(lib / "backup_rotation.py"), "--dir", str(tmp_path / "b"), "--keep", "1", "--prefix",
            "etcd", "--"] + WRITE
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=str(tmp_path), check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("backup %s/etcd-" % (tmp_path / "b")) and "0 old copies removed" in done.stdout
    failed = subprocess.run(argv[:-len(WRITE)] + ["false"], capture_output=True, text=True, env=env, check=False)
    assert failed.returncode == 1
    assert failed.stderr.startswith("scheduled backup into %s failed: false exited 1" % (tmp_path / "b"))


def test_a_dump_on_standard_output_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "dumps"
    dump = ["sh", "-c", 'printf -- "-- dump of %s\\n" "$0"', "kubeforge"]
    first = run_scheduled(str(target), 2, "kubeforge", dump, now=at(0), suffix=".sql", stdout=True)
    assert first["dest"] == str(target / "kubeforge-20261205T000000Z.sql")
    assert (target / "kubeforge-20261205T000000Z.sql").read_text() == "-- dump of kubeforge\n"
    assert oct(os.stat(first["dest"]).st_mode & 0o777) == "0o600"
    # a dump that fails half-way leaves no copy and no part file
    torn = ["sh", "-c", 'printf "half"; echo "pg_dump: error: connection lost" >&2; exit 1']
    with pytest.raises(RotationError, match="sh exited 1: pg_dump: error: connection lost"):
        run_scheduled(str(target), 2, "kubeforge", torn, now=at(1), suffix=".sql", stdout=True)
    assert os.listdir(target) == ["kubeforge-20261205T000000Z.sql"]
    # a part file a killed run left goes with the next run; copies of another suffix are not counted
    (target / "kubeforge-20261205T000100Z.sql.part").write_text("killed")
    (target / "kubeforge-20261205T000000Z.db").write_text("another kind")
    for minute in (2, 3):
        run_scheduled(str(target), 2, "kubeforge", dump, now=at(minute), suffix=".sql", stdout=True)
    assert sorted(os.listdir(target)) == ["kubeforge-20261205T000000Z.db", "kubeforge-20261205T000200Z.sql",
                                          "kubeforge-20261205T000300Z.sql"]
    with pytest.raises(RotationError, match="no-such-dump could not run"):
        run_scheduled(str(target), 2, "kubeforge", ["no-such-dump"], now=at(4), suffix=".sql", stdout=True)


def test_the_script_writes_a_dump_from_standard_output(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copy(MODULE_UTILS / "backup_rotation.py", lib / "backup_rotation.py")
    argv = [sys.executable, str(lib / "backup_rotation.py"), "--dir", str(tmp_path / "d"), "--keep", "1", "--prefix",
            "db", "--suffix", ".sql", "--stdout", "--", "echo", "SELECT 1;"]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=str(tmp_path), check=False)
    assert done.returncode == 0, done.stderr
    (copy,) = os.listdir(tmp_path / "d")
    assert copy.startswith("db-") and copy.endswith("Z.sql")
    assert (tmp_path / "d" / copy).read_text() == "SELECT 1;\n"
