"""Fixtures: the Graph stand-in on a free loopback port, its admin API, an adapter, a notification receiver."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from infra.graph_server import RunningServer
from maintenance_windows.adapters.http_retry import RetryPolicy
from maintenance_windows.adapters.microsoft_graph import GraphCalendarAdapter, LocalGraphTokens

AUTH = {"Authorization": "Bearer local:test-app"}


class Admin:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._session = requests.Session()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._session.request(method, f"{self.base_url}/_admin/{path}", json=body, timeout=5)
        response.raise_for_status()
        return response.json()

    def users(self, *emails: str, time_zone: str = "Romance Standard Time", refused: str | None = None) -> None:
        self.call("POST", "users", {"users": [{"email": e, "timeZone": time_zone, "refused": refused} for e in emails]})

    def faults(self, *faults: dict[str, Any]) -> None:
        self.call("POST", "faults", {"faults": list(faults)})

    def counters(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.call("GET", "counters")
        return answer


class Receiver:
    """A notification URL on loopback: answers Graph's validation handshake, records notifications."""

    def __init__(self, *, echo: bool = True) -> None:
        self.echo = echo
        self.received: queue.Queue[dict[str, Any]] = queue.Queue()
        self.validations: list[str] = []
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/notify"

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        token = request.args.get("validationToken")
        if token is not None:
            self.validations.append(token)
            answer = Response(token if self.echo else "nope", mimetype="text/plain")
        else:
            self.received.put(request.get_json())
            answer = Response(status=202)
        return answer(environ, start_response)

    def next(self, timeout: float = 3.0) -> dict[str, Any]:
        return self.received.get(timeout=timeout)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="session")
def graph_server() -> Iterator[RunningServer]:
    with RunningServer() as server:
        yield server


@pytest.fixture
def admin(graph_server: RunningServer) -> Admin:
    client = Admin(graph_server.url)
    client.call("POST", "reset")
    return client


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def adapter(graph_server: RunningServer, admin: Admin, slept: list[float]) -> GraphCalendarAdapter:
    del admin  # requested for its reset: every adapter starts on a clean stand-in
    return GraphCalendarAdapter(
        tokens=LocalGraphTokens(),
        endpoint=graph_server.api_endpoint,
        retry=RetryPolicy(max_attempts=4, base_delay_seconds=0.001, max_delay_seconds=0.01, max_retry_after_seconds=30),
        sleep=slept.append,
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def graph(server: RunningServer, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {**AUTH, **kwargs.pop("headers", {})}
    return requests.request(method, f"{server.api_endpoint}{path}", headers=headers, timeout=15, **kwargs)
