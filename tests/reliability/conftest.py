"""Fixtures of the reliability suite. The stack is the session's (tests/conftest.py): under `make test` and
`make reliability` it comes from MW_STACK_FILE. To run the suite beside another stack, give it its own
profile (ports 48500+):

    .venv/bin/python -m infra.stack run --profile reliability -- .venv/bin/python -m pytest -q tests/reliability
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _pytest.terminal import TerminalReporter

from maintenance_windows.adapters.firestore_store import FirestoreStore
from tests.reliability.support import Figures, Rig, Size, current_size, fuzz_rows


@pytest.fixture(scope="session")
def size() -> Size:
    return current_size()


_RECORDED: list[Figures] = []


@pytest.fixture(scope="session")
def figures(size: Size) -> Iterator[Figures]:
    recorded = Figures(size)
    _RECORDED.append(recorded)
    yield recorded
    if recorded.values:
        recorded.write()


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    """The fuzz counts of this run, per function and in total: what `make reliability` reports."""
    for recorded in _RECORDED:
        rows = fuzz_rows(recorded.values)
        if not rows:
            continue
        terminalreporter.section(f"fuzz figures ({recorded.size.name} size)")
        for name, cases, server_errors, writes in rows:
            terminalreporter.write_line(f"{name:<64} {cases:>7} cases  {server_errors} 5xx  {writes} writes on refused")


@pytest.fixture
def rig(stack: dict[str, Any], store: FirestoreStore) -> Iterator[Rig]:
    """The stack seen from outside; faults, push duplicates and queued tasks never outlive a test."""
    harness = Rig(stack, store)
    yield harness
    harness.local.fleet.clear_faults()
    harness.calendar_config(fault_rate=0.0, push_duplicates=1, latency_ms=0)
    harness.purge_tasks()
