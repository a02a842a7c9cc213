"""Where `mw` finds the local stack: MW_STACK_FILE, else .local/stack.json in the project."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class StackNotRunning(RuntimeError):
    pass


def stack_path() -> Path:
    explicit = os.environ.get("MW_STACK_FILE")
    if explicit:
        return Path(explicit)
    for folder in (Path.cwd(), *Path.cwd().parents):
        candidate = folder / ".local" / "stack.json"
        if candidate.exists():
            return candidate
    return Path.cwd() / ".local" / "stack.json"


def load_stack() -> dict[str, Any]:
    path = stack_path()
    if not path.exists():
        raise StackNotRunning(f"no local stack found at {path}; start one with `make up`")
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def use_stack_environment(stack: dict[str, Any]) -> None:
    """Point the Google clients at the stack's emulators, as the functions themselves are."""
    for key, value in stack["function_env"].items():
        os.environ.setdefault(key, value)
