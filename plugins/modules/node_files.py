#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: node_files
short_description: Bring a node's small files, directories and links to their desired state in one call
version_added: 0.2.0
author: kubeforge maintainers (!UNKNOWN)
description:
  - Replaces a series of M(ansible.builtin.file), M(ansible.builtin.copy) and M(ansible.builtin.template) tasks
    for the configuration of one node with a single module call, so the node is reached once instead of once
    per path.
  - Every path is inspected first. When any item cannot be brought to its state (see the options), the module
    fails naming every such item, and changes nothing.
  - Otherwise the changes are made in this order, each item seeing the changes made before it. O(directories)
    are created or fixed parents first, then O(files) are written or fixed, then O(links) are made, then the
    O(absent) paths are removed.
  - The last component of an item's path is never followed. Directories above it may be symbolic links to
    directories.
  - The module does not restart anything. RV(changed_paths) tells the caller which paths changed, so it can
    decide which services to restart.
attributes:
  check_mode:
    support: full
    description: Inspects every path and reports the same changes and diff as a real run, without making them.
  diff_mode:
    support: full
    description: Returns one diff entry per changed path.
    details:
      - A file whose content changes shows its old and new content, with its mode, owner and group in the
        headers.
      - A created directory, a mode, owner or group fixed in place, a link made or replaced, and a removed path
        show a short text of the old and new state.
      - The content of a file with O(files[].secret=true) is never shown; its entry only says that the file was
        created or rewritten.
  idempotent:
    support: full
    description: A second run with the same arguments changes nothing.
options:
  directories:
    description:
      - Directories that must exist with the given mode, owner and group.
      - A missing directory is created together with its missing parents, and the parents the module creates get
        the same mode, owner and group as the directory. Parents that already exist are not changed.
      - An existing directory whose mode, owner or group differ is fixed in place; its content is not touched.
      - A path that exists but is not a directory (including a symbolic link to one) is an error.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the directory.
        type: str
        required: true
      mode:
        description:
          - Octal permissions as a quoted string of 3 or 4 digits, such as V('0700') or V('2755').
          - Numbers and symbolic modes such as V(u=rwx) are refused, because YAML reads an unquoted V(0700) as
            the number 448.
        type: raw
        required: true
      owner:
        description: User name (or numeric id) that owns the directory.
        type: str
        default: root
      group:
        description: Group name (or numeric id) of the directory.
        type: str
        default: root
  files:
    description:
      - Regular files that must hold exactly O(files[].content), with the given mode, owner and group.
      - A file is rewritten only when its bytes differ from O(files[].content) (the sha256 digest of the existing
        file is compared with that of the content). It is rewritten atomically. The content is written to a
        temporary file in the same directory, which gets its owner, group and mode, is flushed to disk and is
        then renamed over O(files[].dest). A reader sees the old file or the new one, never a part of it.
      - When only the mode, owner or group differ, they are fixed in place.
      - The directory of O(files[].dest) must exist or be created by O(directories).
      - A O(files[].dest) that is a directory, a symbolic link or a special file is an error. Links are not
        followed.
      - The SELinux context is not managed. A rewritten file gets the context that the policy gives to new files in
        its directory.
    type: list
    elements: dict
    default: []
    suboptions:
      dest:
        description: Absolute path of the file.
        type: str
        required: true
      content:
        description: The whole content of the file, written as UTF-8.
        type: str
        required: true
      mode:
        description: Octal permissions as a quoted string, such as V('0600'); see O(directories[].mode).
        type: raw
        required: true
      owner:
        description: User name (or numeric id) that owns the file.
        type: str
        default: root
      group:
        description: Group name (or numeric id) of the file.
        type: str
        default: root
      secret:
        description:
          - The content is a secret, for example a token or a private key. It is never shown in the diff and never
            returned, and it is masked in the module's invocation.
          - The content is still part of the task's arguments. Set C(no_log) on a task that has any secret
            file, so that Ansible does not display or log them and the node does not log the module's
            arguments to its journal. C(no_log) also hides the diff of the task's other files, so put
            files whose diff you want to see in a separate task.
        type: bool
        default: false
  links:
    description:
      - Symbolic links that must point to O(links[].src).
      - A missing link is created. A link to another target, or a regular file, is replaced when
        O(links[].force=true) and is an error otherwise. A link is replaced by creating the new link under a
        temporary name and renaming it over the old one.
      - A directory or a special file at O(links[].path) is always an error.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the link. Its directory must exist or be created by O(directories).
        type: str
        required: true
      src:
        description:
          - The target the link points to, stored as given. A relative target is resolved from the link's
            directory, as with C(ln -s).
          - The target does not need to exist.
        type: str
        required: true
      force:
        description: Replace a link to another target or a regular file at O(links[].path).
        type: bool
        default: true
  absent:
    description:
      - Absolute paths that must not exist. A regular file or a symbolic link there is removed, and a missing
        path is fine.
      - A directory or a special file there is an error.
    type: list
    elements: str
    default: []
