"""CalDAV behaviours beyond the shared suite, against the real Radicale server: what busy time is made of
(recurrences expanded by the server, declined and cancelled events), free-busy-query, conditional writes
meeting a person's edit, credentials per person or for everyone, and discovery."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
import pytest
import requests
from requests.adapters import HTTPAdapter

from infra.radicale_server import SERVICE_ACCOUNT, RunningRadicale
from maintenance_windows.adapters.caldav import CalDavCalendarAdapter, CalDavCredentials
from maintenance_windows.adapters.caldav.credentials import Login
from maintenance_windows.adapters.http_retry import RetryPolicy
from maintenance_windows.domain.caldav_server import CalDavServer
from maintenance_windows.domain.intervals import Interval
from maintenance_windows.domain.rules import SlotRules
from maintenance_windows.ports.calendar import CalendarDeploymentError, EventSpec
from tests.providers.caldav_harness import CalDavHarness

ALICE = "alice@example.com"
BOB = "bob@example.com"
DAY = (datetime.now(UTC) + timedelta(days=3)).replace(hour=8, minute=0, second=0, microsecond=0)
FAST = RetryPolicy(max_attempts=3, base_delay_seconds=0.001, max_delay_seconds=0.01, max_retry_after_seconds=0.01)


def at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


@pytest.fixture
def dav(radicale: RunningRadicale) -> CalDavHarness:
    harness = CalDavHarness(radicale)
    harness.add_person(ALICE, "Europe/Paris")
    return harness


def adapter(_radicale: RunningRadicale, server: CalDavServer, secret: dict[str, Any]) -> CalDavCalendarAdapter:
    return CalDavCalendarAdapter(servers=lambda _email: server, credentials=CalDavCredentials(secret), retry=FAST)


def service(radicale: RunningRadicale, password: str | None = None) -> dict[str, Any]:
    return {"service_account": {"username": SERVICE_ACCOUNT, "password": password or radicale.service_password}}


def own_event(dav: CalDavHarness, email: str, start: datetime, end: datetime, **extra: Any) -> None:
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//person//EN")
    calendar.add("version", "2.0")
    event = icalendar.Event()
    event.add("uid", f"{uuid.uuid4()}@person")
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", "Own")
    for name, value in extra.items():
        if isinstance(value, list):
            for item in value:
                event.add(name, item[0], parameters=item[1])
        else:
            event.add(name, value)
    calendar.add_component(event)
    dav.person(email).save_event(calendar.to_ical().decode())


def spec(event_id: str, start: datetime, user: str = ALICE) -> EventSpec:
    return EventSpec(
        user,
        event_id,
        start,
        start + timedelta(minutes=30),
        "Europe/Paris",
        "Maintenance window",
        "<p>Fix</p>",
        {"mw_window_id": "w-1", "mw_revision": "0"},
    )


def test_a_weekly_meeting_is_busy_at_each_instance_the_server_expands(dav: CalDavHarness) -> None:
    own_event(dav, ALICE, at(1), at(2), rrule={"freq": "daily", "count": 3}, exdate=at(25))
    busy = dav.calendar.busy([ALICE], at(0), at(72))[ALICE]
    # Day 1 and day 3; day 2's instance is excluded (EXDATE).
    assert busy.busy == (Interval(at(1), at(2)), Interval(at(49), at(50)))


def test_declined_and_cancelled_events_are_free(dav: CalDavHarness) -> None:
    own_event(
        dav,
        ALICE,
        at(1),
        at(2),
        attendee=[(f"mailto:{ALICE}", {"PARTSTAT": "DECLINED"})],
        organizer="mailto:boss@example.com",
    )
    own_event(dav, ALICE, at(3), at(4), status="CANCELLED")
    own_event(dav, ALICE, at(5), at(6), attendee=[(f"mailto:{ALICE}", {"PARTSTAT": "ACCEPTED"})])
    assert dav.calendar.busy([ALICE], at(0), at(8))[ALICE].busy == (Interval(at(5), at(6)),)


def test_an_all_day_event_is_busy_over_the_persons_day(dav: CalDavHarness) -> None:
    own_event(dav, ALICE, DAY.date(), DAY.date() + timedelta(days=1))  # type: ignore[arg-type]
    dav.calendar.time_zones([ALICE])
    paris_day = datetime.combine(DAY.date(), datetime.min.time(), icalendar.Timezone.from_tzid("Europe/Paris").to_tz())
    busy = dav.calendar.busy([ALICE], at(-12), at(36))[ALICE].busy
    assert busy == (Interval(paris_day.astimezone(UTC), (paris_day + timedelta(days=1)).astimezone(UTC)),)


def test_free_busy_query_reads_the_servers_own_busy_time(dav: CalDavHarness, radicale: RunningRadicale) -> None:
    own_event(dav, ALICE, at(1), at(2))
    own_event(dav, ALICE, at(3), at(4), transp="TRANSPARENT")
    own_event(dav, ALICE, at(5), at(6), status="CANCELLED")
    by_server = adapter(radicale, CalDavServer(url=radicale.url, busy_from="free-busy"), service(radicale))
    assert by_server.busy([ALICE], at(0), at(8))[ALICE].busy == (Interval(at(1), at(2)),)
    assert by_server.stats.calls["calendar.freebusy"] == 1
    assert by_server.stats.calls["calendar.query"] == 0


def test_a_calendar_without_a_zone_reads_as_utc_and_takes_the_teams_fallback(dav: CalDavHarness) -> None:
    dav.add_person(BOB, "")
    zone = dav.calendar.time_zones([BOB])[BOB]
    assert zone == "UTC"
    assert SlotRules(fallback_time_zone="Europe/Lisbon").zone_of(zone) == "Europe/Lisbon"


class EditFirst(HTTPAdapter):
    """Before our first conditional PUT goes out, the person saves their own edit: our ETag is stale."""

    def __init__(self, edit: Callable[[], None]) -> None:
        super().__init__()
        self.edit: Callable[[], None] | None = edit

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if request.method == "PUT" and "If-Match" in request.headers and self.edit is not None:
            edit, self.edit = self.edit, None
            edit()
        return super().send(request, *args, **kwargs)


def test_an_update_meeting_the_persons_edit_is_laid_over_it(dav: CalDavHarness) -> None:
    dav.calendar.insert_events([spec("aa0100b0", at(1))])

    def person_adds_a_location() -> None:
        event = dav.event(ALICE, "aa0100b0")
        event.icalendar_component.add("location", "Room 4")
        event.save()

    dav.adapter.session.mount("http://", EditFirst(person_adds_a_location))  # type: ignore[attr-defined]
    patched = dav.calendar.patch_event(
        ALICE, "aa0100b0", start=at(2), end=at(2.5), private_properties={"mw_revision": "1"}
    )
    assert (patched.start, patched.end) == (at(2), at(2.5))
    stored = dav.event(ALICE, "aa0100b0").icalendar_component
    assert str(stored["location"]) == "Room 4"
    assert patched.etag == dav.calendar.get_event(ALICE, "aa0100b0").etag  # type: ignore[union-attr]
    assert dav.adapter.stats.calls["event.update"] == 2  # the first met 412 (If-Match), the second won


class LoseAnswer(HTTPAdapter):
    """The first PUT reaches the server and is stored, but its answer is lost on the way back."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = False

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        answer = super().send(request, *args, **kwargs)
        if request.method == "PUT" and not self.lost:
            self.lost = True
            raise requests.ConnectionError("connection reset after the request was sent")
        return answer


