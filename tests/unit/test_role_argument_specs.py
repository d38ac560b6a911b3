"""Keep every role's defaults and meta/argument_specs.yml in step.

Each user variable in defaults/main.yml must be documented in the main entry
point with a description and a type, with the same default (templated defaults
are documented in the description instead), and nothing may be documented that
the role does not define. Variables must carry their role's prefix.

The other entry points (one per task file another playbook or role enters with
tasks_from) document a user variable exactly as main does, or an internal input
named _<role>_*. ansible-core picks the entry point by the literal tasks_from
value, so every tasks_from must name a declared entry point without ".yml".
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.parent.parent.name for p in ROOT.glob("roles/*/defaults/main.yml"))


ROLE_INCLUDES = {
    "import_role", "include_role", "ansible.builtin.import_role", "ansible.builtin.include_role",
}
COLLECTION = "kubeforge.cluster."


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def entry_points(role: str) -> dict:
    return load(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]


def tasks_from_calls() -> list[tuple[str, str, str]]:
    """Every (file, role, tasks_from) that enters a collection role by a task file."""
    calls = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ROLE_INCLUDES and isinstance(value, dict) and "tasks_from" in value:
                    calls.append((where, str(value["name"]).removeprefix(COLLECTION), str(value["tasks_from"])))
                walk(value, where)
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    for folder in ("playbooks", "roles", "molecule"):
        for path in sorted((ROOT / folder).rglob("*.yml")):
            walk(yaml.safe_load(path.read_text()), str(path.relative_to(ROOT)))
    return calls


@pytest.mark.parametrize("role", ROLES)
def test_defaults_match_argument_specs(role: str) -> None:
    defaults = load(ROOT / "roles" / role / "defaults" / "main.yml")
    spec = load(ROOT / "roles" / role / "meta" / "argument_specs.yml")
    options = spec["argument_specs"]["main"]["options"]
    assert sorted(defaults) == sorted(options), f"{role}: defaults and argument_specs list different variables"
    for name, value in defaults.items():
        option = options[name]
        assert option.get("description"), f"{role}: {name} has no description"
        assert option.get("type"), f"{role}: {name} has no type"
        if isinstance(value, str) and "{{" in value:
            assert "default" not in option, f"{role}: {name} has a templated default; document it in the description"
        else:
            assert option.get("default") == value, f"{role}: {name} default differs ({option.get('default')!r} != {value!r})"


@pytest.mark.parametrize("role", ROLES)
def test_variables_carry_the_role_prefix(role: str) -> None:
    defaults = load(ROOT / "roles" / role / "defaults" / "main.yml")
    wrong = [name for name in defaults if not name.startswith(role + "_")]
    assert not wrong, f"{role}: variables without the '{role}_' prefix: {wrong}"


def test_every_role_has_argument_specs() -> None:
    for role_dir in sorted(ROOT.glob("roles/*")):
        assert (role_dir / "meta" / "argument_specs.yml").is_file(), f"{role_dir.name} has no argument_specs"


@pytest.mark.parametrize("role", ROLES)
def test_entry_points_agree_with_defaults(role: str) -> None:
    defaults = load(ROOT / "roles" / role / "defaults" / "main.yml")
    specs = entry_points(role)
    main = specs["main"]["options"]
    for entry, spec in specs.items():
        if entry == "main":
            continue
        assert spec.get("short_description") and spec.get("description"), f"{role}: entry point {entry} is not described"
        assert (ROOT / "roles" / role / "tasks" / f"{entry}.yml").is_file(), f"{role}: entry point {entry} has no task file"
        for name, option in (spec.get("options") or {}).items():
            where = f"{role}: {entry}: {name}"
            if name in defaults:
                for key in ("type", "elements", "choices", "default"):
                    assert option.get(key) == main[name].get(key), f"{where}: {key} differs from the main entry point"
            else:
                assert name.startswith(f"_{role}_"), f"{where} is neither a {role} default nor an internal _{role}_ input"
                assert option.get("description") and option.get("type"), f"{where} has no description or type"
                assert option.get("required") or "default" in option, f"{where} is neither required nor defaulted"


def test_tasks_from_names_an_entry_point() -> None:
    calls = tasks_from_calls()
    assert calls, "no tasks_from found: the walk is broken"
    for where, role, tasks_from in calls:
        assert not tasks_from.endswith((".yml", ".yaml")), (
            f"{where}: tasks_from {tasks_from} skips the argument spec (ansible-core looks the entry point up by the "
            f"literal value); write {tasks_from.rsplit('.', 1)[0]}"
        )
        assert tasks_from in entry_points(role), f"{where}: {role} declares no entry point {tasks_from}"
