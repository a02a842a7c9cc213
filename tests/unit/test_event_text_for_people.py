"""Event text that reads right to a non-technical person, in English and German, from booking to outcome."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from html import unescape

import pytest

from maintenance_windows.adapters.template_explainer import TemplateExplainer
from maintenance_windows.config.teams import parse_teams
from maintenance_windows.domain.event_text import event_description_html, event_title, outcome_description_html
from maintenance_windows.domain.explanation import ExplanationRequest
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.service.dispatch import run_task
from maintenance_windows.service.dispatch_context import TaskBody
from maintenance_windows.service.event_content import explanation_request, render
from tests.support.world import DOMAIN, World, fleet_policy

ALICE = f"alice@{DOMAIN}"
JARGON = ("does not pass", "critical", "Europe/Berlin", "policy1")


def plain(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


def team_world(language: str, **rules: object) -> World:
    world = World(
        teams=parse_teams(
            {
                "organization": "Acme",
                "contact": "the IT help desk",
                "defaults": {"domains": [DOMAIN], "language": language, **rules},
            }
        )
    )
    world.calendar.set_time_zone(ALICE, "Europe/Berlin")
    return world


def booked(world: World, hosts: int = 1) -> Window:
    for host_id in range(1, hosts + 1):
        world.host(host_id, ALICE)
    # Fleet's raw policy name and its critical flag: the text must put both in plain words.
    world.fleet.add_policy(replace(fleet_policy(1), name="policy1", critical=True))
    world.plan()
    (window,) = world.windows()
    return window


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            [
                "Why it matters",
                "When",
                "Berlin Time",
                "Monday, March 3",
                "urgent",
                "Devices",
                "your Macs",
                "If you delete this event, we'll offer you another time. After 2 deletions we stop, and the IT "
                "help desk will be in touch.",
            ],
        ),
        (
            "de",
            [
                "Warum es wichtig ist",
                "Wann",
                "Berlin (Ortszeit)",
                "Montag, 3. März",
                "dringend",
                "Geräte",
                "Ihre Macs",
                "Nach 2 Löschungen hören wir auf, und the IT help desk meldet sich bei Ihnen.",
            ],
        ),
    ],
)
def test_the_booked_event_reads_right_in_both_languages(language: str, expected: list[str]) -> None:
    world = team_world(language)
    window = booked(world, hosts=2)
    text = plain(window.event_html)
    for words in expected:
        assert words in text, words
    for jargon in JARGON:
        assert jargon not in text, jargon
    event = world.calendar.stored(ALICE, window.event_id or "")
    assert event is not None
    assert event.summary == ("Acme IT: device maintenance" if language == "en" else "Acme IT: Gerätewartung")


def test_a_display_name_from_the_rules_names_the_policy() -> None:
    world = team_world("en", policies=[{"policy_id": 1, "display_name": "Disk encryption is off"}])
    text = plain(booked(world).event_html)
    assert "“Disk encryption is off”" in text
    assert "policy1" not in text


def test_the_stated_duration_never_contradicts_the_booked_window() -> None:
    os_update = {"type": "os_update", "install_action": "InstallASAP"}
    world = team_world("en", slots={"slot_minutes": 10}, actions=[{"policy_id": 1, "actions": [os_update]}])
    window = booked(world)
    assert window.start is not None
    assert window.end is not None
    assert window.end - window.start == timedelta(minutes=10)
    text = plain(window.event_html)
    assert "It takes about" not in text
    assert "The work may take longer than the 10 minutes booked" in text


def test_a_window_long_enough_states_the_estimate() -> None:
    explanation = TemplateExplainer().explain(
        ExplanationRequest(organization="Acme", window_local="w", deadline_local="d")
    )
    html = event_description_html(
        explanation, window_local="w", deadline_local="d", host_names=[], contact="IT", window_minutes=30
    )
    assert f"It takes about {explanation.expected_duration_minutes} minutes." in plain(html)


@pytest.mark.parametrize(
    ("deletions", "says"),
    [
        (1, "If you delete this event, we won't book another time, and IT will be in touch."),
        (3, "After 3 deletions we stop, and IT will be in touch."),
    ],
)
def test_the_text_says_what_deleting_does_with_the_configured_limit(deletions: int, says: str) -> None:
    explanation = TemplateExplainer().explain(
        ExplanationRequest(organization="Acme", window_local="w", deadline_local="d")
    )
    html = event_description_html(
        explanation, window_local="w", deadline_local="d", host_names=[], contact="IT", max_deletions=deletions
    )
    assert says in plain(html)


def test_a_rebooked_event_says_it_is_a_new_time() -> None:
    world = team_world("en")
    window = booked(world)
    request = explanation_request(world.ctx, window, {}, [{}])
    first, _ = render(world.ctx, window, request)
    again, _ = render(world.ctx, replace(window, booking=1), request)
    assert "This is a new time" not in plain(first)
    assert "This is a new time: the previous event for this maintenance was deleted." in plain(again)


def test_the_title_follows_the_language() -> None:
    assert event_title("Acme", None, "de") == "Acme IT: Gerätewartung"
    assert event_title("", None, "de") == "Gerätewartung"
    assert event_title("Acme IT", None) == "Acme IT: device maintenance"


# -- how it ended ------------------------------------------------------------------------------------------


def _run_to_verification(world: World, window: Window, *, fixed: bool) -> None:
    assert window.start is not None
    assert window.end is not None
    world.clock.now = window.start
    run_task(world.dispatch_ctx, TaskBody(window_id=window.window_id, revision=window.revision, purpose="dispatch"))
    for host_id in window.host_ids:
        if fixed:
            world.fleet.pass_at_next_refetch(host_id)
    world.clock.now = window.end + timedelta(minutes=15)
    for attempt in range(6):
        current = world.window(window.window_id)
        if current.state in (WindowState.VERIFIED, WindowState.FAILED):
            break
        run_task(
            world.dispatch_ctx,
            TaskBody(window_id=window.window_id, revision=current.revision, purpose="verify", attempt=attempt),
        )
        world.clock.now += timedelta(minutes=10)
    # dispatch_window holds no calendar grant: the next planning run writes the outcome into the event.
    assert world.window(window.window_id).outcome_pending
    world.plan()


@pytest.mark.parametrize(
    ("language", "done"),
    [("en", "Done — thank you"), ("de", "Erledigt – vielen Dank")],
)
def test_a_verified_window_updates_its_event(language: str, done: str) -> None:
    world = team_world(language)
    window = booked(world)
    _run_to_verification(world, window, fixed=True)
    assert world.window(window.window_id).state is WindowState.VERIFIED
    event = world.calendar.stored(ALICE, window.event_id or "")
    assert event is not None
    assert plain(event.description_html).strip().startswith(done)
    assert "Mac 1" in plain(event.description_html)


@pytest.mark.parametrize(
    ("language", "failed", "next_step"),
    [
        ("en", "This didn't work; we'll find another time", "no sooner than Tuesday, March 4"),
        ("de", "Das hat nicht geklappt; wir suchen eine neue Zeit", "frühestens Dienstag, 4. März"),
    ],
)
def test_a_failed_window_updates_its_event_with_the_next_step(language: str, failed: str, next_step: str) -> None:
    world = team_world(language)
    window = booked(world)
    _run_to_verification(world, window, fixed=False)
    assert world.window(window.window_id).state is WindowState.FAILED
    event = world.calendar.stored(ALICE, window.event_id or "")
    assert event is not None
    text = plain(event.description_html)
    assert text.strip().startswith(failed)
    assert next_step in text


def test_an_escalated_failure_says_the_it_team_will_be_in_touch() -> None:
    html = outcome_description_html(
        "en",
        verified=False,
        host_names=["Mac 1"],
        contact="the IT help desk",
        rebook_after_local="Tuesday",
        escalated=True,
    )
    assert "the IT help desk will look into it and be in touch." in plain(html)


def test_a_refused_outcome_waits_for_the_next_run_and_a_deleted_event_is_let_go() -> None:
    from maintenance_windows.ports.calendar import CalendarError

    world = team_world("en")
    window = booked(world)
    world.calendar.fail_next("patch_event", CalendarError("forbidden", status=403, reason="forbidden"))
    _run_to_verification(world, window, fixed=True)
    assert world.window(window.window_id).state is WindowState.VERIFIED
    assert world.window(window.window_id).outcome_pending  # refused: tried again next run
    assert world.plan().as_dict()["outcomes_told"] == 1
    event = world.calendar.stored(ALICE, window.event_id or "")
    assert event is not None
    assert plain(event.description_html).strip().startswith("Done — thank you")
    assert not world.window(window.window_id).outcome_pending
    assert world.plan().as_dict()["outcomes_told"] == 0  # written once


def test_an_outcome_for_a_deleted_event_is_let_go() -> None:
    from maintenance_windows.ports.calendar import CalendarError

    world = team_world("en")
    window = booked(world)
    world.calendar.fail_next("patch_event", CalendarError("gone", status=410, reason="deleted"))
    _run_to_verification(world, window, fixed=True)
    assert not world.window(window.window_id).outcome_pending


def test_the_dispatcher_reaches_no_calendar() -> None:
    world = team_world("en")
    window = booked(world)
    patches = world.calendar.calls["patch_event"]
    assert window.start is not None
    assert window.end is not None
    world.clock.now = window.start
    run_task(world.dispatch_ctx, TaskBody(window_id=window.window_id, revision=window.revision, purpose="dispatch"))
    world.fleet.pass_at_next_refetch(1)
    world.clock.now = window.end + timedelta(minutes=15)
    for attempt in range(6):
        if world.window(window.window_id).state is WindowState.VERIFIED:
            break
        run_task(
            world.dispatch_ctx,
            TaskBody(window_id=window.window_id, revision=window.revision, purpose="verify", attempt=attempt),
        )
        world.clock.now += timedelta(minutes=10)
    assert world.window(window.window_id).state is WindowState.VERIFIED
    assert world.calendar.calls["patch_event"] == patches
