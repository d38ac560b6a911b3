#!/usr/bin/env bash
# Run `ansible-test sanity` on the built collection, unpacked where ansible-test
# expects it (…/ansible_collections/kubeforge/cluster).
# Usage: sanity.sh TARBALL
set -euo pipefail
tarball=$(readlink -f "${1:?usage: sanity.sh TARBALL}"); shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/kubeforge/cluster"
mkdir -p "$dest"
tar -C "$dest" -xzf "$tarball"
cd "$dest"
# ansible-test reads the file list from git when there is a repository.
git init -q && git add -A && git -c user.email=ci@kubeforge.invalid -c user.name=ci commit -qm sanity
ansible-test sanity --python "$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')" \
  --color no --requirements "$@"
