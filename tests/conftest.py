"""Shared fixtures. Integration tests use the local stack that `make test` starts (MW_STACK_FILE);
run alone, the session starts its own test stack and stops it at the end."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from maintenance_windows.adapters.firestore_store import FirestoreStore
from tests.support import FLEET_FIXTURES
from tests.support import stack as stack_support


@pytest.fixture(scope="session")
def fleet_fixtures() -> str:
    path = str(FLEET_FIXTURES)
    assert os.path.isdir(path), f"Fleet fixtures not found at {path}"
    return path


@pytest.fixture(scope="session")
def stack() -> Iterator[dict[str, Any]]:
    path = os.environ.get("MW_STACK_FILE")
    if path:
        yield stack_support.load(path)
        return
    from infra import stack as local_stack

    only = set(os.environ["MW_STACK_ONLY"].split(",")) if os.environ.get("MW_STACK_ONLY") else None
    info = local_stack.up("test", only)
    try:
        yield info
    finally:
        local_stack.down("test")


@pytest.fixture
def store(stack: dict[str, Any]) -> FirestoreStore:
    firestore = stack_support.firestore_store(stack)
    stack_support.wipe(firestore)
    return firestore