notes:
  - Relative paths, a path that appears more than once across O(directories), O(files), O(links) and O(absent),
    modes that are not octal strings, and owners or groups unknown on the node are refused before anything is
    inspected or changed. The message names the option, the item's index (counted from 0) and its path.
seealso:
  - module: ansible.builtin.file
  - module: ansible.builtin.copy
"""

EXAMPLES = r"""
- name: Write the K3s server's configuration in one round trip
  kubeforge.cluster.node_files:
    directories:
      - path: /etc/rancher/k3s/config.yaml.d
        mode: '0700'
    files:
      - dest: /etc/rancher/k3s/config.yaml
        content: "{{ lookup('ansible.builtin.template', 'etc/rancher/k3s/config.yaml.j2') }}"
        mode: '0600'
        secret: true
      - dest: /etc/systemd/system/k3s.service
        content: "{{ lookup('ansible.builtin.template', 'etc/systemd/system/k3s.service.j2') }}"
        mode: '0644'
    links:
      - path: /usr/local/bin/kubectl
        src: /usr/local/bin/k3s
      - path: /usr/local/bin/crictl
        src: /usr/local/bin/k3s
        force: false
    absent:
      - /etc/rancher/k3s/config.yaml.d/old.yaml
  no_log: true  # config.yaml is secret
  register: k3s_files

- name: Restart K3s when its configuration or unit changed
  ansible.builtin.systemd_service:
    name: k3s
    state: restarted
    daemon_reload: "{{ '/etc/systemd/system/k3s.service' in k3s_files.changed_paths }}"
  when: k3s_files.changed_paths | reject('match', '/usr/local/bin/') | list | length > 0
"""

RETURN = r"""
changed_paths:
  description:
    - Every path that was changed (or would be, in check mode), sorted. This includes parent directories
      that were created.
  returned: always
  type: list
  elements: str
  sample:
    - /etc/rancher/k3s
    - /etc/rancher/k3s/config.yaml
    - /usr/local/bin/kubectl
diff:
  description:
    - One entry per change, with the keys C(before_header), C(after_header), C(before) and C(after). See the
      diff_mode attribute for what the entries show.
  returned: in diff mode
  type: list
  elements: dict
