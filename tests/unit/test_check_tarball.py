from __future__ import annotations

import importlib.util
from pathlib import Path

SPEC = importlib.util.spec_from_file_location(
    "check_tarball", Path(__file__).resolve().parents[1] / "testbed" / "check_tarball.py")
assert SPEC and SPEC.loader
check_tarball = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(check_tarball)

COMPLETE = list(check_tarball.REQUIRED)


def test_complete_tarball_passes() -> None:
    assert check_tarball.problems(COMPLETE + ["roles/cluster/tasks/main.yml"]) == []


def test_test_double_and_hidden_dirs_are_flagged() -> None:
    found = check_tarball.problems(COMPLETE + ["tests/doubles/k3s/server.py", ".config/molecule/config.yml",
                                               "./collections/ansible_collections/kubeforge/cluster"])
    assert len(found) == 3, found


def test_missing_role_is_flagged() -> None:
    found = check_tarball.problems([n for n in COMPLETE if "k3s_server" not in n])
    assert found == ["missing: roles/k3s_server/tasks/main.yml"]


def test_execution_environment_and_its_context_are_flagged() -> None:
    found = check_tarball.problems(COMPLETE + ["execution-environment.yml", "context/Containerfile"])
    assert len(found) == 2, found
