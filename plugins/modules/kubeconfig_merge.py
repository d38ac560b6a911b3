#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: kubeconfig_merge
short_description: Merge a K3s or kubeadm admin kubeconfig into a local kubeconfig, or take it out again
description:
  - Takes the admin kubeconfig written by a K3s or kubeadm server, whose cluster, user and context are
    usually all named C(default) and whose server is C(https://127.0.0.1:6443), renames the cluster, user
    and context to O(name), points the cluster at O(server), and merges the three entries into O(dest).
  - Entries of O(dest) with other names are never modified; entries named O(name) are replaced.
  - C(current-context) is kept unless O(dest) has none or O(set_current_context=true).
  - O(dest) is written atomically and always ends up with O(mode), also when only its mode was looser.
  - With O(state=absent), the cluster, user and context named O(name) are removed from O(dest) instead (a
    missing O(dest) needs no change), and C(current-context) is dropped when it named that context. Other
    entries are never modified, also another context that still names the removed cluster or user; the module
    warns about such contexts. O(dest) keeps its mode.
  - "Meant to run on the controller, for example with C(delegate_to: localhost)."
author:
  - kubeforge maintainers (!UNKNOWN)
version_added: 0.1.0
requirements:
  - PyYAML (always present where ansible-core runs)
options:
  content:
    description:
      - The source kubeconfig YAML, as fetched from the server (for example the decoded C(content) of
        M(ansible.builtin.slurp) of C(/etc/rancher/k3s/k3s.yaml) or C(/etc/kubernetes/admin.conf)).
      - It must hold exactly one cluster, one user and one context.
      - Required with O(state=present).
    type: str
  name:
    description:
      - Name given to the cluster, the user and the context in O(dest).
    type: str
    required: true
  server:
    description:
      - API server URL written into the cluster entry; must be an https URL.
      - Required with O(state=present).
    type: str
  dest:
    description:
      - "Kubeconfig file to create or merge into. It must be a kubeconfig (C(kind: Config)) if it exists."
      - Missing parent directories are created with mode C(0700).
      - If O(dest) is a symbolic link, the file it points to is updated.
    type: path
    required: true
  set_current_context:
    description:
      - Make O(name) the C(current-context) even if O(dest) already has another one.
    type: bool
    default: false
  mode:
    description:
      - Octal permissions of O(dest), as a quoted string such as V('0600') or an octal integer.
      - Symbolic modes are not supported.
      - Not used with O(state=absent), which keeps the mode O(dest) has.
    type: raw
    default: '0600'
  state:
    description:
      - V(present) merges the entries of O(content) as O(name); V(absent) removes the cluster, user and context
        named O(name).
    type: str
    choices:
      - present
      - absent
    default: present
    version_added: 0.2.0
notes:
  - The file is rewritten from parsed data, so comments and formatting of an existing O(dest) are not kept
    when its content changes.
  - The diff shows both versions with credential fields (C(client-key-data), C(client-certificate-data),
    C(token), C(password), C(certificate-authority-data) and similar) replaced by C(<redacted>).
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
    details: Credential values are redacted in the diff.
  idempotent:
    description: When run twice in a row outside check mode with the same arguments, the second run reports no change.
    support: full
"""

EXAMPLES = r"""
- name: Read the admin kubeconfig of the first K3s server
  ansible.builtin.slurp:
    src: /etc/rancher/k3s/k3s.yaml
  register: k3s_admin_kubeconfig
  no_log: true

- name: Merge it into the operator's kubeconfig as context "lab"
  kubeforge.cluster.kubeconfig_merge:
    content: "{{ k3s_admin_kubeconfig.content | b64decode }}"
    name: lab
    server: "https://{{ ansible_host }}:6443"
    dest: "{{ lookup('ansible.builtin.env', 'HOME') }}/.kube/config"
    set_current_context: true
  delegate_to: localhost
  become: false

- name: Write a separate kubeconfig readable by a group
  kubeforge.cluster.kubeconfig_merge:
    content: "{{ k3s_admin_kubeconfig.content | b64decode }}"
    name: lab
    server: https://10.0.0.10:6443
    dest: /srv/kubeconfigs/lab.yaml
    mode: '0640'
  delegate_to: localhost

- name: Take the cluster "lab" out of the operator's kubeconfig after a reset
  kubeforge.cluster.kubeconfig_merge:
    name: lab
    dest: "{{ lookup('ansible.builtin.env', 'HOME') }}/.kube/config"
    state: absent
  delegate_to: localhost
  become: false
"""

RETURN = r"""
dest:
  description: The kubeconfig file that was (or in check mode would be) written.
  returned: always
  type: str
  sample: /home/admin/.kube/config
context:
  description: Name of the context, cluster and user that were merged (or removed, with O(state=absent)).
  returned: always
  type: str
  sample: lab
removed:
  description: The entries that were (or in check mode would be) removed, as C(<section>/<name>).
  returned: when O(state=absent)
  type: list
  elements: str
  sample:
    - clusters/lab
    - users/lab
    - contexts/lab
  version_added: 0.2.0
dangling:
  description: Other contexts that the removal leaves naming a cluster or user that is gone; they are not touched.
  returned: when O(state=absent)
  type: list
  elements: str
  sample:
    - lab-admin
  version_added: 0.2.0
"""

import os
import stat
import tempfile
import typing as t

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.kubeforge.cluster.plugins.module_utils.kubeconfig import (
    HAS_YAML,
    YAML_IMPORT_ERROR,
    KubeconfigError,
    dump_kubeconfig,
    parse_mode,
    plan_merge,
    plan_removal,
    redact,
)

ARGUMENT_SPEC: dict[str, t.Any] = dict(
    content=dict(type='str', no_log=True),
    name=dict(type='str', required=True),
    server=dict(type='str'),
    dest=dict(type='path', required=True),
    set_current_context=dict(type='bool', default=False),
    mode=dict(type='raw', default='0600'),
    state=dict(type='str', default='present', choices=['present', 'absent']),
)
REQUIRED_IF = [('state', 'present', ('content', 'server'))]


def _read_dest(module: AnsibleModule, path: str) -> tuple[str | None, int | None]:
    """Return the text and permission bits of ``path``, or ``(None, None)`` when it does not exist."""
    if not os.path.lexists(path):
        return None, None
    if os.path.isdir(path):
        module.fail_json(msg='dest %s is a directory; point dest at a kubeconfig file inside it.' % path)
    if not os.path.exists(path):
        module.fail_json(msg='dest %s is a dangling symbolic link; fix or remove the link.' % path)
    try:
        with open(path, 'r', encoding='utf-8') as handle:
            text = handle.read()
        current_mode = stat.S_IMODE(os.stat(path).st_mode)
    except (OSError, UnicodeDecodeError) as exc:
        module.fail_json(msg='Cannot read dest %s: %s' % (path, to_native(exc)))
    return text, current_mode


def _ensure_parent(module: AnsibleModule, path: str) -> None:
    parent = os.path.dirname(path) or '.'
    if os.path.isdir(parent):
        return
    try:
        os.makedirs(parent, mode=0o700)
        os.chmod(parent, 0o700)
    except OSError as exc:
        module.fail_json(msg='Cannot create the directory %s for dest: %s' % (parent, to_native(exc)))


def _write(module: AnsibleModule, path: str, text: str, mode: int) -> None:
    """Write ``text`` to ``path`` atomically so that it never exists with looser permissions than ``mode``."""
    _ensure_parent(module, path)
    parent = os.path.dirname(path) or '.'
    tmp_path = None
    try:
        fd, tmp_path = tempfile.mkstemp(dir=parent, prefix='.%s.' % os.path.basename(path), suffix='.tmp')
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if os.path.exists(path):
            # atomic_move copies the permissions of the file it replaces; tighten them first.
            os.chmod(path, mode)
        # atomic_move gives new files 0666 & ~umask; make that 0600 while it runs.
        old_umask = os.umask(0o077)
        try:
            module.atomic_move(tmp_path, path)
        finally:
            os.umask(old_umask)
        tmp_path = None
        os.chmod(path, mode)
    except Exception as exc:  # OSError, or the plain Exception that atomic_move raises when it fails
        module.fail_json(msg='Cannot write dest %s: %s' % (path, to_native(exc)))
    finally:
        if tmp_path is not None and os.path.exists(tmp_path):
            os.unlink(tmp_path)


def _mode_text(mode: int | None) -> str:
    return 'absent' if mode is None else '%04o' % mode


def remove(module: AnsibleModule) -> dict[str, t.Any]:
    """state=absent: take the entries named ``name`` out of ``dest``, keeping its mode."""
    params = module.params
    dest = params['dest']
    real_dest = os.path.realpath(dest)
    dest_text, current_mode = _read_dest(module, real_dest)
    try:
        plan = plan_removal(dest_text, params['name'], dest_label='dest %s' % dest)
    except KubeconfigError as exc:
        module.fail_json(msg=str(exc), dest=dest)

    result: dict[str, t.Any] = dict(changed=plan['changed'], dest=dest, context=params['name'],
                                    removed=plan['removed'], dangling=plan['dangling'])
    if module._diff and plan['changed']:
        result['diff'] = dict(
            before_header='%s (mode %s)' % (dest, _mode_text(current_mode)),
            after_header='%s (mode %s)' % (dest, _mode_text(current_mode)),
            before=dump_kubeconfig(redact(plan['before'])),
            after=dump_kubeconfig(redact(plan['after'])),
        )
    for context in plan['dangling']:
        module.warn('Context %s in %s still names the cluster or user %s, which is gone; it was left as it is.'
                    % (context, dest, params['name']))
    if plan['changed'] and not module.check_mode and current_mode is not None:
        _write(module, real_dest, dump_kubeconfig(plan['after']), current_mode)
    return result


def run(module: AnsibleModule) -> dict[str, t.Any]:
    """Do the work for ``main``; returns the result for ``exit_json``."""
    params = module.params
    if params['state'] == 'absent':
        return remove(module)
    dest = params['dest']
    real_dest = os.path.realpath(dest)
    try:
        mode = parse_mode(params['mode'])
    except KubeconfigError as exc:
        module.fail_json(msg=str(exc))

    dest_text, current_mode = _read_dest(module, real_dest)
    try:
        plan = plan_merge(
            params['content'],
            dest_text,
            params['name'],
            params['server'],
            params['set_current_context'],
            dest_label='dest %s' % dest,
        )
    except KubeconfigError as exc:
        module.fail_json(msg=str(exc), dest=dest)

    mode_changed = current_mode is not None and current_mode != mode
    changed = plan['changed'] or mode_changed or current_mode is None
    result: dict[str, t.Any] = dict(changed=changed, dest=dest, context=params['name'])

    if module._diff:
        result['diff'] = dict(
            before_header='%s (mode %s)' % (dest, _mode_text(current_mode)),
            after_header='%s (mode %s)' % (dest, _mode_text(mode)),
            before=dump_kubeconfig(redact(plan['before'])) if plan['before'] is not None else '',
            after=dump_kubeconfig(redact(plan['after'])),
        )

    if not changed or module.check_mode:
        return result

    if plan['changed'] or current_mode is None:
        _write(module, real_dest, dump_kubeconfig(plan['after']), mode)
    else:
        try:
            os.chmod(real_dest, mode)
        except OSError as exc:
            module.fail_json(msg='Cannot set mode %s on dest %s: %s' % (_mode_text(mode), dest, to_native(exc)))
    return result


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, required_if=REQUIRED_IF, supports_check_mode=True)
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib('PyYAML'), exception=YAML_IMPORT_ERROR)
    module.exit_json(**run(module))


if __name__ == '__main__':
    main()
