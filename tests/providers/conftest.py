"""One `provider` fixture, parametrised over every calendar provider the product supports.

To add a provider: write a harness (harness.ProviderHarness) and add its factory to PROVIDERS; every test of
test_provider_behaviour.py then runs against it. Stand-ins are started once per session, and reset per test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from infra.calendar_server import RunningServer
from infra.graph_server import RunningServer as GraphServer
from infra.radicale_server import RunningRadicale
from tests.providers.caldav_harness import CalDavHarness
from tests.providers.google_harness import GoogleHarness
from tests.providers.graph_harness import GraphHarness
from tests.providers.harness import ProviderHarness
from tests.providers.memory_harness import MemoryHarness


@pytest.fixture(scope="session")
def google_stand_in() -> Iterator[RunningServer]:
    with RunningServer() as server:
        yield server


@pytest.fixture(scope="session")
def graph_stand_in() -> Iterator[GraphServer]:
    with GraphServer() as server:
        yield server


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRadicale]:
    folder: Path = tmp_path_factory.mktemp("radicale")
    with RunningRadicale(folder) as server:
        yield server


def _memory(_request: pytest.FixtureRequest) -> ProviderHarness:
    return MemoryHarness()


def _google(request: pytest.FixtureRequest) -> ProviderHarness:
    return GoogleHarness(request.getfixturevalue("google_stand_in"))


def _graph(request: pytest.FixtureRequest) -> ProviderHarness:
    return GraphHarness(request.getfixturevalue("graph_stand_in"))


def _caldav(request: pytest.FixtureRequest) -> ProviderHarness:
    return CalDavHarness(request.getfixturevalue("radicale"))


PROVIDERS: dict[str, Callable[[pytest.FixtureRequest], ProviderHarness]] = {
    "memory": _memory,
    "google": _google,
    "graph": _graph,
    "caldav": _caldav,
}


@pytest.fixture(params=sorted(PROVIDERS))
def provider(request: pytest.FixtureRequest) -> ProviderHarness:
    return PROVIDERS[request.param](request)
