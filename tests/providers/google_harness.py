"""The Google Calendar adapter on the Calendar stand-in (infra/calendar_server/), driven through its admin API."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

import requests

from infra.calendar_server import RunningServer
from maintenance_windows.adapters.calendar_credentials import local_credentials, local_token_uri
from maintenance_windows.adapters.google_calendar import GoogleCalendarAdapter, RetryPolicy
from maintenance_windows.ports.calendar import CalendarPort


class GoogleHarness:
    name = "google"

    def __init__(self, server: RunningServer) -> None:
        self._url = server.url
        self._session = requests.Session()
        self._ids = itertools.count(1)
        self._admin("POST", "reset")
        self.calendar: CalendarPort = GoogleCalendarAdapter(
            # Delegated credentials refreshed at the stand-in's token endpoint: refusals surface as on Google.
            credentials_for=local_credentials(local_token_uri(server.api_endpoint)),
            api_endpoint=server.api_endpoint,
            retry=RetryPolicy(max_attempts=4, base_delay_seconds=0.001, max_delay_seconds=0.01),
        )

    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        response = self._session.request(method, f"{self._url}/_admin/{path}", json=body, timeout=5)
        response.raise_for_status()
        return response.json()

    def add_person(self, email: str, time_zone: str) -> None:
        self._admin("POST", "users", {"users": [{"email": email, "timeZone": time_zone}]})

    def _event(self, email: str, start: datetime, end: datetime, **fields: Any) -> str:
        event_id = f"own{next(self._ids):05d}".replace("w", "v")
        self._admin(
            "POST",
            "events",
            {
                "events": [
                    {
                        "user": email,
                        "id": event_id,
                        "start": {"dateTime": start.isoformat()},
                        "end": {"dateTime": end.isoformat()},
                        **fields,
                    }
                ]
            },
        )
        return event_id

    def add_meeting(self, email: str, start: datetime, end: datetime, *, free: bool = False) -> str:
        return self._event(email, start, end, summary="Meeting", transparency="transparent" if free else "opaque")

    def add_out_of_office(self, email: str, start: datetime, end: datetime) -> None:
        self._event(email, start, end, summary="Away", eventType="outOfOffice")

    def person_moves(self, email: str, event_id: str, start: datetime, end: datetime) -> None:
        self._admin(
            "POST", f"users/{email}/events/{event_id}/move", {"start": start.isoformat(), "end": end.isoformat()}
        )

    def person_deletes(self, email: str, event_id: str) -> None:
        self._admin("POST", f"users/{email}/events/{event_id}/delete", {})

    def refuse(self, email: str) -> None:
        self._admin("POST", "users", {"users": [{"email": email, "delegation": "not_delegated"}]})

    def fail_next_creates(self, count: int) -> None:
        self._admin(
            "POST",
            "faults",
            {"faults": [{"status": 503, "reason": "backendError", "method": "calendar.events.insert"}] * count},
        )

    def expire_sync(self, email: str) -> None:
        self._admin("POST", "sync-tokens/expire", {"email": email})

    def live_events(self, email: str) -> list[tuple[datetime, datetime, str]]:
        listed = self._admin("GET", f"users/{email}/events")
        return [
            (
                datetime.fromisoformat(e["start"]["dateTime"]),
                datetime.fromisoformat(e["end"]["dateTime"]),
                e.get("summary", ""),
            )
            for e in listed["items"]
            if e.get("status") != "cancelled" and "dateTime" in e.get("start", {})
        ]
