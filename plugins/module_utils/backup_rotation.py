# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scheduled backups a node keeps of its own datastore: names by time, and the rotation to the newest copies.

Shared by the SQLite copies of a K3s server (sqlite_backup.py) and the etcd snapshots of a kubeadm control plane.
Run on its own as the script of a kubeadm control plane's timer (``python3 backup_rotation.py --help``): it runs the
command after ``--`` with ``{path}`` replaced by ``<dir>/<prefix>-<UTC time>.db``, checks the file is there, then
keeps the newest copies.
"""
from __future__ import annotations

import argparse
import datetime
import os
import re
import subprocess
import sys
import typing as t


class RotationError(Exception):
    """A problem the timer's journal reports; the run exits 1."""


def scheduled_name(prefix: str, now: datetime.datetime) -> str:
    """``<prefix>-<UTC time>.db``, e.g. state-20261205T001500Z.db: newest last in name order."""
    return "%s-%s.db" % (prefix, now.astimezone(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ"))


def scheduled_pattern(prefix: str) -> t.Pattern[str]:
    return re.compile(r"^%s-[0-9]{8}T[0-9]{6}Z\.db$" % re.escape(prefix))


def prune(directory: str, keep: int, prefix: str, leftover: t.Callable[[str], bool] | None = None) -> list[str]:
    """Remove all but the ``keep`` newest scheduled copies named by ``prefix`` in ``directory``, and the files a
    killed run left (``leftover`` says which); nothing else. Returns the removed paths."""
    names = sorted(os.listdir(directory))
    pattern = scheduled_pattern(prefix)
    copies = [n for n in names if pattern.match(n)]
    doomed = copies[:-keep] if keep > 0 else copies
    doomed += [n for n in names if leftover is not None and leftover(n)]
    removed = []
    for name in doomed:
        path = os.path.join(directory, name)
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        removed.append(path)
    return removed


def run_scheduled(directory: str, keep: int, prefix: str, command: list[str],
                  now: datetime.datetime | None = None) -> dict[str, t.Any]:
    """One scheduled copy made by ``command`` (``{path}`` in it replaced by the copy's path) into ``directory``
    (created 0700), then the prune to ``keep`` copies and the ``<name>.part`` files a killed run left."""
    if keep < 1:
        raise RotationError("keep is %d: keep at least one copy" % keep)
    if not command:
        raise RotationError("no command to take the copy with")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    path = os.path.join(directory, scheduled_name(prefix, now or datetime.datetime.now(datetime.timezone.utc)))
    argv = [a.replace("{path}", path) for a in command]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not os.path.isfile(path):
        if os.path.exists(path):
            os.unlink(path)
        lines = [line for line in (done.stderr or "").splitlines() if line.strip()]
        raise RotationError("%s exited %d: %s" % (os.path.basename(argv[0]), done.returncode,
                                                  lines[-1] if lines else "no output"))
    os.chmod(path, 0o600)
    pattern = scheduled_pattern(prefix)
    removed = prune(directory, keep, prefix,
                    lambda n: n.endswith(".part") and bool(pattern.match(n[:-len(".part")])))
    return {"dest": path, "size": os.path.getsize(path), "removed": removed}


def main(argv: list[str] | None = None) -> int:
    """The timer's run: one copy, the prune, one line for the journal; exit status 1 with the reason."""
    parser = argparse.ArgumentParser(description="Run COMMAND to write DIR/PREFIX-<UTC time>.db ({path} in COMMAND) "
                                                 "and keep the KEEP newest copies.")
    parser.add_argument("--dir", required=True, help="where the copies go")
    parser.add_argument("--keep", type=int, required=True, help="how many copies to keep")
    parser.add_argument("--prefix", required=True, help="the copies' name before the time, such as etcd")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- and the command that writes {path}")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        result = run_scheduled(args.dir, args.keep, args.prefix, command)
    except (RotationError, OSError) as exc:
        sys.stderr.write("scheduled backup into %s failed: %s\n" % (args.dir, exc))
        return 1
    sys.stdout.write("backup %s: %d bytes; %d old copies removed\n"
                     % (result["dest"], result["size"], len(result["removed"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())  # pylint: disable=ansible-bad-function  # the timer's script, never a module
