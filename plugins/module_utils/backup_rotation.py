# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scheduled backups a node keeps of its own datastore: names by time, and the rotation to the newest copies.

Shared by the SQLite copies of a K3s server (sqlite_backup.py), the etcd snapshots of a kubeadm control plane and
the dumps and snapshots of an external datastore's host. Run on its own as the script of their timers
(``python3 backup_rotation.py --help``): it runs the command after ``--`` with ``{path}`` replaced by
``<dir>/<prefix>-<UTC time><suffix>`` (``.db`` unless ``--suffix`` says otherwise), or with ``--stdout`` writes the
command's output there (through ``<path>.part``, renamed once whole), checks the file is there, then keeps the newest
copies.
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


def scheduled_name(prefix: str, now: datetime.datetime, suffix: str = ".db") -> str:
    """``<prefix>-<UTC time><suffix>``, e.g. state-20261205T001500Z.db: newest last in name order."""
    return "%s-%s%s" % (prefix, now.astimezone(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ"), suffix)


def scheduled_pattern(prefix: str, suffix: str = ".db") -> t.Pattern[str]:
    return re.compile(r"^%s-[0-9]{8}T[0-9]{6}Z%s$" % (re.escape(prefix), re.escape(suffix)))


def prune(directory: str, keep: int, prefix: str, leftover: t.Callable[[str], bool] | None = None,
          suffix: str = ".db") -> list[str]:
    """Remove all but the ``keep`` newest scheduled copies named by ``prefix`` and ``suffix`` in ``directory``, and
    the files a killed run left (``leftover`` says which); nothing else. Returns the removed paths."""
    names = sorted(os.listdir(directory))
    pattern = scheduled_pattern(prefix, suffix)
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


def _take(argv: list[str], path: str, stdout: bool) -> subprocess.CompletedProcess:
    """Run ``argv``; with ``stdout`` its output goes to ``<path>.part`` (0600), renamed to ``path`` when it exits 0."""
    if not stdout:
        return subprocess.run(argv, capture_output=True, text=True, check=False)
    part = path + ".part"
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        done = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, check=False)
        if done.returncode == 0:
            out.flush()
            os.fsync(out.fileno())
    if done.returncode == 0:
        os.rename(part, path)
    else:
        os.unlink(part)
    return subprocess.CompletedProcess(argv, done.returncode, "", (done.stderr or b"").decode("utf-8", "replace"))


def run_scheduled(directory: str, keep: int, prefix: str, command: list[str],
                  now: datetime.datetime | None = None, suffix: str = ".db", stdout: bool = False) -> dict[str, t.Any]:
    """One scheduled copy made by ``command`` (``{path}`` in it replaced by the copy's path, or with ``stdout`` its
    output written there) into ``directory`` (created 0700), then the prune to ``keep`` copies and the
    ``<name>.part`` files a killed run left."""
    if keep < 1:
        raise RotationError("keep is %d: keep at least one copy" % keep)
    if not command:
        raise RotationError("no command to take the copy with")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    path = os.path.join(directory, scheduled_name(prefix, now or datetime.datetime.now(datetime.timezone.utc), suffix))
    argv = [a.replace("{path}", path) for a in command]
    try:
        done = _take(argv, path, stdout)
    except OSError as exc:
        raise RotationError("%s could not run: %s" % (os.path.basename(argv[0]), exc.strerror or exc))
    if done.returncode != 0 or not os.path.isfile(path):
        if os.path.exists(path):
            os.unlink(path)
        lines = [line for line in (done.stderr or "").splitlines() if line.strip()]
        raise RotationError("%s exited %d: %s" % (os.path.basename(argv[0]), done.returncode,
                                                  lines[-1] if lines else "no output"))
    os.chmod(path, 0o600)
    pattern = scheduled_pattern(prefix, suffix)
    removed = prune(directory, keep, prefix,
                    lambda n: n.endswith(".part") and bool(pattern.match(n[:-len(".part")])), suffix)
    return {"dest": path, "size": os.path.getsize(path), "removed": removed}


def main(argv: list[str] | None = None) -> int:
    """The timer's run: one copy, the prune, one line for the journal; exit status 1 with the reason."""
    parser = argparse.ArgumentParser(description="Run COMMAND to write DIR/PREFIX-<UTC time>.db ({path} in COMMAND) "
                                                 "and keep the KEEP newest copies.")
    parser.add_argument("--dir", required=True, help="where the copies go")
    parser.add_argument("--keep", type=int, required=True, help="how many copies to keep")
    parser.add_argument("--prefix", required=True, help="the copies' name before the time, such as etcd")
    parser.add_argument("--suffix", default=".db", help="the copies' name after the time (.db)")
    parser.add_argument("--stdout", action="store_true", help="write the command's output to the copy")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- and the command that writes {path}")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        result = run_scheduled(args.dir, args.keep, args.prefix, command, suffix=args.suffix, stdout=args.stdout)
    except (RotationError, OSError) as exc:
        sys.stderr.write("scheduled backup into %s failed: %s\n" % (args.dir, exc))
        return 1
    sys.stdout.write("backup %s: %d bytes; %d old copies removed\n"
                     % (result["dest"], result["size"], len(result["removed"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())  # pylint: disable=ansible-bad-function  # the timer's script, never a module
