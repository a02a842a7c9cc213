"""The CalDAV adapter on a real Radicale server (infra/radicale_server), the person acting through the
`caldav` library as their own client would (a PUT of the edited event, a DELETE)."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime
from typing import Any

import caldav
import icalendar
import requests
from requests.adapters import HTTPAdapter

from infra.radicale_server import SERVICE_ACCOUNT, RunningRadicale
from maintenance_windows.adapters.caldav import CalDavCalendarAdapter, CalDavCredentials
from maintenance_windows.adapters.http_retry import RetryPolicy
from maintenance_windows.domain.caldav_server import CalDavServer
from maintenance_windows.ports.calendar import CalendarPort


class FailingCreates(HTTPAdapter):
    """Answers the next `remaining` PUTs with 503 before they reach the server (nothing is stored)."""

    def __init__(self) -> None:
        super().__init__()
        self.remaining = 0

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if request.method == "PUT" and self.remaining > 0:
            self.remaining -= 1
            failed = requests.Response()
            failed.status_code = 503
            failed.request = request
            failed._content = b""
            return failed
        return super().send(request, *args, **kwargs)


class CalDavHarness:
    name = "caldav"

    def __init__(self, radicale: RunningRadicale) -> None:
        self.radicale = radicale
        if radicale.withheld:
            radicale.restart(set())
        for email in list(radicale.passwords):
            if email != SERVICE_ACCOUNT:
                shutil.rmtree(radicale.calendar_folder(email), ignore_errors=True)
        self.server = CalDavServer(url=radicale.url)
        self.adapter = CalDavCalendarAdapter(
            servers=lambda _email: self.server,
            credentials=CalDavCredentials(
                {"service_account": {"username": SERVICE_ACCOUNT, "password": radicale.service_password}}
            ),
            retry=RetryPolicy(
                max_attempts=4, base_delay_seconds=0.001, max_delay_seconds=0.01, max_retry_after_seconds=0.01
            ),
        )
        self.faults = FailingCreates()
        self.adapter.session.mount("http://", self.faults)  # type: ignore[attr-defined]
        self.calendar: CalendarPort = self.adapter

    # ---- the person, through a real CalDAV client ---------------------------------------------------------

    def person(self, email: str) -> caldav.Calendar:
        client = caldav.DAVClient(url=self.radicale.url, username=email, password=self.radicale.passwords[email])
        found: caldav.Calendar = client.calendar(url=self.server.calendar_url(email))  # type: ignore[no-untyped-call]
        return found

    def add_person(self, email: str, time_zone: str) -> None:
        self.radicale.add_person(email, time_zone)

    def _own(self, email: str, start: datetime, end: datetime, summary: str, **extra: str) -> str:
        calendar = icalendar.Calendar()
        calendar.add("prodid", "-//person//EN")
        calendar.add("version", "2.0")
        event = icalendar.Event()
        event.add("uid", str(uuid.uuid4()))
        event.add("dtstamp", datetime.now(UTC))
        event.add("dtstart", start)
        event.add("dtend", end)
        event.add("summary", summary)
        for name, value in extra.items():
            event.add(name, value)
        calendar.add_component(event)
        saved = self.person(email).save_event(calendar.to_ical().decode())
        return str(saved.url).rstrip("/").rpartition("/")[2].removesuffix(".ics")

    def add_meeting(self, email: str, start: datetime, end: datetime, *, free: bool = False) -> str:
        return self._own(email, start, end, "Meeting", transp="TRANSPARENT" if free else "OPAQUE")

    def add_out_of_office(self, email: str, start: datetime, end: datetime) -> None:
        self._own(email, start, end, "Away", **{"x-microsoft-cdo-busystatus": "OOF"})

    def event(self, email: str, event_id: str) -> caldav.Event:
        found = self.person(email).event_by_url(self.server.calendar_url(email) + f"{event_id}.ics")
        found.load()
        return found

    def person_moves(self, email: str, event_id: str, start: datetime, end: datetime) -> None:
        event = self.event(email, event_id)
        component = event.icalendar_component
        for name, value in (("dtstart", start), ("dtend", end)):
            component.pop(name, None)
            component.add(name, value)
        event.save()

    def person_deletes(self, email: str, event_id: str) -> None:
        self.event(email, event_id).delete()

    def refuse(self, email: str) -> None:
        self.radicale.add_person(email, "UTC")
        self.radicale.restart(self.radicale.withheld | {email})

    def fail_next_creates(self, count: int) -> None:
        self.faults.remaining = count

    def expire_sync(self, email: str) -> None:
        # Radicale keeps each token's state in the collection's cache; without it the token is unknown
        # (403 DAV:valid-sync-token, RFC 6578 3.2), as after a server's token expiry.
        shutil.rmtree(self.radicale.calendar_folder(email) / ".Radicale.cache" / "sync-token", ignore_errors=True)
        # Radicale answers a token naming the current state without looking it up, so the calendar must
        # have moved on: the person's client saves an event again (a new DTSTAMP, as clients do).
        for event in self.person(email).events()[:1]:
            event.icalendar_component.pop("dtstamp", None)
            event.icalendar_component.add("dtstamp", datetime.now(UTC))
            event.save()

    def live_events(self, email: str) -> list[tuple[datetime, datetime, str]]:
        found = []
        for event in self.person(email).events():
            component = event.icalendar_component
            found.append(
                (
                    component["dtstart"].dt.astimezone(UTC),
                    component["dtend"].dt.astimezone(UTC),
                    str(component.get("summary", "")),
                )
            )
        return sorted(found)
