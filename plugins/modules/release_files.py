#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: release_files
short_description: Fetch release files once into the controller cache and verify their SHA-256
description:
  - The one way the collection fetches release files (K3s, kubeadm, kubelet, kubectl, containerd, runc, the Calico
    operator manifest). Each role declares its files as data and calls this through the C(fetch) entry point of
    the C(kubeforge.cluster.cluster) role.
  - Runs on the controller only (an action plugin); the managed host is not contacted.
  - Each file is verified against a pinned digest or against the digest file published beside it, and kept under
    O(cache_dir) with a stamp. A later run finds the stamp, sees the file unchanged since, and makes no request
    at all; a file changed in the cache is checked again and fetched anew when it no longer matches.
  - The hosts of a play call it in parallel; a lock per cache file makes the first caller fetch it and the others
    find it verified, so each file is downloaded once per run whatever the number of hosts.
  - A download that does not match is deleted, never kept. Failures say which file, from which URL, and whether
    the digest did not match or the source could not be read.
author:
  - kubeforge maintainers (!UNKNOWN)
version_added: 0.2.0
options:
  files:
    description:
      - The release files to provide.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Handle of the file on this host (V(k3s), V(kubeadm), ...); the result's RV(paths) is keyed by it.
        type: str
        required: true
      url:
        description: Where the file is published; V(https://), V(http://) or V(file://).
        type: str
        required: true
      dest:
        description: Path of the verified copy, relative to O(cache_dir).
        type: str
        required: true
      checksum:
        description:
          - Pinned digest, V(sha256:) followed by 64 hex digits.
          - Exactly one of O(files[].checksum) and O(files[].checksum_url) is required.
        type: str
      checksum_url:
        description: URL of the digest file published beside the file.
        type: str
      checksum_format:
        description:
          - V(sha256sum) for lines of C(<hex>  <file name>) (K3s, containerd, runc);
            V(digest) for a file holding only the hex digest (dl.k8s.io).
        type: str
        choices: [sha256sum, digest]
        default: sha256sum
      checksum_name:
        description: File name to look up in a V(sha256sum) digest file; by default the last part of the URL.
        type: str
      mode:
        description: Mode of the verified copy in the cache, an octal string.
        type: str
        default: '0644'
  cache_dir:
    description: Controller directory of the verified copies; created with mode C(0700).
    type: path
    required: true
  timeout:
    description: Seconds allowed for each request.
    type: int
    default: 120
  what:
    description: What the files are, for messages (for example C(K3s v1.35.1+k3s1 for arm64)).
    type: str
    default: Release files
  source:
    description: The setting that chose the source, for messages (for example C(k3s_artifacts_source=mirror)).
    type: str
    default: ''
  mismatch_hint:
    description: Advice shown when a file does not match its digest, instead of the general one.
    type: str
    default: ''
  deprecated:
    description: Names of deprecated variables the caller saw set; each gets a deprecation warning.
    type: list
    elements: str
    default: []
notes:
  - In check mode the files are still fetched into the controller cache, which is not part of any managed host;
    the managed hosts are never touched.
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: The target here is the managed host, which is never modified; the controller cache is filled also in
      check mode so that the run can go on with verified files.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode with the same arguments, the second run reports no change.
    support: full
"""

EXAMPLES = r"""
- name: Fetch the K3s binary for arm64 and check it against the release's digest file
  kubeforge.cluster.release_files:
    cache_dir: ~/.cache/kubeforge
    what: K3s v1.35.1+k3s1 for arm64
    source: "k3s_artifacts_source: github"
    files:
      - name: k3s
        url: https://github.com/k3s-io/k3s/releases/download/v1.35.1%2Bk3s1/k3s-arm64
        checksum_url: https://github.com/k3s-io/k3s/releases/download/v1.35.1%2Bk3s1/sha256sum-arm64.txt
        dest: k3s/v1.35.1+k3s1/k3s-arm64
        mode: '0700'
  register: k3s_files

- name: Fetch a manifest pinned to a digest
  kubeforge.cluster.release_files:
    cache_dir: ~/.cache/kubeforge
    files:
      - name: tigera-operator
        url: https://raw.githubusercontent.com/projectcalico/calico/v3.30.3/manifests/tigera-operator.yaml
        checksum: "sha256:{{ calico_digest }}"
        dest: calico/v3.30.3/tigera-operator.yaml
"""

RETURN = r"""
paths:
  description: Absolute path of each verified copy on the controller, by file name.
  returned: success
  type: dict
  sample: {k3s: /root/.cache/kubeforge/k3s/v1.35.1+k3s1/k3s-arm64}
sha256:
  description: The sha256 digest of each verified copy, by file name.
  returned: success
  type: dict
  sample: {k3s: 3e1f8a0c4bd1e2a47c6d5b2e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2}
fetched:
  description: Names of the files this call downloaded (the others were already in the cache, verified).
  returned: success
  type: list
  elements: str
  sample: [k3s]
kind:
  description: On failure, V(unreachable) (the file or its digest could not be read), V(mismatch) (the digest did
    not match, or the digest file is malformed) or V(invalid) (the declared item is wrong).
  returned: failure
  type: str
  sample: mismatch
url:
  description: On failure, the URL of the file that failed.
  returned: failure
  type: str
"""
