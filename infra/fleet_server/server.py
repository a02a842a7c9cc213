"""Serving the stand-in Fleet in a background thread (tests); `python -m infra.fleet_server` serves it too."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from infra.fleet_server.app import DEFAULT_TOKEN, FleetApp, FleetServer, create_app, server_of
from infra.fleet_server.clock import Clock
from infra.fleet_server.seed import Seed
from infra.serving import BackgroundServer


@dataclass(frozen=True)
class RunningFleet:
    url: str
    token: str
    app: FleetApp

    @property
    def server(self) -> FleetServer:
        return server_of(self.app)


@contextmanager
def serve_in_thread(
    seed: dict[str, Any] | Seed | None = None,
    *,
    token: str = DEFAULT_TOKEN,
    host: str = "127.0.0.1",
    clock: Clock | None = None,
    checkin_interval: float | None = None,
) -> Iterator[RunningFleet]:
    """Start the stand-in on a free loopback port for the duration of the block."""
    app = create_app(seed, token=token, clock=clock, checkin_interval=checkin_interval)
    with BackgroundServer(app, host=host, name="fleet-server") as served:
        yield RunningFleet(url=served.url, token=token, app=app)
