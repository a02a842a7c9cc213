"""The demo's CalDAV person: Carol, whose calendar is on the stack's Radicale (a real CalDAV server).

She has one Mac failing policy 2; the planner books her window in Radicale like anyone else's, she drags
it in her calendar app (the `caldav` library, as a client), and the scheduler's follow-only call, not a
push, brings the window along: CalDAV has none (docs/caldav.md).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import caldav
import icalendar

from infra import stack as local_stack
from infra.client import LocalStack
from infra.radicale_server import make_calendar

CAROL = "carol@dav.acme.example"
CAROL_MAC = 20


def fleet_seed(seed: dict[str, Any]) -> dict[str, Any]:
    """The local Fleet seed with Carol's MacBook Air, failing policy 2 (disk encryption)."""
    host = {
        "id": CAROL_MAC,
        "uuid": "5D6B6F2E-0020-4C1A-9E55-CAROL0MBA020",
        "hardware_serial": "C02CAROL020",
        "platform": "darwin",
        "os_version": "macOS 15.3",
        "display_name": "Carol's MacBook Air",
        "hostname": "carol-mba",
        "timezone": "Europe/Paris",
        "emails": [{"email": CAROL, "source": "idp"}],
        "policies": {"1": "pass", "2": "fail"},
    }
    return {**seed, "hosts": [*seed["hosts"], host]}


def _password(demo: LocalStack) -> str:
    return local_stack.caldav_passwords(demo.stack["secrets"])[CAROL]


def calendar(demo: LocalStack) -> caldav.Calendar:
    client = caldav.DAVClient(url=demo.urls["caldav"], username=CAROL, password=_password(demo))
    found: caldav.Calendar = client.calendar(url=f"{demo.urls['caldav']}/{CAROL}/calendar/")  # type: ignore[no-untyped-call]
    return found


def seed_week(demo: LocalStack, zone: str) -> None:
    """Carol's calendar in `zone`, with a stand-up every day and a long meeting tomorrow."""
    make_calendar(demo.urls["caldav"], CAROL, _password(demo), zone)
    today = datetime.now(ZoneInfo(zone)).date()
    for day in range(0, 8):
        start = datetime.combine(today + timedelta(days=day), datetime.min.time(), ZoneInfo(zone))
        _save(demo, start + timedelta(hours=9, minutes=30), 15, "Stand-up")
        if day == 1:
            _save(demo, start + timedelta(hours=13), 180, "Planning day")


def _save(demo: LocalStack, start: datetime, minutes: int, summary: str) -> None:
    ical = icalendar.Calendar()
    ical.add("prodid", "-//Carol's calendar app//EN")
    ical.add("version", "2.0")
    event = icalendar.Event()
    event.add("uid", f"{uuid.uuid4()}@carol")
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=minutes))
    event.add("summary", summary)
    ical.add_component(event)
    calendar(demo).save_event(ical.to_ical().decode())


def move(demo: LocalStack, event_id: str, by: timedelta) -> None:
    """Carol drags the event in her app: it PUTs the edited event back (the `caldav` library's save)."""
    event = calendar(demo).event_by_url(f"{demo.urls['caldav']}/{CAROL}/calendar/{event_id}.ics")
    event.load()
    component = event.icalendar_component
    for name in ("dtstart", "dtend"):
        moved = component[name].dt + by
        component.pop(name)
        component.add(name, moved)
    event.save()


def follow_now(demo: LocalStack) -> dict[str, Any]:
    """Cloud Scheduler's follow-only job (every few minutes in a deployment), called once now."""
    token = demo.token(demo.urls["plan_windows"], demo.stack["service_accounts"]["scheduler"])
    answer = demo.http.post(
        demo.urls["plan_windows"], json={"follow_only": True}, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    answer.raise_for_status()
    report: dict[str, Any] = answer.json()
    return report


def our_event(demo: LocalStack, event_id: str) -> dict[str, str]:
    """Summary and description of our event as Carol's app reads it."""
    event = calendar(demo).event_by_url(f"{demo.urls['caldav']}/{CAROL}/calendar/{event_id}.ics")
    event.load()
    component = event.icalendar_component
    # DESCRIPTION is a TEXT value, unescaped by the parser; X-ALT-DESC (the HTML) comes back as written.
    return {"summary": str(component.get("summary", "")), "description": str(component.get("description", ""))}