def test_a_create_whose_answer_was_lost_is_not_booked_twice(dav: CalDavHarness) -> None:
    dav.adapter.session.mount("http://", LoseAnswer())  # type: ignore[attr-defined]
    (result,) = dav.calendar.insert_events([spec("aa0200b0", at(1))])
    # The retry's If-None-Match: * met the stored event (412): reported as already there, never a second one.
    assert result.error is None
    assert result.created is False
    assert dav.live_events(ALICE) == [(at(1), at(1.5), "Maintenance window")]


def test_app_passwords_refuse_one_person_alone(dav: CalDavHarness, radicale: RunningRadicale) -> None:
    dav.add_person(BOB, "UTC")
    own = CalDavServer(url=radicale.url, credentials="app_passwords")
    secret = {"app_passwords": {ALICE: radicale.passwords[ALICE], BOB: {"username": BOB, "password": "revoked"}}}
    per_person = adapter(radicale, own, secret)
    results = per_person.insert_events([spec("aa0300b0", at(1)), spec("aa0301b0", at(1), BOB)])
    assert results[0].created
    assert not results[1].created
    assert results[1].access_refused
    nobody = adapter(radicale, own, {})
    assert nobody.busy([ALICE], at(0), at(8))[ALICE].error == "not_delegated"


@pytest.mark.usefixtures("dav")
def test_a_refused_service_account_is_the_deployments_problem(radicale: RunningRadicale) -> None:
    wrong = adapter(radicale, CalDavServer(url=radicale.url), service(radicale, "not-the-password"))
    with pytest.raises(CalendarDeploymentError):
        wrong.busy([ALICE], at(0), at(8))


