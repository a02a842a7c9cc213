"""The Microsoft Graph adapter on the Graph stand-in (infra/graph_server/), driven through its admin API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests

from infra.graph_server import RunningServer
from maintenance_windows.adapters.http_retry import RetryPolicy
from maintenance_windows.adapters.microsoft_graph import GraphCalendarAdapter, LocalGraphTokens
from maintenance_windows.ports.calendar import CalendarPort

#: Mailboxes keep Windows zone names; these are CLDR windowsZones' territory-001 entries for the IANA zones.
WINDOWS_NAMES = {
    "Europe/Paris": "Romance Standard Time",
    "America/New_York": "Eastern Standard Time",
    "Europe/Berlin": "W. Europe Standard Time",
    "UTC": "UTC",
}


def graph_time(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


class GraphHarness:
    name = "graph"

    def __init__(self, server: RunningServer) -> None:
        self._url = server.url
        self._session = requests.Session()
        self._admin("POST", "reset")
        self.adapter = GraphCalendarAdapter(
            tokens=LocalGraphTokens(),
            endpoint=server.api_endpoint,
            retry=RetryPolicy(
                max_attempts=4, base_delay_seconds=0.001, max_delay_seconds=0.01, max_retry_after_seconds=0.01
            ),
        )
        self.calendar: CalendarPort = self.adapter

    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        response = self._session.request(method, f"{self._url}/_admin/{path}", json=body, timeout=5)
        response.raise_for_status()
        return response.json()

    def add_person(self, email: str, time_zone: str) -> None:
        self._admin("POST", "users", {"users": [{"email": email, "timeZone": WINDOWS_NAMES[time_zone]}]})

    def _own(self, email: str, start: datetime, end: datetime, show_as: str, subject: str) -> str:
        body = {"subject": subject, "start": graph_time(start), "end": graph_time(end), "showAs": show_as}
        answer: str = self._admin("POST", f"users/{email}/events", body)["id"]
        return answer

    def add_meeting(self, email: str, start: datetime, end: datetime, *, free: bool = False) -> str:
        return self._own(email, start, end, "free" if free else "busy", "Meeting")

    def add_out_of_office(self, email: str, start: datetime, end: datetime) -> None:
        self._own(email, start, end, "oof", "Away")

    def _graph_id(self, email: str, event_id: str) -> str:
        for event in self._admin("GET", f"users/{email}/events")["value"]:
            if event.get("transactionId") == event_id or event["id"] == event_id:
                return str(event["id"])
        raise AssertionError(f"no event {event_id} for {email}")

    def person_moves(self, email: str, event_id: str, start: datetime, end: datetime) -> None:
        self._admin(
            "POST",
            f"users/{email}/events/{self._graph_id(email, event_id)}/move",
            {"start": graph_time(start), "end": graph_time(end)},
        )

    def person_deletes(self, email: str, event_id: str) -> None:
        self._admin("POST", f"users/{email}/events/{self._graph_id(email, event_id)}/delete", {})

    def refuse(self, email: str) -> None:
        self._admin("POST", "users", {"users": [{"email": email, "timeZone": "UTC", "refused": "scope"}]})

    def fail_next_creates(self, count: int) -> None:
        self._admin("POST", "faults", {"faults": [{"status": 503, "path": "/events", "method": "POST"}] * count})

    def expire_sync(self, email: str) -> None:
        self._admin("POST", "delta/expire", {"email": email})

    def live_events(self, email: str) -> list[tuple[datetime, datetime, str]]:
        return sorted(
            (datetime.fromisoformat(e["start"]), datetime.fromisoformat(e["end"]), e.get("subject", ""))
            for e in self._admin("GET", f"users/{email}/events")["value"]
            if not e["deleted"]
        )
