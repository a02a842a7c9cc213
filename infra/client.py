"""Drive a running local stack the way the outside world would: Fleet's webhook, Cloud Scheduler's call,
the user in their calendar. Used by the demo, the benchmarks and the integration tests."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import requests

from infra.fleet_server import FleetAdmin

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / "infra" / "local"
TASK_TOKEN_REUSE_SECONDS = 300.0


class LocalStack:
    def __init__(self, stack: dict[str, Any], timeout: float = 600.0) -> None:
        self.stack = stack
        self.urls: dict[str, str] = stack["urls"]
        self.timeout = timeout
        self.http = requests.Session()
        self.fleet = FleetAdmin(self.urls["fleet"])
        self._task_token: tuple[str, float] | None = None

    # --- Fleet's side -----------------------------------------------------------------------------------

    def replay(self, payload: dict[str, Any] | bytes) -> requests.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.http.post(
            self.urls["fleet_webhook"],
            data=body,
            headers={"Content-Type": "application/json"},
            auth=("fleet", self.stack["secrets"]["webhook"]),
            timeout=self.timeout,
        )

    def seed_fleet(self, seed: dict[str, Any] | None = None) -> None:
        self.fleet.seed(seed if seed is not None else json.loads((LOCAL / "fleet-seed.json").read_text()))

    # --- Cloud Scheduler's side -------------------------------------------------------------------------

    def token(self, audience: str, email: str) -> str:
        minted = self.http.post(self.urls["oidc"] + "/_mint", json={"audience": audience, "email": email}, timeout=10)
        minted.raise_for_status()
        token: str = minted.json()["token"]
        return token

    def plan(
        self, lead_minutes: int | None = None, *, as_scheduler: bool = True, token: str | None = None
    ) -> requests.Response:
        """Call plan_windows with the scheduler's token, or with `token` (None: none) when not as_scheduler."""
        headers = {}
        if as_scheduler:
            token = self.token(self.urls["plan_windows"], self.stack["service_accounts"]["scheduler"])
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = {"lead_minutes": lead_minutes} if lead_minutes is not None else {}
        return self.http.post(self.urls["plan_windows"], json=body, headers=headers, timeout=self.timeout)

    # --- Cloud Tasks' side -----------------------------------------------------------------------------

    def deliver_task(self, body: dict[str, Any] | bytes, *, timeout: float | None = None) -> requests.Response:
        """POST a task body to dispatch_window as Cloud Tasks does: with the task invoker's ID token for the
        dispatch URL (one token is reused for a few minutes; the issuer's last an hour)."""
        dispatch_url = self.urls["dispatch_window"]
        if self._task_token is None or time.monotonic() - self._task_token[1] > TASK_TOKEN_REUSE_SECONDS:
            invoker = self.stack["service_accounts"]["task_invoker"]
            self._task_token = (self.token(dispatch_url, invoker), time.monotonic())
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self._task_token[0]}"}
        return self.http.post(dispatch_url, data=data, headers=headers, timeout=timeout or self.timeout)

    # --- The user's calendar ----------------------------------------------------------------------------

    def calendar(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, f"{self.urls['calendar']}/_admin/{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None

    def reset_calendar(self, users: list[dict[str, str]] | None = None) -> None:
        self.calendar("POST", "reset")
        seed = users if users is not None else json.loads((LOCAL / "calendar-seed.json").read_text())["users"]
        self.calendar("POST", "users", {"users": seed})

    def events(self, email: str) -> list[dict[str, Any]]:
        answer = self.calendar("GET", f"users/{email}/events")
        events: list[dict[str, Any]] = answer["items"] if isinstance(answer, dict) else answer
        return events

    def our_events(self, email: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        return [
            event
            for event in self.events(email)
            if "mw_window_id" in event.get("extendedProperties", {}).get("private", {})
            and (include_deleted or event.get("status") != "cancelled")
        ]

    def graph(self, method: str, path: str, body: Any = None) -> Any:
        """The Graph stand-in's admin API (docs/graph-server.md): Microsoft 365 people and their events."""
        response = self.http.request(method, f"{self.urls['graph']}/_admin/{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None

    def counters(self) -> dict[str, Any]:
        counters: dict[str, Any] = self.calendar("GET", "counters")
        return counters

    def quiet_calendar(self, timeout: float = 15.0) -> None:
        """Forget the calendar (its channels with it), then wait for the pushes already under way: each lasts
        as long as calendar_notifications takes to follow it, so afterwards no follow-up writes anything."""
        self.calendar("POST", "reset")
        deadline = time.monotonic() + timeout
        while self.counters()["notifications_in_flight"] and time.monotonic() < deadline:
            time.sleep(0.05)
