"""calendar_notifications on the memory doubles: who may notify, what each change does, and outages."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from maintenance_windows.domain import windows as window_states
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.handlers.calendar_notifications import handle_calendar_notifications
from maintenance_windows.handlers.http import HttpRequest, HttpResponse
from maintenance_windows.ports.calendar import CalendarDeploymentError, CalendarUnavailable
from maintenance_windows.ports.store import Write
from maintenance_windows.repository import channels as channel_records
from maintenance_windows.repository import windows as window_records
from maintenance_windows.service.channels import RETIRED_GRACE, ChannelKeeper
from maintenance_windows.service.planner import PlanOptions, plan_windows
from tests.support.world import DOMAIN, World

ALICE = f"alice@{DOMAIN}"


class Booked:
    """A world where Alice has a scheduled window and its calendar is watched."""

    def __init__(self) -> None:
        self.world = World()
        self.world.host(1, ALICE)
        plan_windows(self.world.ctx, PlanOptions(time_budget=timedelta(minutes=5)), [ChannelKeeper()])
        (self.window,) = self.world.windows()
        (self.channel,) = self.world.calendar.channels.values()
        self.number = 1

    @property
    def start(self) -> datetime:
        assert self.window.start is not None
        return self.window.start

    @property
    def event_id(self) -> str:
        assert self.window.event_id is not None
        return self.window.event_id

    def notify(self, state: str = "exists", **headers: str) -> HttpResponse:
        self.number += 1
        sent = {
            "X-Goog-Channel-ID": self.channel.channel_id,
            "X-Goog-Channel-Token": self.channel.token,
            "X-Goog-Resource-ID": self.channel.resource_id,
            "X-Goog-Resource-State": state,
            "X-Goog-Message-Number": str(self.number),
            **headers,
        }
        return handle_calendar_notifications(HttpRequest("POST", sent, {}, b""), self.world.ctx)

    def now_window(self) -> Window:
        return self.world.window(self.window.window_id)


@pytest.fixture
def booked() -> Booked:
    return Booked()


def test_only_post_is_accepted(booked: Booked) -> None:
    response = handle_calendar_notifications(HttpRequest("GET", {}, {}, b""), booked.world.ctx)
    assert (response.status, response.headers["Allow"]) == (405, "POST")


@pytest.mark.parametrize(
    ("headers", "status", "problem"),
    [
        ({"X-Goog-Resource-ID": "someone-else"}, 403, "wrong resource"),
        ({"X-Goog-Channel-Token": ""}, 403, "wrong channel token"),
        ({"X-Goog-Channel-ID": ""}, 401, "unknown channel"),
        ({"X-Goog-Resource-State": "bogus"}, 400, "unknown resource state"),
        ({"X-Goog-Message-Number": "0"}, 400, "positive integer"),
        ({"X-Goog-Message-Number": "seven"}, 400, "positive integer"),
    ],
)
def test_bad_messages_are_refused_and_change_nothing(
    booked: Booked, headers: dict[str, str], status: int, problem: str
) -> None:
    booked.world.calendar.user_moves(ALICE, booked.event_id, booked.start + timedelta(hours=1))
    response = booked.notify(**headers)
    assert response.status == status
    assert problem in response.body["error"]
    assert booked.now_window() == booked.window
    assert booked.world.store.query(channel_records.PENDING) == []


def test_a_retired_channel_is_accepted_for_its_grace_period_only(booked: Booked) -> None:
    assert channel_records.retire(booked.world.store, booked.channel.channel_id, booked.world.clock())
    assert booked.notify("sync").status == 200
    booked.world.clock.advance(RETIRED_GRACE)
    assert booked.notify("sync").status == 401


def test_a_calendar_outage_answers_503_and_the_message_waits_for_the_next_one(booked: Booked) -> None:
    later = booked.start + timedelta(hours=2)
    booked.world.calendar.user_moves(ALICE, booked.event_id, later)
    booked.world.calendar.fail_next("list_changes", CalendarUnavailable("backend error", status=503))
    assert booked.notify().status == 503
    assert len(booked.world.store.query(channel_records.PENDING)) == 1
    assert booked.notify().body["status"] == "processed"
    assert booked.now_window().start == later
    assert booked.world.store.query(channel_records.PENDING) == []


def test_a_calendar_that_refuses_us_is_reported_without_a_retry(booked: Booked) -> None:
    booked.world.calendar.refuse_user(ALICE, 401, "authError")
    response = booked.notify()
    assert (response.status, response.body) == (200, {"status": "failed", "reason": "authError"})


@pytest.mark.parametrize("user_action", ["user_declines", "user_makes_all_day"])
def test_a_declined_or_all_day_event_is_replaced_by_a_new_booking(booked: Booked, user_action: str) -> None:
    getattr(booked.world.calendar, user_action)(ALICE, booked.event_id)
    assert booked.notify().status == 200

    after = booked.now_window()
    assert after.state is WindowState.SCHEDULED
    assert (after.booking, after.deletions) == (1, 1)
    old = booked.world.calendar.stored(ALICE, booked.event_id)
    assert old is not None
    assert old.status == "cancelled"
    new = booked.world.calendar.stored(ALICE, after.event_id or "")
    assert new is not None
    assert new.status == "confirmed"
    assert (new.start, new.end) == (after.start, after.end)


def test_a_move_into_the_past_found_by_a_full_sync_is_rebooked(booked: Booked) -> None:
    booked.world.calendar.expire_sync_tokens(ALICE)
    yesterday = booked.world.clock() - timedelta(days=1)
    booked.world.calendar.user_moves(ALICE, booked.event_id, yesterday)
    assert booked.notify().status == 200
    after = booked.now_window()
    assert after.booking == 1
    assert after.start is not None
    assert after.start > booked.world.clock()


def test_a_second_move_made_while_we_patch_is_followed_too(booked: Booked) -> None:
    first, second = booked.start + timedelta(hours=1), booked.start + timedelta(hours=3)
    booked.world.calendar.user_moves(ALICE, booked.event_id, first)
    booked.world.calendar.when_called(
        "patch_event", lambda: booked.world.calendar.user_moves(ALICE, booked.event_id, second)
    )
    assert booked.notify().body["changes"]["moved"] == 2
    after = booked.now_window()
    assert after.start == second
    assert after.state is WindowState.SCHEDULED
    (task,) = booked.world.tasks.pending()
    assert (task.at, task.payload["revision"]) == (second, after.revision)


def test_a_dispatched_window_ignores_the_calendar(booked: Booked) -> None:
    dispatched = window_states.dispatched(booked.window, booked.world.clock(), "sent")
    window_records.save(booked.world.store, [dispatched])
    booked.world.calendar.user_deletes(ALICE, booked.event_id)
    assert booked.notify().status == 200
    assert booked.now_window() == dispatched


def test_a_channel_deleted_while_its_full_sync_runs_stays_deleted(booked: Booked) -> None:
    """A late message on an expired sync token: the full sync is slow, and the planner deletes the channel
    meanwhile. Its sync position must not bring the document back half-empty (no state, no owner)."""
    world, channel_id = booked.world, booked.channel.channel_id
    world.calendar.expire_sync_tokens(ALICE)
    gone = [channel_records.delete(channel_id)]
    world.calendar.when_called("list_changes", lambda: None)  # the 410 on the expired token
    world.calendar.when_called("list_changes", lambda: world.store.commit(gone))  # during the full sync

    assert booked.notify().status == 200
    assert world.store.get(channel_records.CHANNELS, channel_id) is None
    assert world.store.query(channel_records.PENDING) == []
    report = world.plan()  # the next run reads every channel: it must not stumble on a partial document
    assert report.complete
    assert len(channel_records.all_channels(world.store)) == 0


def test_an_incomplete_channel_document_is_skipped_and_logged(booked: Booked, caplog: pytest.LogCaptureFixture) -> None:
    world = booked.world
    world.store.commit([Write("set", channel_records.CHANNELS, "half", {"sync_token": "s", "last_message_number": 3})])

    assert [record.channel_id for record in channel_records.all_channels(world.store)] == [booked.channel.channel_id]
    assert channel_records.get(world.store, "half") is None
    assert channel_records.get_many(world.store, ["half"]) == {}
    skipped = [record for record in caplog.records if getattr(record, "event", None) == "channel_document_incomplete"]
    assert skipped
    assert getattr(skipped[0], "channel_id", None) == "half"
    assert "state" in getattr(skipped[0], "missing", [])
    response = handle_calendar_notifications(
        HttpRequest(
            "POST",
            {"X-Goog-Channel-ID": "half", "X-Goog-Resource-State": "exists", "X-Goog-Message-Number": "4"},
            {},
            b"",
        ),
        world.ctx,
    )
    assert response.status == 401  # an unknown channel, not a 500
    assert world.plan().complete


def test_retiring_a_channel_that_is_gone_writes_nothing(booked: Booked) -> None:
    world, channel_id = booked.world, booked.channel.channel_id
    world.store.commit([channel_records.delete(channel_id)])
    assert channel_records.retire(world.store, channel_id, world.clock()) is False
    assert world.store.get(channel_records.CHANNELS, channel_id) is None


def test_a_deployment_error_answers_503_and_the_message_waits_for_the_fix(booked: Booked) -> None:
    later = booked.start + timedelta(hours=2)
    booked.world.calendar.user_moves(ALICE, booked.event_id, later)
    broken = CalendarDeploymentError("calendar deployment error: grant roles/iam.serviceAccountTokenCreator")
    booked.world.calendar.fail_next("list_changes", broken)
    response = booked.notify()
    assert response.status == 503
    assert "roles/iam.serviceAccountTokenCreator" in response.body["error"]
    assert len(booked.world.store.query(channel_records.PENDING)) == 1
    assert booked.notify().body["status"] == "processed"
    assert booked.now_window().start == later
