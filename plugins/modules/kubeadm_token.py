#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: kubeadm_token
short_description: Reuse or create a kubeadm bootstrap token and return what a node needs to join
version_added: 0.1.0
author: kubeforge maintainers (!UNKNOWN)
description:
  - Runs on a control plane. Lists the cluster's bootstrap tokens with C(kubeadm token list) and reuses the
    longest-lived one that carries O(description), has the C(signing) and C(authentication) usages and stays valid
    for at least O(min_remaining); only when there is none does it create one with C(kubeadm token create).
    A second run within the token's life changes nothing.
  - Returns the token, the discovery CA public key pin (C(sha256:) over the CA certificate's DER
    SubjectPublicKeyInfo, computed from O(ca_cert)) and the equivalent C(kubeadm join) command.
  - The token is a secret. Set C(no_log) on the task that calls this module and on the tasks that use its result.
attributes:
  check_mode:
    support: full
    description: Lists tokens and reports whether one would be created, without creating it.
  diff_mode:
    support: none
    description: Tokens are secrets; nothing is shown as a diff.
  idempotent:
    support: full
    description: A token is created only when no reusable one exists.
options:
  api_server_endpoint:
    description: HOST:PORT joining nodes reach the API at, usually the cluster's control plane endpoint.
    type: str
    required: true
  description:
    description: Description that marks the tokens this module manages.
    type: str
    default: kubeforge join token
  ttl:
    description: Life of a new token, a duration such as V(2h) or V(90m). Must be longer than O(min_remaining).
    type: str
    default: 2h
  min_remaining:
    description: How long a token must stay valid to be reused.
    type: str
    default: 1h
  kubeadm:
    description: The kubeadm program.
    type: path
    default: kubeadm
  kubeconfig:
    description: Admin kubeconfig kubeadm talks to the cluster with.
    type: path
    default: /etc/kubernetes/admin.conf
  ca_cert:
    description: The cluster CA certificate.
    type: path
    default: /etc/kubernetes/pki/ca.crt
"""

EXAMPLES = r"""
- name: Get join data from the first control plane
  kubeforge.cluster.kubeadm_token:
    api_server_endpoint: api.example.net:6443
  register: join
  no_log: true
"""

RETURN = r"""
token:
  description: The bootstrap token (a secret). Absent in check mode when one would be created.
  returned: success
  type: str
ca_cert_hash:
  description: The discovery CA public key pin.
  returned: success
  type: str
  sample: sha256:2a5f6c0b0a4b5f8d1c3e7b9a0d2f4e6c8b0a2d4f6e8c0b2a4d6f8e0c2b4a6d8f
api_server_endpoint:
  description: O(api_server_endpoint).
  returned: success
  type: str
join_command:
  description: The C(kubeadm join) command for a worker (a secret, it holds the token).
  returned: success, unless a token would be created in check mode
  type: str
created:
  description: Whether a token was (or in check mode would be) created.
  returned: success
  type: bool
"""

import datetime as dt

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubeforge.cluster.plugins.module_utils.kubeadm_discovery import (
    KubeadmDiscoveryError,
    kubeadm_ca_cert_hash,
)
from ansible_collections.kubeforge.cluster.plugins.module_utils.kubeadm_token import (
    KubeadmTokenError,
    duration_seconds,
    is_bootstrap_token,
    parse_token_list,
    reusable_token,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            api_server_endpoint=dict(type="str", required=True),
            description=dict(type="str", default="kubeforge join token"),
            ttl=dict(type="str", default="2h"),
            min_remaining=dict(type="str", default="1h"),
            kubeadm=dict(type="path", default="kubeadm"),
            kubeconfig=dict(type="path", default="/etc/kubernetes/admin.conf"),
            ca_cert=dict(type="path", default="/etc/kubernetes/pki/ca.crt"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        ttl = duration_seconds(p["ttl"])
        min_remaining = duration_seconds(p["min_remaining"])
    except KubeadmTokenError as exc:
        module.fail_json(msg="ttl and min_remaining: %s" % exc)
    if ttl <= min_remaining:
        module.fail_json(msg="ttl (%s) must be longer than min_remaining (%s), or a new token could never be reused"
                         % (p["ttl"], p["min_remaining"]))
    try:
        with open(p["ca_cert"], "r", encoding="ascii") as handle:
            ca_hash = kubeadm_ca_cert_hash(handle.read())
    except OSError as exc:
        module.fail_json(msg="cannot read the cluster CA certificate %s (%s); run this module on a control plane "
                             "that kubeadm init or join has set up" % (p["ca_cert"], exc.strerror or exc))
    except (KubeadmDiscoveryError, UnicodeDecodeError) as exc:
        module.fail_json(msg="%s is not a usable CA certificate: %s" % (p["ca_cert"], exc))

    rc, out, err = module.run_command([p["kubeadm"], "token", "list", "--kubeconfig", p["kubeconfig"]])
    if rc != 0:
        module.fail_json(msg="kubeadm token list failed (exit %d): %s" % (rc, (err or out).strip()), rc=rc)
    try:
        rows = parse_token_list(out)
    except KubeadmTokenError as exc:
        module.fail_json(msg=str(exc))
    token = reusable_token(rows, p["description"], min_remaining, dt.datetime.now(dt.timezone.utc))
    created = token is None
    if created and not module.check_mode:
        rc, out, err = module.run_command([p["kubeadm"], "token", "create", "--kubeconfig", p["kubeconfig"],
                                           "--ttl", p["ttl"], "--description", p["description"]])
        lines = [line.strip() for line in out.splitlines() if line.strip()]
        if rc != 0 or not lines or not is_bootstrap_token(lines[-1]):
            module.fail_json(msg="kubeadm token create failed (exit %d): %s" % (rc, (err or "no token printed").strip()),
                             rc=rc)
        token = lines[-1]
    result = dict(changed=created, created=created, ca_cert_hash=ca_hash, api_server_endpoint=p["api_server_endpoint"])
    if token:
        result["token"] = token
        result["join_command"] = "kubeadm join %s --token %s --discovery-token-ca-cert-hash %s" % (
            p["api_server_endpoint"], token, ca_hash)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
