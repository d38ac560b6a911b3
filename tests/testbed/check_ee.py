"""Check that execution-environment.yml asks for what the collection declares.

The collections and ranges under dependencies.galaxy must be galaxy.yml's dependencies, and
every Python package under dependencies.python must be pinned the same in requirements.txt.
ansible-builder validates the schema itself (make build runs `ansible-builder create`).
Usage: check_ee.py EE_FILE GALAXY_YML REQUIREMENTS_TXT
"""
from __future__ import annotations

import sys

import yaml


def problems(ee: dict, galaxy: dict, requirements: list[str]) -> list[str]:
    found = []
    deps = ee.get("dependencies", {})
    wanted = galaxy.get("dependencies") or {}
    collections = deps.get("galaxy", {}).get("collections", [])
    have = {c["name"]: c.get("version", "*") for c in collections}
    for name in sorted(set(wanted) | set(have)):
        if have.get(name) != wanted.get(name):
            found.append(f"collection {name}: galaxy.yml {wanted.get(name)!r}, execution environment {have.get(name)!r}")
    pinned = {line.split("#")[0].strip() for line in requirements} - {""}
    found += [f"python {req}: not pinned so in requirements.txt" for req in deps.get("python", []) if req not in pinned]
    return found


def main(ee_path: str, galaxy_path: str, requirements_path: str) -> int:
    with open(ee_path, encoding="utf-8") as ee, open(galaxy_path, encoding="utf-8") as galaxy, \
            open(requirements_path, encoding="utf-8") as requirements:
        issues = problems(yaml.safe_load(ee), yaml.safe_load(galaxy), requirements.read().splitlines())
    for issue in issues:
        print(f"{ee_path}: {issue}", file=sys.stderr)
    print(f"{ee_path}: {'FAIL' if issues else 'ok'}")
    return 1 if issues else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit("usage: check_ee.py EE_FILE GALAXY_YML REQUIREMENTS_TXT")
    sys.exit(main(*sys.argv[1:]))
