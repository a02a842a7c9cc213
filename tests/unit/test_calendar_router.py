"""The router sends each person to their provider and keeps one provider's failure to its own people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from maintenance_windows.adapters.calendar_router import CalendarRouter
from maintenance_windows.adapters.memory_calendar import MemoryCalendar
from maintenance_windows.config.settings import ConfigurationError
from maintenance_windows.config.teams import parse_teams
from maintenance_windows.ports.calendar import CalendarUnavailable, EventSpec, WatchRequest

START = datetime(2026, 12, 7, 9, tzinfo=UTC)
ON_GOOGLE, ON_MICROSOFT = "ann@acme.example", "max@contoso.example"


def _router() -> tuple[CalendarRouter, MemoryCalendar, MemoryCalendar]:
    choice = parse_teams(
        {"defaults": {"domains": ["acme.example"], "calendar_domains": {"contoso.example": "microsoft"}}}
    ).calendar_choice()
    google, microsoft = MemoryCalendar(default_zone="Europe/Paris"), MemoryCalendar(default_zone="Europe/Berlin")
    return CalendarRouter({"google": google, "microsoft": microsoft}, choice.provider_of), google, microsoft


def _spec(user: str, event_id: str) -> EventSpec:
    return EventSpec(user, event_id, START, START + timedelta(minutes=30), "UTC", "Fix", "<p>x</p>")


def test_each_person_reaches_their_own_provider_and_answers_keep_the_callers_order() -> None:
    router, google, microsoft = _router()
    assert router.time_zones([ON_MICROSOFT, ON_GOOGLE]) == {ON_MICROSOFT: "Europe/Berlin", ON_GOOGLE: "Europe/Paris"}
    results = router.insert_events([_spec(ON_MICROSOFT, "e1"), _spec(ON_GOOGLE, "e2"), _spec(ON_MICROSOFT, "e3")])
    assert [r.event_id for r in results] == ["e1", "e2", "e3"]
    assert all(r.created for r in results)
    assert [e.event_id for e in microsoft.events_of(ON_MICROSOFT)] == ["e1", "e3"]
    assert [e.event_id for e in google.events_of(ON_GOOGLE)] == ["e2"]
    assert router.get_event(ON_GOOGLE, "e1") is None
    assert router.get_event(ON_MICROSOFT, "e1") is not None


def test_a_provider_outage_fails_its_own_people_only() -> None:
    router, _, microsoft = _router()
    for method in ("time_zones", "busy", "insert_events", "watch_many", "sync_tokens", "out_of_office"):
        microsoft.fail_next(method, CalendarUnavailable("Graph is down", status=503, reason="unavailable"))
    zones = router.time_zones([ON_GOOGLE, ON_MICROSOFT])
    assert zones[ON_GOOGLE] == "Europe/Paris"
    assert isinstance(zones[ON_MICROSOFT], CalendarUnavailable)
    busy = router.busy([ON_GOOGLE, ON_MICROSOFT], START, START + timedelta(hours=8))
    assert busy[ON_GOOGLE].error is None
    assert busy[ON_MICROSOFT].error == "unavailable"
    away = router.out_of_office([ON_GOOGLE, ON_MICROSOFT], START, START + timedelta(hours=8))
    assert away[ON_GOOGLE].error is None
    assert away[ON_MICROSOFT].error == "unavailable"
    inserted = router.insert_events([_spec(ON_MICROSOFT, "e1"), _spec(ON_GOOGLE, "e2")])
    assert [(r.created, r.error) for r in inserted] == [(False, "unavailable"), (True, None)]
    watched = router.watch_many(
        [WatchRequest(ON_MICROSOFT, "c1", "t", "https://x", 60), WatchRequest(ON_GOOGLE, "c2", "t", "https://x", 60)]
    )
    assert isinstance(watched[0], CalendarUnavailable)
    assert not isinstance(watched[1], Exception)
    tokens = router.sync_tokens([ON_MICROSOFT, ON_GOOGLE])
    assert isinstance(tokens[ON_MICROSOFT], CalendarUnavailable)
    assert isinstance(tokens[ON_GOOGLE], str)


def test_with_one_provider_an_outage_is_raised_as_before() -> None:
    calendar = MemoryCalendar()
    calendar.fail_next("time_zones", CalendarUnavailable("down", status=503))
    with pytest.raises(CalendarUnavailable):
        CalendarRouter({"google": calendar}, lambda _: "google").time_zones([ON_GOOGLE])


def test_a_domain_two_teams_give_different_providers_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"acme\.example is listed by teams with different calendars"):
        parse_teams({"defaults": {"domains": ["acme.example"]}, "teams": {"3": {"calendar": "microsoft"}}})
    fixed = parse_teams(
        {
            "defaults": {"domains": ["acme.example"]},
            "teams": {"3": {"calendar": "microsoft", "domains": ["contoso.example"]}},
        }
    )
    assert fixed.calendar_choice().provider_of("Max@Contoso.Example") == "microsoft"
    assert fixed.calendar_choice().provider_of("ann@elsewhere.example") == "google"
