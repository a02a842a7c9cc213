"""Fixtures: the Calendar stand-in on a free loopback port, an admin client, a push receiver."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from werkzeug.wrappers import Request, Response

from infra.calendar_server import RunningServer
from infra.serving import BackgroundServer
from maintenance_windows.adapters.calendar_credentials import local_credentials
from maintenance_windows.adapters.google_calendar import GoogleCalendarAdapter, RetryPolicy


class Admin:
    """Thin client for the stand-in's /_admin/ API."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._session = requests.Session()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._session.request(method, f"{self.base_url}/_admin/{path}", json=body, timeout=5)
        response.raise_for_status()
        return response.json()

    def users(self, *emails: str, time_zone: str = "Europe/Paris") -> None:
        self.call("POST", "users", {"users": [{"email": email, "timeZone": time_zone} for email in emails]})

    def events(self, *events: dict[str, Any]) -> list[str]:
        ids: list[str] = self.call("POST", "events", {"events": list(events)})["ids"]
        return ids

    def configure(self, **settings: Any) -> None:
        self.call("PUT", "config", settings)

    def faults(self, *faults: dict[str, Any]) -> None:
        self.call("POST", "faults", {"faults": list(faults)})

    def counters(self) -> dict[str, Any]:
        counters: dict[str, Any] = self.call("GET", "counters")
        return counters


@pytest.fixture(scope="session")
def calendar_server() -> Iterator[RunningServer]:
    with RunningServer() as server:
        yield server


@pytest.fixture
def admin(calendar_server: RunningServer) -> Admin:
    client = Admin(calendar_server.url)
    client.call("POST", "reset")
    return client


@pytest.fixture
def adapter(calendar_server: RunningServer, admin: Admin) -> GoogleCalendarAdapter:  # noqa: ARG001  # a reset first
    return GoogleCalendarAdapter(
        credentials_for=local_credentials(),
        api_endpoint=calendar_server.api_endpoint,
        retry=RetryPolicy(max_attempts=4, base_delay_seconds=0.001, max_delay_seconds=0.01),
        page_size=3,
    )


def api(
    server: RunningServer, method: str, path: str, user: str | None = "alice@example.com", **kwargs: Any
) -> requests.Response:
    """A raw HTTP call to the API, for checks the typed client would refuse to make."""
    headers = kwargs.pop("headers", {})
    if user is not None:
        headers["Authorization"] = f"Bearer local:{user}"
    return requests.request(method, f"{server.url}/calendar/v3/{path}", headers=headers, timeout=5, **kwargs)


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes


class PushReceiver:
    """A web_hook endpoint on loopback that records what Google-style pushes deliver."""

    def __init__(self) -> None:
        self.received: queue.Queue[Received] = queue.Queue()
        self._server = BackgroundServer(self._app, name="push-receiver")

    @property
    def url(self) -> str:
        return f"{self._server.url}/push"

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.received.put(Received(dict(request.headers), request.get_data()))
        return Response(status=200)(environ, start_response)

    def next(self, timeout: float = 3.0) -> Received:
        return self.received.get(timeout=timeout)

    def start(self) -> PushReceiver:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()


@pytest.fixture
def push_receiver() -> Iterator[PushReceiver]:
    receiver = PushReceiver().start()
    yield receiver
    receiver.stop()
