"""Serving the stand-in Fleet: in a background thread (tests) or in the foreground (`python -m`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from infra.fleet_server.app import DEFAULT_TOKEN, FleetServer, create_app, server_of
from infra.fleet_server.clock import Clock
from infra.fleet_server.seed import Seed


@dataclass(frozen=True)
class RunningFleet:
    url: str
    token: str
    app: Flask

    @property
    def server(self) -> FleetServer:
        return server_of(self.app)


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request: tests read the request log through the admin API instead."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def bind(app: Flask, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = False) -> BaseWSGIServer:
    """A threaded WSGI server on host:port (0 picks a free port; read it from .server_port)."""
    handler = _QuietHandler if quiet else WSGIRequestHandler
    return make_server(host, port, app, threaded=True, request_handler=handler)


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
    httpd = bind(app, host, 0, quiet=True)
    thread = threading.Thread(target=httpd.serve_forever, name="fleet-server", daemon=True)
    thread.start()
    try:
        yield RunningFleet(url=f"http://{host}:{httpd.server_port}", token=token, app=app)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
