"""Check a built collection tarball ships only what it should.

Fails when a test double, a test, Molecule scenario, CI file, virtual environment,
cache, or the execution environment definition or its build context is inside, or when
a role or plugin directory is missing.
Usage: check_tarball.py TARBALL
"""
from __future__ import annotations

import sys
import tarfile

FORBIDDEN = ("tests/", "molecule/", ".ci/", ".venv/", ".cache/", "collections/", "build/", ".git/", ".config/",
             "context/", "execution-environment.yml")
REQUIRED = ("MANIFEST.json", "FILES.json", "README.md", "meta/runtime.yml", "roles/k3s_server/tasks/main.yml",
            "plugins/modules/kubeconfig_merge.py", "plugins/lookup/k3s_channel.py", "playbooks/site.yml",
            "roles/k3s_agent/tasks/main.yml", "LICENSES/GPL-3.0-or-later.txt")


def problems(names: list[str]) -> list[str]:
    found = []
    for name in names:
        clean = name[2:] if name.startswith("./") else name
        if clean.startswith(FORBIDDEN) or "k3s_double" in clean or "/doubles/" in clean:
            found.append(f"not to be shipped: {clean}")
    present = {n[2:] if n.startswith("./") else n for n in names}
    found += [f"missing: {r}" for r in REQUIRED if r not in present]
    return found


def main(path: str) -> int:
    with tarfile.open(path) as tar:
        names = tar.getnames()
    issues = problems(names)
    for issue in issues:
        print(f"{path}: {issue}", file=sys.stderr)
    print(f"{path}: {len(names)} entries, {'FAIL' if issues else 'ok'}")
    return 1 if issues else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: check_tarball.py TARBALL")
    sys.exit(main(sys.argv[1]))
