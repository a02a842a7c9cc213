"""functions/requirements.txt (what Cloud Build installs) must pin exactly what pyproject.toml asks for."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{path.name}: {line} is not pinned"
        pins[canonicalize_name(requirement.name)] = specifier.version
    return pins


def test_every_runtime_dependency_is_pinned_within_its_range() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = _pins(ROOT / "functions" / "requirements.txt")
    for line in declared:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is in pyproject.toml but not in functions/requirements.txt (run make lock)"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {requirement.specifier}"


def test_the_deployed_pins_match_the_development_lock() -> None:
    deployed, development = _pins(ROOT / "functions" / "requirements.txt"), _pins(ROOT / "requirements-dev.lock")
    differing = {
        name: (version, development.get(name)) for name, version in deployed.items() if development.get(name) != version
    }
    assert differing == {}, "tests ran against other versions than the functions deploy; run make lock"