def test_discovery_finds_the_persons_calendar(dav: CalDavHarness, radicale: RunningRadicale) -> None:
    found = adapter(
        radicale,
        CalDavServer(url=radicale.url, discover=True, credentials="app_passwords"),
        {"app_passwords": {ALICE: radicale.passwords[ALICE]}},
    )
    assert found.time_zones([ALICE]) == {ALICE: "Europe/Paris"}
    assert found.insert_events([spec("aa0400b0", at(1))])[0].created
    assert dav.live_events(ALICE) == [(at(1), at(1.5), "Maintenance window")]
    calls = found.stats.calls["calendar.discover"]
    found.get_event(ALICE, "aa0400b0")
    assert found.stats.calls["calendar.discover"] == calls == 3  # principal, home set, home listing: once


def test_no_password_is_in_a_logins_repr() -> None:
    assert "s3cret" not in repr(Login("mw", "s3cret", shared=True))
    assert "s3cret" not in repr(CalDavCredentials({"service_account": {"username": "mw", "password": "s3cret"}}))


class SyncWithoutData(HTTPAdapter):
    """Asks sync-collection for ETags only, like a server that leaves calendar-data out of its answer."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        body = request.body if isinstance(request.body, bytes) else b""
        if request.method == "REPORT" and b"sync-collection" in body:
            request.body = body.replace(b"<C:calendar-data />", b"")
            request.headers["Content-Length"] = str(len(request.body))
        return super().send(request, *args, **kwargs)


def test_a_change_reported_without_its_data_is_read_with_a_get(dav: CalDavHarness) -> None:
    dav.calendar.insert_events([spec("aa0500b0", at(1))])
    position = dav.calendar.list_changes(ALICE, None).next_sync_token
    dav.person_moves(ALICE, "aa0500b0", at(4), at(4.5))
    dav.adapter.session.mount("http://", SyncWithoutData())  # type: ignore[attr-defined]
    (moved,) = dav.calendar.list_changes(ALICE, position).events
    assert (moved.event_id, moved.start, moved.end) == ("aa0500b0", at(4), at(4.5))
    assert dict(moved.private_properties) == {"mw_window_id": "w-1", "mw_revision": "0"}


def test_an_all_day_out_of_office_covers_the_persons_day(dav: CalDavHarness) -> None:
    own_event(dav, ALICE, DAY.date(), DAY.date() + timedelta(days=1), **{"x-microsoft-cdo-busystatus": "OOF"})  # type: ignore[arg-type]
    dav.calendar.time_zones([ALICE])
    paris = icalendar.Timezone.from_tzid("Europe/Paris").to_tz()
    day = datetime.combine(DAY.date(), datetime.min.time(), paris)
    away = dav.calendar.out_of_office([ALICE], at(-12), at(36))[ALICE].away
    assert away == (Interval(day.astimezone(UTC), (day + timedelta(days=1)).astimezone(UTC)),)
