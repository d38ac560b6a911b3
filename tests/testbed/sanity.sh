#!/usr/bin/env bash
# Run `ansible-test sanity` on the built collection, unpacked where ansible-test
# expects it (…/ansible_collections/kubeforge/cluster).
# Usage: sanity.sh TARBALL [ansible-test sanity options...]
# Needs ansible-test (ansible-core) and its python3 first on PATH.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tarball=$(readlink -f "${1:?usage: sanity.sh TARBALL}"); shift
python=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')

# Offline workaround: ansible-test bootstraps pip into every virtual environment it
# makes (for --requirements and the import test) with a get-pip script that it
# downloads from a host our machines and CI cannot reach, unless the script is
# already cached as ~/.ansible/test/cache/get_pip_<pip version, dots as _>.py.
# Put our shim there instead: it sets pip up with the interpreter's ensurepip and
# installs the wanted pip from PyPI (see get_pip_shim.py). Idempotent; the pip
# version is asked of the installed ansible-test so an upgrade keeps working.
pip_version=$(python3 -c '
import sys, types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version=sys.argv[1]))["pip"])' "$python")
shim="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if ! cmp -s "$here/get_pip_shim.py" "$shim"; then
  mkdir -p "$(dirname "$shim")"
  cp "$here/get_pip_shim.py" "$shim.tmp" && mv "$shim.tmp" "$shim"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/kubeforge/cluster"
mkdir -p "$dest"
tar -C "$dest" -xzf "$tarball"
cd "$dest"
# ansible-test reads the file list from git when there is a repository.
git init -q && git add -A && git -c user.email=ci@kubeforge.invalid -c user.name=ci commit -qm sanity
ansible-test sanity --python "$python" --color no --requirements "$@"
