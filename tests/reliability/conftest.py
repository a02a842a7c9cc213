"""Fixtures of the reliability suite. The stack is the session's (tests/conftest.py): under `make test` and
`make reliability` it comes from MW_STACK_FILE. To run the suite beside another stack, give it its own
profile (ports 48500+):

    .venv/bin/python -m infra.stack run --profile reliability -- .venv/bin/python -m pytest -q tests/reliability
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from maintenance_windows.adapters.firestore_store import FirestoreStore
from tests.reliability.support import Figures, Rig, Size, current_size


@pytest.fixture(scope="session")
def size() -> Size:
    return current_size()


@pytest.fixture(scope="session")
def figures(size: Size) -> Iterator[Figures]:
    recorded = Figures(size)
    yield recorded
    if recorded.values:
        recorded.write()


@pytest.fixture
def rig(stack: dict[str, Any], store: FirestoreStore) -> Iterator[Rig]:
    """The stack seen from outside; faults, push duplicates and queued tasks never outlive a test."""
    harness = Rig(stack, store)
    yield harness
    harness.local.fleet.clear_faults()
    harness.calendar_config(fault_rate=0.0, push_duplicates=1, latency_ms=0)
    harness.purge_tasks()
