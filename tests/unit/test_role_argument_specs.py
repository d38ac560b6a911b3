"""Keep every role's defaults and meta/argument_specs.yml in step.

Each user variable in defaults/main.yml must be documented in the main entry
point with a description and a type, with the same default (templated defaults
are documented in the description instead), and nothing may be documented that
the role does not define. Variables must carry their role's prefix.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.parent.parent.name for p in ROOT.glob("roles/*/defaults/main.yml"))


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


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
