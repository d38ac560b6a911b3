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

import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeforge.cluster.plugins.module_utils.sqlite_backup import (
    SqliteBackupError, backup_database, check_paths, validate_mode)

ARGUMENT_SPEC: dict[str, t.Any] = dict(
    src=dict(type="path", required=True),
    dest=dict(type="path", required=True),
    mode=dict(type="raw", default="0600"),
)


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