"""

import grp
import hashlib
import os
import pwd
import secrets
import stat
import tempfile
import typing as t

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.kubeforge.cluster.plugins.module_utils.durable import fsync_dir
from ansible_collections.kubeforge.cluster.plugins.module_utils.node_files import (
    CREATE_DIR,
    DIR,
    FILE,
    LINK,
    MAKE_LINK,
    MISSING,
    OTHER,
    REMOVE,
    SET_ATTRS,
    WRITE_FILE,
    Action,
    Desired,
    NodeFilesError,
    Observed,
    parse_items,
    plan,
)

_ATTRS = dict(
    mode=dict(type="raw", required=True),
    owner=dict(type="str", default="root"),
    group=dict(type="str", default="root"),
)
ARGUMENT_SPEC: dict[str, t.Any] = dict(
    directories=dict(type="list", elements="dict", default=[], options=dict(
        path=dict(type="str", required=True), **_ATTRS)),
    files=dict(type="list", elements="dict", default=[], options=dict(
        dest=dict(type="str", required=True), content=dict(type="str", required=True),
        secret=dict(type="bool", default=False), **_ATTRS)),
    links=dict(type="list", elements="dict", default=[], options=dict(
        path=dict(type="str", required=True), src=dict(type="str", required=True),
        force=dict(type="bool", default=True))),
    absent=dict(type="list", elements="str", default=[]),
)
_TEMP_SUFFIX = ".node_files.tmp"


def resolve_ids(desired: Desired) -> tuple[dict[str, int], dict[str, int], list[str]]:
    """Map owner and group names (or numeric ids) to ids; the third value names the unknown ones."""
    uids: dict[str, int] = {}
    gids: dict[str, int] = {}
    problems = []
    for names, ids, lookup, what in ((desired.owner_names(), uids, pwd.getpwnam, "user"),
                                     (desired.group_names(), gids, grp.getgrnam, "group")):
        for name, labels in names.items():
            try:
                ids[name] = int(name) if name.isdigit() else lookup(name)[2]
            except KeyError:
                problems.append("%s %r of %s does not exist on this host" % (what, name, ", ".join(labels)))
    return uids, gids, problems


def observe_path(path: str, read_content: bool, keep_content: bool) -> Observed:
    """What is at ``path`` without following a last link; reads a regular file when ``read_content``."""
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return Observed(MISSING)
    mode, uid, gid = stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid
    if stat.S_ISLNK(info.st_mode):
        return Observed(LINK, mode, uid, gid, target=os.readlink(path), leads_to_dir=os.path.isdir(path))
    if stat.S_ISDIR(info.st_mode):
        return Observed(DIR, mode, uid, gid)
    if not stat.S_ISREG(info.st_mode):
        return Observed(OTHER, mode, uid, gid)
    if not read_content:
        return Observed(FILE, mode, uid, gid)
    digest = hashlib.sha256()
    chunks = []
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as handle:
        for chunk in iter(lambda: handle.read(65536), b""):
            digest.update(chunk)
            if keep_content:
                chunks.append(chunk)
    return Observed(FILE, mode, uid, gid, digest.hexdigest(), b"".join(chunks) if keep_content else None)


def observe(module: AnsibleModule, desired: Desired, want_diff: bool) -> dict[str, Observed]:
    files = {item.path: item for item in desired.files}
    observed = {}
    for path in desired.paths_to_observe():
        item = files.get(path)
        try:
            observed[path] = observe_path(path, item is not None, want_diff and item is not None and not item.secret)
        except OSError as exc:
            module.fail_json(msg="Cannot inspect %s: %s" % (path, to_native(exc)), changed=False, changed_paths=[])
    return observed


def write_file(action: Action, content: bytes) -> None:
    """Write through a temporary file in the same directory that gets its owner and mode before the rename."""
    directory, name = os.path.split(action.path)
    fd, tmp = tempfile.mkstemp(prefix=".%s." % name, suffix=_TEMP_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fchown(handle.fileno(), action.uid, action.gid)
            os.fchmod(handle.fileno(), action.mode)  # after fchown, which clears set-id bits
            os.fsync(handle.fileno())
        os.rename(tmp, action.path)
        tmp = ""
        fsync_dir(directory)
    finally:
        if tmp:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def make_link(action: Action) -> None:
    """Create the link under a temporary name and rename it over whatever is at the path."""
    directory, name = os.path.split(action.path)
    for dummy in range(10):
        tmp = os.path.join(directory, ".%s.%s%s" % (name, secrets.token_hex(4), _TEMP_SUFFIX))
        try:
            os.symlink(action.target, tmp)
            break
        except FileExistsError:
            continue
    else:
        raise OSError("no free temporary name for the link in %s" % directory)
    try:
        os.rename(tmp, action.path)
    except OSError:
        os.unlink(tmp)
        raise
    fsync_dir(directory)


def apply_action(action: Action) -> None:
    if action.kind == CREATE_DIR:
        os.mkdir(action.path, 0o700)  # no wider than the final mode while its owner is being set
        os.chown(action.path, action.uid, action.gid)
        os.chmod(action.path, action.mode)
    elif action.kind == SET_ATTRS:
        if action.uid is not None or action.gid is not None:
            os.chown(action.path, -1 if action.uid is None else action.uid, -1 if action.gid is None else action.gid,
                     follow_symlinks=False)
        if action.mode is not None:
            os.chmod(action.path, action.mode)
    elif action.kind == WRITE_FILE:
        write_file(action, action.content or b"")
    elif action.kind == MAKE_LINK:
        make_link(action)
    elif action.kind == REMOVE:
        os.unlink(action.path)
    else:  # pragma: no cover - plan() makes only the kinds above
        raise ValueError("unknown action %s" % action.kind)


VERBS = {CREATE_DIR: "create the directory", SET_ATTRS: "set the mode, owner or group of", WRITE_FILE: "write",
         MAKE_LINK: "make the link", REMOVE: "remove"}


def run(module: AnsibleModule) -> dict[str, t.Any]:
    params = module.params
    for item in params["files"]:
        # Masks the secret in the invocation returned with the result, also when the module fails.
        if item.get("secret") and isinstance(item.get("content"), str) and item["content"].strip():
            module.no_log_values.add(item["content"])
    try:
        desired = parse_items(params["directories"], params["files"], params["links"], params["absent"])
    except NodeFilesError as exc:
        module.fail_json(msg=str(exc), changed=False, changed_paths=[])
    uids, gids, problems = resolve_ids(desired)
    if problems:
        module.fail_json(msg="; ".join(problems), changed=False, changed_paths=[])
    want_diff = bool(module._diff)
    observed = observe(module, desired, want_diff)
    try:
        todo = plan(desired, observed, uids, gids, want_diff=want_diff)
    except NodeFilesError as exc:
        module.fail_json(msg=str(exc), changed=False, changed_paths=[])
    if not module.check_mode:
        done: list[str] = []
        for action in todo.actions:
            try:
                apply_action(action)
            except OSError as exc:
                module.fail_json(msg="Cannot %s %s: %s" % (VERBS[action.kind], action.path, to_native(exc)),
                                 changed=bool(done), changed_paths=sorted(set(done)))
            done.append(action.path)
    result: dict[str, t.Any] = dict(changed=todo.changed, changed_paths=list(todo.changed_paths))
    if want_diff:
        result["diff"] = [dict(entry) for entry in todo.diff]
    return result


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.exit_json(**run(module))


if __name__ == "__main__":
    main()
