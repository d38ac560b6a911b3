#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: kernel_cmdline
short_description: Add or remove parameters in a kernel command line file
version_added: 0.1.0
author: kubeforge maintainers (!UNKNOWN)
description:
  - Edits a one-line kernel command line file such as a Raspberry Pi's C(cmdline.txt) word by word.
  - Parameters in O(add) are appended when missing, parameters in O(remove) are dropped, and everything else keeps
    its place, so a second run changes nothing.
  - The module does not reboot; a changed result means the host needs one for the new line to take effect.
attributes:
  check_mode:
    support: full
    description: Reports what would change without writing.
  diff_mode:
    support: full
    description: Shows the old and new line.
  idempotent:
    support: full
    description: A second run with the same arguments changes nothing.
options:
  path:
    description: The command line file, for example V(/boot/firmware/cmdline.txt).
    type: path
    required: true
  add:
    description: Parameters that must be present, each a single word such as V(cgroup_enable=memory).
    type: list
    elements: str
    default: []
  remove:
    description: Parameters that must be absent.
    type: list
    elements: str
    default: []
  backup:
    description: Keep a timestamped copy of the file before changing it.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Enable the memory cgroup on a Raspberry Pi
  kubeforge.cluster.kernel_cmdline:
    path: /boot/firmware/cmdline.txt
    add:
      - cgroup_memory=1
      - cgroup_enable=memory
  register: cmdline
"""

RETURN = r"""
cmdline:
  description: The command line after the change (or as it would be in check mode).
  returned: success
  type: str
  sample: console=serial0,115200 root=PARTUUID=1234-02 rootwait cgroup_memory=1 cgroup_enable=memory
backup_file:
  description: The copy made before the change, when O(backup) is set and the file changed.
  returned: changed and backup requested
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubeforge.cluster.plugins.module_utils.kernel_cmdline import CmdlineError, update_cmdline


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            add=dict(type="list", elements="str", default=[]),
            remove=dict(type="list", elements="str", default=[]),
            backup=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    path = module.params["path"]
    if not os.path.isfile(path):
        module.fail_json(msg="%s does not exist or is not a file; point path at the command line file the "
                             "host boots from" % path)
    with open(path, encoding="utf-8") as handle:
        before = handle.read()
    try:
        after, changed = update_cmdline(before, module.params["add"], module.params["remove"])
    except CmdlineError as exc:
        module.fail_json(msg="%s: %s" % (path, exc))
    diff = dict(before=before, after=after, before_header=path, after_header=path)
    result = dict(changed=changed, cmdline=after.strip(), diff=diff)
    if changed and not module.check_mode:
        if module.params["backup"]:
            result["backup_file"] = module.backup_local(path)
        tmp = path + ".kubeforge.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(after)
        module.atomic_move(tmp, path)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
