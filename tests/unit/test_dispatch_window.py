"""dispatch_window's use cases on the memory doubles: exactly-once sends, resumes, stale tasks, verification."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from maintenance_windows.adapters.memory_fleet import FleetAction, MemoryFleet
from maintenance_windows.adapters.memory_store import MemoryStore
from maintenance_windows.adapters.memory_tasks import MemoryTaskQueue
from maintenance_windows.auth import AuthError
from maintenance_windows.config.teams import TeamsConfig, parse_teams
from maintenance_windows.domain.failing_policies import HostSighting
from maintenance_windows.domain.fleet_hosts import FleetHost, HostPolicy
from maintenance_windows.domain.remediation import plan_actions
from maintenance_windows.domain.task_schedule import recheck_task_name
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.handlers.dispatch_window import handle_dispatch_window
from maintenance_windows.handlers.http import HttpRequest, HttpResponse
from maintenance_windows.ports.fleet import (
    FleetError,
    FleetPolicy,
    FleetUnavailable,
)
from maintenance_windows.ports.store import Write
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.repository import windows as window_records
from maintenance_windows.repository.claims import ClaimBook, ClaimState
from maintenance_windows.service.dispatch_context import CLAIM_RETENTION, CLAIMS, Claims, DispatchContext

START = datetime(2026, 12, 1, 12, tzinfo=UTC)
END = START + timedelta(minutes=30)
WINDOW_ID = "abc-0003"
TEAMS = {
    "defaults": {
        "actions": [
            {
                "policy_id": 1,
                "actions": [
                    {"type": "script", "script_id": 7},
                    {"type": "mdm_command", "apple_request_type": "RestartDevice"},
                ],
            },
            {"policy_id": 2, "actions": [{"type": "software_install", "software_title_id": 9}]},
        ],
        "verify": {"grace_minutes": 15, "rebook_after_hours": 24, "escalate_after_failed_windows": 3},
    }
}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def sent(fleet: MemoryFleet) -> list[tuple[str, Any]]:
    """What Fleet accepted, in order: scripts and installs as (host, id), MDM commands as (uuid, host uuids)."""
    shapes: dict[str, Callable[[FleetAction], Any]] = {
        "script": lambda action: (action.host_ids[0], action.detail["script_id"]),
        "software_install": lambda action: (action.host_ids[0], action.detail["title_id"]),
        "mdm_command": lambda action: (action.reference, action.detail["host_uuids"]),
    }
    return [(action.kind, shapes[action.kind](action)) for action in fleet.actions]


@dataclass
class Setup:
    ctx: DispatchContext
    fleet: MemoryFleet
    store: MemoryStore
    tasks: MemoryTaskQueue
    clock: Clock

    def deliver(self, purpose: str = "dispatch", revision: int = 1, attempt: int | None = None) -> HttpResponse:
        body: dict[str, Any] = {"window_id": WINDOW_ID, "revision": revision, "purpose": purpose}
        if attempt is not None:
            body["attempt"] = attempt
        return handle_dispatch_window(_request(body), self.ctx, None)

    def window(self) -> Window:
        loaded = window_records.load(self.store, WINDOW_ID)
        assert loaded is not None
        return loaded

    def host_doc(self, host_id: int) -> dict[str, Any]:
        document = self.store.get(host_records.HOSTS, str(host_id))
        assert document is not None
        return document

    def host_status(self, host_id: int) -> str:
        (case,) = [case for case in host_records.all_hosts(self.store) if case.host_id == host_id]
        return case.status.value


def _request(body: Any, headers: Mapping[str, str] | None = None, method: str = "POST") -> HttpRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpRequest(method, dict(headers or {}), {}, raw, "application/json", len(raw))


def fleet_host(
    host_id: int, *, failing: tuple[int, ...] = (1,), passing: tuple[int, ...] = (), **details: Any
) -> FleetHost:
    """A host that last ran its policies ten minutes before the window (Fleet's hourly policy run)."""
    policies = tuple(HostPolicy(p, f"Policy {p}", "fail") for p in failing)
    policies += tuple(HostPolicy(p, f"Policy {p}", "pass") for p in passing)
    host = FleetHost(
        host_id,
        f"uuid-{host_id}",
        f"SN{host_id}",
        "darwin",
        3,
        f"Mac {host_id}",
        policies,
        os_version="macOS 15.3",
        status="online",
        policy_updated_at=START - timedelta(minutes=10),
    )
    return replace(host, **details)


def build(
    hosts: Sequence[FleetHost],
    policy_ids: tuple[int, ...] = (1,),
    teams: TeamsConfig | None = None,
    state: WindowState = WindowState.SCHEDULED,
    task_name: str = "task-dispatch",
) -> Setup:
    store, tasks, clock = MemoryStore(), MemoryTaskQueue(), Clock(START)
    # Hosts check in every 10 s, as Fleet's osquery does by default.
    fleet = MemoryFleet(hosts, clock=clock, checkin_interval=timedelta(seconds=10))
    window = Window(
        window_id=WINDOW_ID,
        user_key="abc",
        user_email="ada@example.com",
        team_id=3,
        host_ids=tuple(h.host_id for h in hosts),
        policy_ids=policy_ids,
        deadline=START + timedelta(days=5),
        created_at=START - timedelta(days=2),
        state=state,
        revision=1,
        start=START,
        end=END,
        task_name=task_name,
    )
    window_records.save(store, [window])
    store.commit([window_records.user_write("abc", open_window_id=WINDOW_ID, next_sequence=3)])
    host_records.record_failures(
        store,
        [HostSighting(host.host_id, policy, START - timedelta(days=2)) for host in hosts for policy in policy_ids],
    )
    store.commit(
        [
            Write(
                "set",
                host_records.HOSTS,
                str(host.host_id),
                {"host_id": host.host_id, "fleet_display_name": host.display_name, "team_id": 3},
            )
            for host in hosts
        ]
    )
    ctx = DispatchContext(store, fleet, tasks, teams or parse_teams(TEAMS), clock)
    return Setup(ctx, fleet, store, tasks, clock)


# -- dispatch ----------------------------------------------------------------------------------------------


def test_dispatch_sends_the_configured_actions_and_schedules_verification() -> None:
    setup = build([fleet_host(1), fleet_host(2, failing=(1, 2))], policy_ids=(1, 2))
    response = setup.deliver()
    assert response.status == 200, response.body
    assert response.body["status"] == "dispatched"
    assert response.body["actions_sent"] == 5
    kinds = [(kind, detail) for kind, detail in sent(setup.fleet) if kind != "mdm_command"]
    assert kinds == [("script", (1, 7)), ("script", (2, 7)), ("software_install", (2, 9))]
    assert [detail[1] for kind, detail in sent(setup.fleet) if kind == "mdm_command"] == [("uuid-1",), ("uuid-2",)]
    window = setup.window()
    assert window.state is WindowState.DISPATCHED
    assert [entry.kind for entry in window.history].count("action_sent") == 5
    (verify,) = setup.tasks.pending()
    assert verify.at == END + timedelta(minutes=15)
    assert verify.payload == {"window_id": WINDOW_ID, "revision": 1, "purpose": "verify", "attempt": 0}
    assert window.verify_task_name == verify.name


def test_three_deliveries_send_one_set_of_actions() -> None:
    setup = build([fleet_host(1)])
    answers = [setup.deliver() for _ in range(3)]
    assert [a.status for a in answers] == [200, 200, 200]
    assert [a.body["status"] for a in answers] == ["dispatched", "ignored", "ignored"]
    assert [kind for kind, _ in sent(setup.fleet)] == ["script", "mdm_command"]
    assert len(setup.tasks.created) == 1


def test_fleet_outage_mid_dispatch_then_retry_sends_only_the_rest() -> None:
    setup = build([fleet_host(1), fleet_host(2)])
    setup.fleet.fail_next("run_mdm_command", FleetUnavailable("Fleet answered 502", status=502))
    first = setup.deliver()
    assert first.status == 503
    assert setup.window().state is WindowState.SCHEDULED
    assert [kind for kind, _ in sent(setup.fleet)] == ["script"]  # host 1's restart failed; host 2 not reached
    second = setup.deliver()
    assert second.status == 200
    assert second.body["actions_sent"] == 3
    assert second.body["actions_already_sent"] == 1
    assert sorted(target for kind, target in sent(setup.fleet) if kind == "script") == [(1, 7), (2, 7)]
    assert sorted(kind for kind, _ in sent(setup.fleet)) == ["mdm_command", "mdm_command", "script", "script"]
    assert [e.kind for e in setup.window().history].count("action_already_sent") == 1


def test_get_host_outage_answers_503_and_sends_nothing() -> None:
    setup = build([fleet_host(1)])
    setup.fleet.fail_next("get_host", FleetUnavailable("timeout"))
    assert setup.deliver().status == 503
    assert sent(setup.fleet) == []
    assert setup.deliver().status == 200


def test_a_fresh_claim_held_elsewhere_answers_503_and_a_stale_one_is_taken_over() -> None:
    setup = build([fleet_host(1)])
    planned = plan_actions(setup.window(), [fleet_host(1)], setup.ctx.teams.defaults.actions)
    restart = planned[1]
    # Another instance sent the restart and died before recording it.
    setup.fleet.run_mdm_command(restart.command_base64(), [restart.host_uuid])
    sent_before = len(setup.fleet.actions)
    crashed = Claims(setup.store, setup.ctx.options.claim_lease).acquire(restart.claim_id, START, {"kind": "action"})
    assert crashed.state is ClaimState.ACQUIRED
    busy = setup.deliver()
    assert busy.status == 503
    assert busy.body["claims"] == [restart.key]
    setup.clock.now = START + timedelta(minutes=11)
    done = setup.deliver()
    assert done.status == 200
    # Fleet's 409 for the known CommandUUID counts as sent: the restart is queued exactly once.
    assert [kind for kind, _ in sent(setup.fleet)[sent_before:]] == ["script"]
    claim = setup.store.get(CLAIMS, restart.claim_id)
    assert claim is not None
    assert (claim["status"], claim["result"], claim["generation"]) == ("finished", "sent", 1)
    # The crashed instance, should it come back, can no longer touch its successor's claim.
    assert crashed.holder is not None
    assert not ClaimBook(setup.store, CLAIMS, retention=CLAIM_RETENTION).finish(crashed.holder, result="failed")


def test_stale_revision_and_wrong_state_do_nothing() -> None:
    setup = build([fleet_host(1)])
    stale = setup.deliver(revision=0)
    assert (stale.status, stale.body["status"]) == (200, "stale")
    cancelled = build([fleet_host(1)], state=WindowState.CANCELLED)
    ignored = cancelled.deliver()
    assert (ignored.status, ignored.body["status"]) == (200, "ignored")
    missing = handle_dispatch_window(
        _request({"window_id": "nope", "revision": 1, "purpose": "dispatch"}), setup.ctx, None
    )
    assert missing.body["status"] == "ignored"
    assert sent(setup.fleet) == []
    assert sent(cancelled.fleet) == []
    assert setup.store.stats.writes == cancelled.store.stats.writes


def test_a_dispatch_task_days_before_its_window_is_a_harmless_no_op(caplog: pytest.LogCaptureFixture) -> None:
    """calendar_notifications is public and can enqueue: a task is not trusted to come at the start."""
    setup = build([fleet_host(1)])
    setup.clock.now = START - timedelta(days=3)
    writes = setup.store.stats.writes
    with caplog.at_level(logging.WARNING):
        response = setup.deliver()
    assert (response.status, response.body["status"]) == (200, "early")
    assert START.isoformat() in response.body["why"]
    assert sent(setup.fleet) == []
    assert setup.fleet.webhooks == []
    assert setup.tasks.created == []
    assert setup.store.stats.writes == writes
    assert setup.store.get(CLAIMS, "anything") is None
    assert setup.window().state is WindowState.SCHEDULED
    assert any(getattr(record, "event", None) == "task_early" for record in caplog.records)
    setup.clock.now = START  # the real delivery still comes at the start, and acts
    assert setup.deliver().body["status"] == "dispatched"


@pytest.mark.parametrize(
    ("offset", "status"),
    [
        (-timedelta(minutes=2, seconds=1), "early"),
        (-timedelta(minutes=2), "dispatched"),  # clock skew between the queue and the function
        (timedelta(hours=6), "dispatched"),  # late deliveries (retries, an outage) still act
    ],
)
def test_the_early_tolerance_is_two_minutes(offset: timedelta, status: str) -> None:
    setup = build([fleet_host(1)])
    setup.clock.now = START + offset
    assert setup.deliver().body["status"] == status


def test_the_due_check_comes_after_the_revision_check() -> None:
    setup = build([fleet_host(1)])
    setup.clock.now = START - timedelta(days=3)
    assert setup.deliver(revision=0).body["status"] == "stale"


def test_passing_hosts_get_nothing_and_their_cases_close() -> None:
    setup = build([fleet_host(1), fleet_host(2, failing=(), passing=(1,))])
    response = setup.deliver()
    assert response.body["hosts_passing"] == 1
    assert {detail[0] for kind, detail in sent(setup.fleet) if kind == "script"} == {1}
    assert setup.host_status(2) == "closed"
    assert setup.host_status(1) == "failing"


def test_every_host_passing_verifies_the_window_at_once_and_frees_the_user() -> None:
    setup = build([fleet_host(1, failing=(), passing=(1,))])
    response = setup.deliver()
    assert response.body["status"] == "verified"
    assert sent(setup.fleet) == []
    assert setup.tasks.pending() == []
    assert setup.store.get("users", "abc") == {"open_window_id": None, "next_sequence": 4}


def test_an_unknown_script_is_permanent_and_the_host_needs_attention_with_fleets_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    setup = build([fleet_host(1)])
    setup.fleet.add_script(8, "Other script")  # Fleet knows scripts, but not script 7
    with caplog.at_level(logging.ERROR):
        response = setup.deliver()
    assert response.status == 200
    assert response.body["actions_failed"] == 1
    assert response.body["actions_sent"] == 1
    assert [e.kind for e in setup.window().history].count("action_failed") == 1
    case = setup.host_doc(1)
    assert case["needs_attention"] is True
    assert 'No script exists for the provided "script_id".' in case["attention_reason"]
    assert case["attention_reason"].startswith("Fleet refused the fix for “Policy 1” (host 1 policy 1: script 7)")
    assert case["blocked_policies"]["1"]["status"] == 404
    assert [getattr(r, "event", "") for r in caplog.records].count("host_needs_attention") == 1
    setup.deliver()  # a duplicate delivery does not retry a refused action
    assert [kind for kind, _ in sent(setup.fleet)] == ["mdm_command"]


@pytest.mark.parametrize("status", [402, 412, 422])
def test_licence_mdm_and_validation_refusals_are_permanent(status: int) -> None:
    setup = build([fleet_host(1)])
    setup.fleet.fail_next("run_mdm_command", FleetError(f"Fleet answered {status}: refused", status=status))
    response = setup.deliver()
    assert response.body["actions_failed"] == 1
    assert setup.host_doc(1)["blocked_policies"]["1"]["status"] == status


def test_a_resent_script_and_install_are_already_sent_not_refused() -> None:
    setup = build([fleet_host(1, failing=(1, 2))], policy_ids=(1, 2))
    planned = plan_actions(setup.window(), [setup.fleet.get_host(1)], setup.ctx.teams.defaults.actions)
    script, install = planned[0], next(p for p in planned if p.action.type == "software_install")
    # Another delivery sent both and died before recording them; their claims have outlived the lease.
    setup.fleet.run_script(1, script_id=7)
    setup.fleet.install_software(1, 9)
    for stale in (script, install):
        setup.store.create(
            CLAIMS, stale.claim_id, {"status": "claimed", "claimed_at": START - timedelta(minutes=11), "generation": 0}
        )
    response = setup.deliver()
    # Fleet answers 409 "already queued" and 400 "pending install": both count as sent, nothing is blocked.
    assert (response.body["actions_already_sent"], response.body["actions_sent"], response.body["actions_failed"]) == (
        2,
        1,
        0,
    )
    assert [kind for kind, _ in sent(setup.fleet)].count("script") == 1
    assert "needs_attention" not in setup.host_doc(1)


def test_a_delivery_stops_before_cloud_tasks_deadline_and_the_retry_sends_the_rest() -> None:
    setup = build([fleet_host(1), fleet_host(2)])

    class SlowFleet(MemoryFleet):
        """Fleet taking 5 minutes per script (retried 429s): two scripts spend the 8-minute budget."""

        def run_script(self, host_id: int, **kwargs: Any) -> Any:
            setup.clock.now += timedelta(minutes=5)
            return super().run_script(host_id, **kwargs)

    slow = SlowFleet([fleet_host(1), fleet_host(2)], clock=setup.clock, checkin_interval=timedelta(seconds=10))
    setup.ctx.fleet = slow
    first = setup.deliver()
    assert first.status == 503
    assert "deadline" in first.body["error"]
    assert [a.kind for a in slow.actions] == ["script", "mdm_command", "script"]
    second = setup.deliver()
    assert second.status == 200
    assert second.body["actions_sent"] == 1
    assert second.body["actions_already_sent"] == 3


def test_compatible_webhook_lists_failing_calendar_policies_once_the_host_reports(fleet_fixtures: str) -> None:
    teams = parse_teams({**TEAMS, "defaults": {**TEAMS["defaults"], "compatible_webhook_url": "https://t.example/w"}})
    setup = build(
        [fleet_host(1, failing=(1, 2)), fleet_host(2, failing=(), passing=(1,))], policy_ids=(1, 2), teams=teams
    )
    setup.ctx.catalog = setup.fleet
    setup.fleet.add_policy(FleetPolicy(1, "Policy 1", 3, calendar_events_enabled=True))
    setup.fleet.add_policy(FleetPolicy(2, "Policy 2", 3))  # not a calendar policy: Fleet leaves it out
    dispatched = setup.deliver()
    assert dispatched.body["webhooks_awaited"] == 1
    assert setup.fleet.refetches == [1]
    assert setup.fleet.webhooks == []  # Fleet sends it when the host reports, not at the window's start
    poll = [t for t in setup.tasks.pending() if t.payload["purpose"] == "webhook"]
    assert [t.at for t in poll] == [START + timedelta(seconds=60)]
    setup.clock.now = START + timedelta(seconds=60)
    setup.fleet.fail_next("post_calendar_webhook", FleetUnavailable("Fleet answered 429", status=429))
    assert setup.deliver("webhook", attempt=0).body["waiting"] == 1  # a 429: retried, as Fleet does
    setup.clock.now += timedelta(seconds=60)
    assert setup.deliver("webhook", attempt=1).body["sent"] == 1
    assert setup.deliver("webhook", attempt=1).body == {
        "status": "webhook",
        "window_id": WINDOW_ID,
        "sent": 0,
        "waiting": 0,
        "finished_without_webhook": 0,
    }
    assert len(setup.fleet.webhooks) == 1
    url, payload = setup.fleet.webhooks[0]
    with open(f"{fleet_fixtures}/calendar_webhook.json") as handle:
        example = json.load(handle)
    assert url == "https://t.example/w"
    assert set(payload) == set(example)
    assert payload["failing_policies"] == [{"id": 1, "name": "Policy 1"}]
    assert (payload["host_id"], payload["host_serial_number"], payload["host_display_name"]) == (1, "SN1", "Mac 1")


def test_no_webhook_for_a_host_that_stays_offline_through_the_window() -> None:
    teams = parse_teams({**TEAMS, "defaults": {**TEAMS["defaults"], "compatible_webhook_url": "https://t.example/w"}})
    setup = build([fleet_host(1, status="offline")], teams=teams)
    setup.store.commit([Write("set", host_records.POLICIES, "1", {"policy_id": 1, "calendar_events_enabled": True})])
    setup.deliver()
    setup.clock.now = START + timedelta(minutes=1)
    assert setup.deliver("webhook", attempt=0).body["waiting"] == 1
    setup.clock.now = END + timedelta(minutes=6)  # Fleet: "results came too late"
    assert setup.deliver("webhook", attempt=1).body["finished_without_webhook"] == 1
    assert setup.fleet.webhooks == []
    assert not [t for t in setup.tasks.pending() if t.name.endswith("webhook2")]


def test_a_failing_host_whose_calendar_policies_pass_gets_no_webhook() -> None:
    teams = parse_teams({**TEAMS, "defaults": {**TEAMS["defaults"], "compatible_webhook_url": "https://t.example/w"}})
    setup = build([fleet_host(1, failing=(1,))], teams=teams)  # policy 1 fails but is no calendar policy
    setup.deliver()
    setup.clock.now = START + timedelta(minutes=1)
    assert setup.deliver("webhook", attempt=0).body["finished_without_webhook"] == 1
    assert setup.fleet.webhooks == []


# -- recheck -----------------------------------------------------------------------------------------------


def rechecking(attempt: int = 0) -> Setup:
    """A window whose current task is its `attempt`-th re-check (booked beyond the queue's horizon)."""
    return build([fleet_host(1)], task_name=recheck_task_name(WINDOW_ID, 1, attempt))


def test_recheck_schedules_the_dispatch_once_within_the_horizon() -> None:
    setup = rechecking()
    setup.clock.now = START - timedelta(hours=100)
    response = setup.deliver("recheck")
    (task,) = setup.tasks.pending()
    assert response.body == {"status": "rescheduled", "task": task.name, "created": True, "purpose": "dispatch"}
    assert task.at == START
    assert task.payload["purpose"] == "dispatch"
    assert setup.window().task_name == task.name
    writes = setup.store.stats.writes
    again = setup.deliver("recheck")  # a copy: its work is done, so it neither writes nor enqueues
    assert (again.status, again.body["status"]) == (200, "ignored")
    assert setup.store.stats.writes == writes
    assert len(setup.tasks.created) == 1


def test_recheck_far_ahead_chains_another_recheck_under_a_new_name() -> None:
    setup = rechecking()
    setup.clock.now = START - timedelta(hours=1000)
    setup.deliver("recheck", attempt=0)
    (task,) = setup.tasks.pending()
    assert task.payload == {"window_id": WINDOW_ID, "revision": 1, "purpose": "recheck", "attempt": 1}
    assert task.name.endswith("recheck1")
    assert setup.window().task_name == task.name
    assert setup.deliver("recheck", attempt=1).body["status"] == "rescheduled"  # the chained one acts


def test_a_recheck_that_is_not_the_windows_current_task_does_nothing() -> None:
    """A forged re-check (calendar_notifications can enqueue) for a window already within the horizon."""
    setup = build([fleet_host(1)])  # its task is the dispatch task
    setup.clock.now = START - timedelta(days=3)
    writes = setup.store.stats.writes
    response = setup.deliver("recheck", attempt=7)
    assert (response.status, response.body["status"]) == (200, "ignored")
    assert setup.store.stats.writes == writes
    assert setup.tasks.created == []


# -- verify ------------------------------------------------------------------------------------------------


def dispatched(setup: Setup) -> None:
    assert setup.deliver().body["status"] == "dispatched"
    setup.clock.now = END + timedelta(minutes=15)


def test_verify_trusts_only_results_reported_after_the_fix() -> None:
    setup = build([fleet_host(1)])
    dispatched(setup)
    setup.fleet.pass_at_next_refetch(1)
    first = setup.deliver("verify", attempt=0)
    # Fleet still holds the host's run from before the window: not evidence. Verification asks for a report.
    assert first.body["status"] == "recheck"
    assert first.body["waiting_hosts"] == [1]
    assert setup.fleet.refetches == [1]
    assert setup.window().history[-1].kind == "verify_recheck"
    setup.clock.now += timedelta(minutes=5)  # the host checked in since and ran its policies
    response = setup.deliver("verify", attempt=1)
    assert response.body["status"] == "verified"
    assert setup.window().state is WindowState.VERIFIED
    assert setup.host_status(1) == "closed"
    assert setup.store.get("users", "abc") == {"open_window_id": None, "next_sequence": 4}
    assert setup.deliver("verify", attempt=1).body["status"] == "ignored"


def test_the_first_read_right_after_a_refetch_is_not_trusted() -> None:
    setup = build([fleet_host(1)])
    dispatched(setup)
    setup.fleet.refetch(1)  # a refetch is pending: Fleet shows the previous run
    setup.fleet.set_policy(1, 1, "pass")
    assert setup.deliver("verify", attempt=0).body["status"] == "recheck"
    assert setup.fleet.refetches == [1]  # none asked again: one is owed already


def test_verify_rechecks_twice_then_fails_and_escalates_on_the_third_failed_window(
    caplog: pytest.LogCaptureFixture,
) -> None:
    setup = build([fleet_host(1)])
    setup.store.commit([Write("merge", host_records.HOSTS, "1", {"failed_windows": 2})])
    dispatched(setup)
    for attempt in (0, 1):
        response = setup.deliver("verify", attempt=attempt)
        assert response.body["status"] == "recheck"
        assert response.body["attempt"] == attempt + 1
        recheck = setup.tasks.pending()[-1]
        assert recheck.at == setup.clock.now + timedelta(minutes=5)
        assert recheck.payload["attempt"] == attempt + 1
        setup.clock.now = recheck.at
    with caplog.at_level(logging.WARNING):
        response = setup.deliver("verify", attempt=2)
    assert response.body == {
        "status": "failed",
        "window_id": WINDOW_ID,
        "failing_hosts": [1],
        "escalated_hosts": [1],
        "verdicts": {"1": "still failing “Policy 1”"},
    }
    host = setup.host_doc(1)
    assert host["failed_windows"] == 3
    assert host["needs_attention"] is True
    assert host["attention_reason"] == "3 maintenance windows did not fix it: still failing “Policy 1”"
    assert host["rebook_after"] == setup.clock.now + timedelta(hours=24)
    assert host["last_failure_note"].startswith("Your last maintenance window did not fix “Policy 1”")
    assert setup.window().state is WindowState.FAILED
    assert setup.store.get("users", "abc") == {"open_window_id": None, "next_sequence": 4}
    assert [r.event for r in caplog.records if hasattr(r, "event")] == ["window_failed", "host_escalated"]
    # A repeated delivery counts nothing twice.
    assert setup.deliver("verify", attempt=2).body["status"] == "ignored"
    assert setup.host_doc(1)["failed_windows"] == 3


def test_the_recheck_schedule_comes_from_the_team_rules() -> None:
    teams = parse_teams(
        {**TEAMS, "defaults": {**TEAMS["defaults"], "verify": {"recheck_minutes": 9, "max_rechecks": 1}}}
    )
    setup = build([fleet_host(1)], teams=teams)
    dispatched(setup)
    assert setup.deliver("verify", attempt=0).body["status"] == "recheck"
    assert setup.tasks.pending()[-1].at == setup.clock.now + timedelta(minutes=9)
    assert setup.deliver("verify", attempt=1).body["status"] == "failed"


def test_first_failed_window_does_not_escalate() -> None:
    setup = build([fleet_host(1)])
    dispatched(setup)
    response = setup.deliver("verify", attempt=2)
    assert response.body["escalated_hosts"] == []
    assert response.body["verdicts"] == {"1": "no fresh result (the host is online and has not reported since the fix)"}
    assert setup.host_doc(1)["failed_windows"] == 1
    assert "needs_attention" not in setup.host_doc(1)
    assert setup.host_doc(1)["last_failure_note"].startswith("Your device did not report back")


def test_an_offline_host_is_waited_for_and_verified_once_it_comes_back() -> None:
    setup = build([fleet_host(1)])
    dispatched(setup)
    setup.fleet.set_online(1, False)
    setup.fleet.pass_at_next_refetch(1)  # the fix ran on the device before it went away
    first = setup.deliver("verify", attempt=0)
    assert first.body["status"] == "waiting"
    assert first.body["offline_hosts"] == [1]
    note = setup.window().history[-1]
    assert note.kind == "verify_waiting"
    assert note.detail.startswith("waiting for the device to come online: Mac 1")
    assert setup.tasks.pending()[-1].at == setup.clock.now + timedelta(minutes=60)
    setup.clock.now += timedelta(minutes=60)
    assert setup.deliver("verify", attempt=1).body["status"] == "waiting"
    setup.fleet.set_online(1, True)  # it checks in at once and answers the refetch asked for meanwhile
    setup.clock.now += timedelta(minutes=60)
    assert setup.deliver("verify", attempt=2).body["status"] == "verified"
    assert setup.window().state is WindowState.VERIFIED


def test_an_offline_host_is_decided_after_the_teams_limit() -> None:
    teams = parse_teams({**TEAMS, "defaults": {**TEAMS["defaults"], "verify": {"offline_wait_hours": 2}}})
    setup = build([fleet_host(1, status="offline")], teams=teams)
    dispatched(setup)
    assert setup.deliver("verify", attempt=0).body["status"] == "waiting"
    setup.clock.now += timedelta(hours=2)
    response = setup.deliver("verify", attempt=1)
    assert response.body["status"] == "failed"
    assert response.body["verdicts"]["1"].startswith("no fresh result (the host is offline")


def test_verify_outage_is_retried() -> None:
    setup = build([fleet_host(1)])
    dispatched(setup)
    setup.fleet.fail_next("get_host", FleetUnavailable("503"))
    assert setup.deliver("verify", attempt=0).status == 503
    assert setup.deliver("verify", attempt=0).body["status"] == "recheck"


# -- HTTP surface ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field_name"),
    [
        (b"not json", "JSON"),
        ({"revision": 1, "purpose": "dispatch"}, "window_id"),
        ({"window_id": "w", "revision": -1, "purpose": "dispatch"}, "revision"),
        ({"window_id": "w", "revision": 1, "purpose": "explode"}, "purpose"),
        ({"window_id": "w", "revision": 1, "purpose": "dispatch", "extra": 1}, "extra"),
        ({"window_id": "a/b", "revision": 1, "purpose": "dispatch"}, "window_id"),
        ({"window_id": "..", "revision": 1, "purpose": "dispatch"}, "window_id"),
        ({"window_id": "w", "revision": "1", "purpose": "dispatch"}, "revision"),
        ({"window_id": "w", "revision": 1.0, "purpose": "dispatch"}, "revision"),
        ({"window_id": "w", "revision": 2**63, "purpose": "dispatch"}, "revision"),
        (b'{"window_id": "w", "revision": 1' + b"0" * 5000 + b', "purpose": "dispatch"}', "number"),
        (b'{"window_id": "\\ud800", "revision": 1, "purpose": "dispatch"}', "surrogate"),
        (b"[" * 5000 + b"]" * 5000, "JSON"),
        (b'{"window_id": "w", "revision": 1, "purpose": "dispatch", "x": ' + b"[" * 40 + b"]" * 40 + b"}", "deeper"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(body: Any, field_name: str) -> None:
    setup = build([fleet_host(1)])
    response = handle_dispatch_window(_request(body), setup.ctx, None)
    assert response.status == 400
    assert field_name in response.body["error"]


class Refuse:
    def __init__(self, status: int, reason: str) -> None:
        self.error = AuthError(status, reason)
        self.headers: list[str | None] = []

    def verify(self, authorization_header: str | None, /) -> object:
        self.headers.append(authorization_header)
        raise self.error


def test_refused_callers_get_their_status_and_nothing_runs() -> None:
    setup = build([fleet_host(1)])
    verifier = Refuse(403, "caller not allowed")
    body = {"window_id": WINDOW_ID, "revision": 1, "purpose": "dispatch"}
    response = handle_dispatch_window(_request(body, {"authorization": "Bearer x"}), setup.ctx, verifier)
    assert (response.status, response.body) == (403, {"error": "caller not allowed"})
    assert verifier.headers == ["Bearer x"]
    assert sent(setup.fleet) == []
    assert handle_dispatch_window(_request(body, method="GET"), setup.ctx, None).status == 405
