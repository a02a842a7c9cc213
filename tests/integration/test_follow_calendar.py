"""Following the user on the local stack: the Calendar stand-in sends REAL push notifications over loopback
to calendar_notifications (served by werkzeug here), which syncs through the real adapter and stores in the
Firestore emulator. Tasks go to MemoryTaskQueue, whose deletions and names we can inspect.

Run alone: MW_STACK_ONLY=firestore .venv/bin/pytest tests/integration/test_follow_calendar.py -q
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import requests
from werkzeug.wrappers import Request, Response

from infra.calendar_server import RunningServer
from infra.serving import BackgroundServer
from maintenance_windows.adapters.calendar_credentials import local_credentials
from maintenance_windows.adapters.firestore_store import FirestoreStore
from maintenance_windows.adapters.google_calendar import GoogleCalendarAdapter, RetryPolicy
from maintenance_windows.adapters.memory_tasks import MemoryTaskQueue
from maintenance_windows.adapters.template_explainer import TemplateExplainer
from maintenance_windows.config.teams import TeamsConfig
from maintenance_windows.domain.capacity import Capacity
from maintenance_windows.domain.ids import user_key, window_id
from maintenance_windows.domain.rules import DeadlineBehaviour, FollowRules, TeamRules
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.handlers.calendar_notifications import handle_calendar_notifications
from maintenance_windows.handlers.http import HttpRequest
from maintenance_windows.ports.fleet import FleetPort
from maintenance_windows.ports.store import Write
from maintenance_windows.repository import channels as channel_records
from maintenance_windows.repository import windows as window_records
from maintenance_windows.repository.channels import ChannelState
from maintenance_windows.service import booking, planner
from maintenance_windows.service.channels import ChannelKeeper
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.event_content import local_range
from maintenance_windows.service.planner import PlanReport
from tests.integration.calendar.conftest import Admin

pytestmark = pytest.mark.stack

ALICE = "alice@example.com"
SLOT = timedelta(minutes=30)


class NotificationEndpoint:
    """calendar_notifications on loopback; the context is swapped per test."""

    def __init__(self) -> None:
        self.ctx: PlanningContext | None = None
        self.answers: list[int] = []
        self._server = BackgroundServer(self._app, name="calendar-notifications")

    @property
    def url(self) -> str:
        return f"{self._server.url}/calendar_notifications"

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        assert self.ctx is not None
        answer = handle_calendar_notifications(
            HttpRequest(request.method, dict(request.headers.items()), {}, request.get_data()), self.ctx
        )
        self.answers.append(answer.status)
        return Response(answer.encoded(), answer.status, content_type="application/json")(environ, start_response)

    def start(self) -> NotificationEndpoint:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()


@pytest.fixture(scope="module")
def calendar_server() -> Iterator[RunningServer]:
    with RunningServer() as server:
        yield server


@pytest.fixture(scope="module")
def endpoint() -> Iterator[NotificationEndpoint]:
    server = NotificationEndpoint().start()
    yield server
    server.stop()


@pytest.fixture
def admin(calendar_server: RunningServer) -> Admin:
    client = Admin(calendar_server.url)
    client.call("POST", "reset")
    client.users(ALICE, time_zone="Europe/Paris")
    return client


@pytest.fixture
def follow_store(store: FirestoreStore) -> FirestoreStore:
    for snapshot in store.client.collection(channel_records.PENDING).stream():
        snapshot.reference.delete()
    return store


@pytest.fixture
def make_ctx(
    follow_store: FirestoreStore,
    calendar_server: RunningServer,
    endpoint: NotificationEndpoint,
    admin: Admin,  # noqa: ARG001  # a reset first
) -> Callable[..., PlanningContext]:
    def build(follow: FollowRules | None = None) -> PlanningContext:
        adapter = GoogleCalendarAdapter(
            credentials_for=local_credentials(),
            api_endpoint=calendar_server.api_endpoint,
            retry=RetryPolicy(max_attempts=3, base_delay_seconds=0.001, max_delay_seconds=0.01),
        )
        ctx = PlanningContext(
            store=follow_store,
            calendar=adapter,
            fleet=cast(FleetPort, object()),  # following never talks to Fleet
            tasks=MemoryTaskQueue(),
            explainer=TemplateExplainer(),
            teams=TeamsConfig(defaults=TeamRules(follow=follow or FollowRules())),
            notifications_url=endpoint.url,
        )
        endpoint.ctx = ctx
        return ctx

    return build


@pytest.fixture
def ctx(make_ctx: Callable[..., PlanningContext]) -> PlanningContext:
    return make_ctx()


# ---- helpers -------------------------------------------------------------------------------------------


def _book(ctx: PlanningContext, deadline_days: float = 7) -> Window:
    """A scheduled window whose event sits in the stand-in two hours from now, and its channel."""
    now = ctx.clock()
    key = user_key(ALICE)
    window = Window(
        window_id=window_id(key, 1),
        user_key=key,
        user_email=ALICE,
        team_id=None,
        host_ids=(1,),
        policy_ids=(7,),
        deadline=now + timedelta(days=deadline_days),
        created_at=now,
    )
    ctx.store.commit([window_records.user_write(key, email=ALICE, open_window_id=window.window_id)])
    planned, _ = booking.assign_slots(ctx, [window], Capacity(), lead=timedelta(hours=2))
    scheduled = booking.finish(ctx, planned)[0]
    ChannelKeeper()(ctx, window_records.open_windows(ctx.store), PlanReport())
    return scheduled


def _wait_for(ctx: PlanningContext, window: Window, done: Callable[[Window], bool], timeout: float = 10) -> Window:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        current = window_records.load(ctx.store, window.window_id)
        if current is not None and done(current):
            return current
        time.sleep(0.05)
    raise AssertionError(f"window never reached the expected state: {window_records.load(ctx.store, window.window_id)}")


def _settle(ctx: PlanningContext, admin: Admin, quiet: float = 0.5, timeout: float = 10) -> None:
    """Until the stand-in has delivered everything and no message is pending any more."""
    ends = time.monotonic() + timeout
    last: tuple[int, int] | None = None
    stable_since = time.monotonic()
    while time.monotonic() < ends:
        counters = admin.counters()
        now = (counters["notifications_sent"], counters["notifications_failed"])
        if now != last:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= quiet and not ctx.store.query(channel_records.PENDING):
            return
        time.sleep(0.05)
    raise AssertionError("notifications never settled")


def _move(admin: Admin, event_id: str, start: datetime) -> None:
    body = {"start": start.isoformat(), "end": (start + SLOT).isoformat()}
    admin.call("POST", f"users/{ALICE}/events/{event_id}/move", body)


def _act(admin: Admin, event_id: str, action: str) -> None:
    admin.call("POST", f"users/{ALICE}/events/{event_id}/{action}")


def _event(admin: Admin, event_id: str) -> dict[str, Any]:
    items = admin.call("GET", f"users/{ALICE}/events")["items"]
    return cast(dict[str, Any], next(item for item in items if item["id"] == event_id))


def _patch_calls(admin: Admin) -> int:
    recent = admin.call("GET", "requests?limit=1000")["requests"]
    return sum(1 for entry in recent if entry["method"] == "calendar.events.patch")


def _tasks(ctx: PlanningContext) -> MemoryTaskQueue:
    return cast(MemoryTaskQueue, ctx.tasks)


def _current_channel(ctx: PlanningContext) -> channel_records.ChannelRecord:
    (current,) = [r for r in channel_records.all_channels(ctx.store) if r.state is ChannelState.CURRENT]
    return current


# ---- tests ---------------------------------------------------------------------------------------------


def test_a_move_in_the_calendar_reschedules_the_window_and_its_task(ctx: PlanningContext, admin: Admin) -> None:
    window = _book(ctx)
    assert window.event_id
    assert window.start
    assert window.task_name
    new_start = (window.start + timedelta(days=1, hours=1)).astimezone(UTC)

    _settle(ctx, admin)
    started = time.monotonic()
    _move(admin, window.event_id, new_start)
    moved = _wait_for(ctx, window, lambda w: w.revision == 1 and w.state is WindowState.SCHEDULED)
    reaction = time.monotonic() - started

    assert moved.start == new_start
    assert moved.end == new_start + SLOT
    assert reaction < 5, f"took {reaction:.2f} s"
    (task,) = _tasks(ctx).pending()
    assert (task.at, task.payload["revision"], task.name) == (new_start, 1, moved.task_name)
    old = next(t for t in _tasks(ctx).created if t.name == window.task_name)
    assert old.payload["revision"] < moved.revision  # the dispatcher turns it into a no-op
    event = _event(admin, window.event_id)
    assert event["extendedProperties"]["private"]["mw_revision"] == "1"
    assert local_range(new_start, new_start + SLOT, moved.time_zone) in event["description"]  # not stale (#20994)
    _settle(ctx, admin)
    assert window_records.load(ctx.store, window.window_id) == moved  # our own patch's echo was ignored


def test_a_deletion_is_rebooked_and_a_second_one_declines(ctx: PlanningContext, admin: Admin) -> None:
    window = _book(ctx)
    assert window.event_id
    channel = _current_channel(ctx)
    _act(admin, window.event_id, "delete")

    rebooked = _wait_for(ctx, window, lambda w: w.booking == 1 and w.state is WindowState.SCHEDULED)
    assert rebooked.event_id
    assert rebooked.event_id != window.event_id
    assert _event(admin, rebooked.event_id)["status"] == "confirmed"
    assert [t.payload["revision"] for t in _tasks(ctx).pending()] == [rebooked.revision]
    assert "rebooked" in [entry.kind for entry in rebooked.history]
    _settle(ctx, admin)

    _act(admin, rebooked.event_id, "delete")
    declined = _wait_for(ctx, window, lambda w: w.state is WindowState.DECLINED)
    assert declined.deletions == 2
    _settle(ctx, admin)  # the window is saved declined before its task is deleted and its channel stopped
    assert _tasks(ctx).pending() == []
    user = window_records.users(ctx.store, [window.user_key])[window.user_key]
    assert user["open_window_id"] is None
    stand_in = {c["id"]: c for c in admin.call("GET", "channels")["channels"]}
    assert stand_in[channel.channel_id]["stopped"] is True


def test_ten_copies_of_a_notification_reschedule_once(ctx: PlanningContext, admin: Admin) -> None:
    window = _book(ctx)
    assert window.event_id
    assert window.start
    _settle(ctx, admin)
    admin.configure(push_duplicates=10)
    patches_before, tasks_before = _patch_calls(admin), len(_tasks(ctx).created)
    delivered_before = admin.counters()["notifications_by_state"].get("exists", 0)

    _move(admin, window.event_id, window.start + timedelta(hours=3))
    moved = _wait_for(ctx, window, lambda w: w.revision >= 1 and w.state is WindowState.SCHEDULED)
    _settle(ctx, admin)

    assert window_records.load(ctx.store, window.window_id) == moved
    assert moved.revision == 1
    assert len(_tasks(ctx).created) - tasks_before == 1
    assert _tasks(ctx).rejected == []
    assert _patch_calls(admin) - patches_before == 1
    assert [entry.kind for entry in moved.history].count("moved") == 1
    assert admin.counters()["notifications_by_state"]["exists"] - delivered_before >= 10


def test_unknown_channels_and_wrong_tokens_are_refused(ctx: PlanningContext, admin: Admin) -> None:
    window = _book(ctx)
    channel = _current_channel(ctx)
    _settle(ctx, admin)
    headers = {
        "X-Goog-Channel-ID": channel.channel_id,
        "X-Goog-Channel-Token": "not-the-token",
        "X-Goog-Resource-ID": channel.resource_id or "",
        "X-Goog-Resource-State": "exists",
        "X-Goog-Message-Number": "99",
    }
    endpoint_url = cast(str, ctx.notifications_url)
    wrong = requests.post(endpoint_url, headers=headers, timeout=5)
    unknown = requests.post(endpoint_url, headers={**headers, "X-Goog-Channel-ID": "someone-else"}, timeout=5)
    anonymous = requests.post(endpoint_url, timeout=5)

    assert (wrong.status_code, unknown.status_code, anonymous.status_code) == (403, 401, 401)
    assert ctx.store.query(channel_records.PENDING) == []
    assert window_records.load(ctx.store, window.window_id) == window


def test_an_expired_sync_token_resyncs_in_full_without_losing_the_move(ctx: PlanningContext, admin: Admin) -> None:
    window = _book(ctx)
    assert window.event_id
    assert window.start
    _settle(ctx, admin)
    before = _current_channel(ctx).sync_token
    admin.call("POST", "sync-tokens/expire", {"email": ALICE})

    new_start = window.start + timedelta(hours=5)
    _move(admin, window.event_id, new_start)
    moved = _wait_for(ctx, window, lambda w: w.revision == 1 and w.state is WindowState.SCHEDULED)
    _settle(ctx, admin)

    assert moved.start == new_start
    after = _current_channel(ctx).sync_token
    assert after
    assert after != before
    requests_seen = admin.call("GET", "requests?limit=1000")["requests"]
    assert any(r["method"] == "calendar.events.list" and r["status"] == 410 for r in requests_seen)


def test_a_move_during_a_channel_renewal_is_not_lost(ctx: PlanningContext, admin: Admin) -> None:
    window = _book(ctx)
    assert window.event_id
    assert window.start
    _settle(ctx, admin)
    old = _current_channel(ctx)
    admin.configure(push_delay_ms=400)  # the move's message is still in flight when the old channel stops

    first = window.start + timedelta(hours=2)
    _move(admin, window.event_id, first)
    ChannelKeeper(renew_before=timedelta(days=30))(ctx, window_records.open_windows(ctx.store), PlanReport())
    new = _current_channel(ctx)
    assert new.channel_id != old.channel_id
    assert new.sync_token == old.sync_token

    moved = _wait_for(ctx, window, lambda w: w.revision == 1 and w.state is WindowState.SCHEDULED)
    assert moved.start == first
    _settle(ctx, admin)

    second = window.start + timedelta(hours=4)
    _move(admin, window.event_id, second)
    again = _wait_for(ctx, window, lambda w: w.revision == 2 and w.state is WindowState.SCHEDULED)
    assert again.start == second
    retired = channel_records.get(ctx.store, old.channel_id)
    assert retired is not None
    assert retired.state is ChannelState.RETIRED
    assert retired.last_message_number >= 2
    stand_in = {c["id"]: c for c in admin.call("GET", "channels")["channels"]}
    assert stand_in[old.channel_id]["stopped"] is True
    assert stand_in[new.channel_id]["stopped"] is False
    user = window_records.users(ctx.store, [window.user_key])[window.user_key]
    assert user["channel_id"] == new.channel_id


@pytest.mark.parametrize("behaviour", [DeadlineBehaviour.KEEP, DeadlineBehaviour.ENFORCE])
def test_a_move_past_the_deadline(
    make_ctx: Callable[..., PlanningContext], admin: Admin, behaviour: DeadlineBehaviour
) -> None:
    ctx = make_ctx(FollowRules(deadline_behaviour=behaviour))
    window = _book(ctx, deadline_days=3)
    assert window.event_id
    late = (window.deadline + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    _move(admin, window.event_id, late)
    after = _wait_for(ctx, window, lambda w: w.revision == 1 and w.state is WindowState.SCHEDULED)
    _settle(ctx, admin)

    kinds = [entry.kind for entry in after.history]
    event = _event(admin, window.event_id)
    assert after.start is not None
    if behaviour is DeadlineBehaviour.KEEP:
        assert (after.start, after.late) == (late, True)
        assert "late" in kinds
    else:
        assert after.start + SLOT <= window.deadline
        assert not after.late
        assert "enforced" in kinds
        assert datetime.fromisoformat(event["start"]["dateTime"]) == after.start
        assert "moved back before the deadline" in event["description"]
    assert window_records.load(ctx.store, window.window_id) == after  # our enforcing patch did not come back


def test_the_planners_text_refresh_is_not_taken_for_a_move(ctx: PlanningContext, admin: Admin) -> None:
    window = _book(ctx)
    _settle(ctx, admin)
    text = {"name": "Disk encryption", "resolution": "Turn on FileVault", "fetched_at": datetime.now(UTC)}
    ctx.store.commit([Write("set", "policies", "8", text)])
    widened = planner._refresh_text(ctx, replace(window, policy_ids=(7, 8)))
    assert widened.event_etag != window.event_etag
    window_records.save(ctx.store, [widened])
    _settle(ctx, admin)

    after = window_records.load(ctx.store, window.window_id)
    assert after is not None
    assert after.revision == 0
    assert after.start == window.start
    assert [t.payload["revision"] for t in _tasks(ctx).pending()] == [0]
