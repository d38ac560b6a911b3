from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("check_ee", ROOT / "tests" / "testbed" / "check_ee.py")
assert SPEC and SPEC.loader
check_ee = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(check_ee)

GALAXY = {"dependencies": {"kubernetes.core": ">=6.0.0,<7.0.0", "ansible.posix": ">=2.0.0,<3.0.0"}}
REQUIREMENTS = ["# controller", "ansible==12.3.0", "kubernetes==37.0.2  # the API client"]


def ee(collections: list[dict], python: list[str]) -> dict:
    return {"version": 3, "dependencies": {"galaxy": {"collections": collections}, "python": python}}


def test_matching_definition_passes() -> None:
    collections = [{"name": "ansible.posix", "version": ">=2.0.0,<3.0.0"},
                   {"name": "kubernetes.core", "version": ">=6.0.0,<7.0.0"}]
    assert check_ee.problems(ee(collections, ["kubernetes==37.0.2"]), GALAXY, REQUIREMENTS) == []


def test_missing_or_differing_collection_and_unpinned_package_are_flagged() -> None:
    collections = [{"name": "kubernetes.core", "version": ">=5.0.0,<7.0.0"}]
    found = check_ee.problems(ee(collections, ["kubernetes"]), GALAXY, REQUIREMENTS)
    assert len(found) == 3, found
    assert any("ansible.posix" in f for f in found) and any("kubernetes.core" in f for f in found)


def test_repository_definition_passes() -> None:
    """The repository's files agree (make build checks the same)."""
    loaded = [yaml.safe_load((ROOT / name).read_text(encoding="utf-8")) for name in ("execution-environment.yml", "galaxy.yml")]
    requirements = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert check_ee.problems(loaded[0], loaded[1], requirements) == []
