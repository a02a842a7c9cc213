"""The verification decision and what a failure leaves on a host (domain/verification.py): pure, no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from maintenance_windows.domain.capacity import Capacity
from maintenance_windows.domain.fleet_hosts import FleetHost, HostPolicy
from maintenance_windows.domain.rules import VerifyRules
from maintenance_windows.domain.verification import (
    HostReport,
    HostState,
    Verdict,
    decide,
    host_failure,
    host_report,
    newly_passing,
)
from maintenance_windows.domain.windows import Window, WindowState

NOW = datetime(2031, 3, 4, 10, 0, tzinfo=UTC)


def window(policy_ids: tuple[int, ...] = (1, 2), **changes: object) -> Window:
    base = Window(
        window_id="w-0001",
        user_key="u",
        user_email="u@acme.example",
        team_id=3,
        host_ids=(1, 2),
        policy_ids=policy_ids,
        deadline=NOW + timedelta(days=5),
        created_at=NOW - timedelta(days=1),
        state=WindowState.DISPATCHED,
        start=NOW - timedelta(hours=1),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def host(host_id: int, **responses: str) -> FleetHost:
    policies = tuple(HostPolicy(int(p[1:]), f"Policy {p[1:]}", r) for p, r in sorted(responses.items()))
    return FleetHost(host_id, f"uuid-{host_id}", f"SN{host_id}", "darwin", 3, f"Mac {host_id}", policies)


FIXED_AT = NOW - timedelta(minutes=50)
FRESH = NOW - timedelta(minutes=1)
RULES = VerifyRules()
FIRST_LOOK = NOW


def reported(
    host_id: int,
    *,
    at: datetime | None = FRESH,
    status: str = "online",
    refetch: bool = False,
    os_version: str = "macOS 26.0",
    **responses: str,
) -> FleetHost:
    return replace(
        host(host_id, **responses),
        policy_updated_at=at,
        status=status,
        refetch_requested=refetch,
        os_version=os_version,
    )


def reports(*hosts: FleetHost, targets: dict[int, str] | None = None) -> list[HostReport]:
    return [host_report(window(), h, FIXED_AT, targets) for h in hosts]


@pytest.mark.parametrize(
    ("attempt", "verdict"), [(0, Verdict.RECHECK), (1, Verdict.RECHECK), (2, Verdict.FAILED), (5, Verdict.FAILED)]
)
def test_a_host_still_failing_is_looked_at_again_until_the_rechecks_run_out(attempt: int, verdict: Verdict) -> None:
    found = reports(reported(1, p1="pass"), reported(2, p1="pass", p2="fail"))
    decision = decide(found, attempt, RULES, FIRST_LOOK, NOW)
    assert decision.verdict is verdict
    assert [r.host.host_id for r in decision.unresolved] == [2]
    if verdict is Verdict.RECHECK:
        assert decision.delay == timedelta(minutes=RULES.recheck_minutes)


def test_the_recheck_schedule_is_the_teams() -> None:
    found = reports(reported(1, p1="fail"))
    rules = VerifyRules(recheck_minutes=11, max_rechecks=4)
    assert decide(found, 3, rules, FIRST_LOOK, NOW).delay == timedelta(minutes=11)
    assert decide(found, 4, rules, FIRST_LOOK, NOW).verdict is Verdict.FAILED


def test_only_results_newer_than_the_fix_with_no_refetch_owed_are_trusted() -> None:
    before_the_fix = reported(1, at=FIXED_AT - timedelta(minutes=1), p1="pass", p2="pass")
    refetch_owed = reported(1, refetch=True, p1="pass", p2="pass")
    never_ran = reported(1, at=None, p1="pass", p2="pass")
    fresh = reported(1, p1="pass", p2="pass")
    states = [r.state for r in reports(before_the_fix, refetch_owed, never_ran, fresh)]
    assert states == [HostState.WAITING, HostState.WAITING, HostState.WAITING, HostState.FIXED]
    assert decide(reports(refetch_owed), 0, RULES, FIRST_LOOK, NOW).verdict is Verdict.RECHECK


def test_an_offline_host_is_waited_for_up_to_the_teams_limit_then_the_window_is_decided() -> None:
    offline = reports(reported(1, p1="pass", p2="pass"), reported(2, at=None, status="offline", p1="fail"))
    assert offline[1].state is HostState.OFFLINE
    waiting = decide(offline, 0, RULES, FIRST_LOOK, NOW)
    assert (waiting.verdict, waiting.delay) == (Verdict.WAIT_OFFLINE, timedelta(minutes=RULES.offline_recheck_minutes))
    assert waiting.decide_by == FIRST_LOOK + timedelta(hours=72)
    assert [r.host.host_id for r in waiting.offline] == [2]
    near_the_end = decide(offline, 60, RULES, FIRST_LOOK, FIRST_LOOK + timedelta(hours=71, minutes=50))
    assert near_the_end.delay == timedelta(minutes=10)  # the last look falls on the limit, not after it
    assert decide(offline, 61, RULES, FIRST_LOOK, FIRST_LOOK + timedelta(hours=72)).verdict is Verdict.FAILED
    assert offline[1].verdict({}) == "no fresh result (the host is offline and has not reported since the fix)"


def test_an_online_host_without_a_report_is_rechecked_then_has_no_fresh_result() -> None:
    silent = reports(reported(1, at=None, p1="pass"))
    assert decide(silent, 0, RULES, FIRST_LOOK, NOW).verdict is Verdict.RECHECK
    final = decide(silent, 2, RULES, FIRST_LOOK, NOW)
    assert final.verdict is Verdict.FAILED
    assert final.reports[0].verdict({}).startswith("no fresh result (the host is online")


def test_an_os_update_policy_goes_by_the_reported_os_version() -> None:
    targets = {1: "27.1"}
    behind = reports(reported(1, os_version="macOS 27.0", p1="fail", p2="pass"), targets=targets)[0]
    updated = reports(reported(1, os_version="macOS 27.1", p1="fail", p2="pass"), targets=targets)[0]
    assert (behind.state, behind.failing) == (HostState.FAILING, (1,))
    assert behind.verdict({1: "macOS up to date"}) == "still failing “macOS up to date”"
    # Fleet may still hold the policy's old result: the version the host reports decides.
    assert (updated.state, updated.passing) == (HostState.FIXED, (1, 2))


def test_policies_outside_the_window_do_not_count() -> None:
    assert (
        decide(reports(reported(1, p1="pass", p9="fail"), reported(2, p2="pass")), 0, RULES, FIRST_LOOK, NOW).verdict
        is Verdict.VERIFIED
    )
    assert decide([], 2, RULES, FIRST_LOOK, NOW).verdict is Verdict.VERIFIED  # every host gone from Fleet


def test_a_failure_names_what_was_not_fixed_and_escalates_at_the_threshold() -> None:
    rules = VerifyRules(rebook_after_hours=6, escalate_after_failed_windows=3)
    failing = reports(reported(2, p1="fail", p2="fail", p7="fail"))[0]
    first = host_failure(0, window(), failing, rules, NOW)
    assert (first.failed_windows, first.rebook_after, first.window_id, first.needs_attention) == (
        1,
        NOW + timedelta(hours=6),
        "w-0001",
        False,
    )
    assert first.note == "Your last maintenance window did not fix “Policy 1” and “Policy 2”, so this is a new attempt."
    third = host_failure(2, window(), failing, rules, NOW)
    assert third.needs_attention is True
    assert third.attention_reason == ("3 maintenance windows did not fix it: still failing “Policy 1”, “Policy 2”")
    silent = host_failure(0, window(), reports(reported(2, at=None, p1="fail"))[0], rules, NOW)
    assert silent.note.startswith("Your device did not report back after your last maintenance window")


def test_a_policy_unknown_to_fleet_is_named_by_its_number() -> None:
    unnamed = replace(FleetHost(2, "u", "s", "darwin", 3, "Mac", (HostPolicy(1, "", "fail"),)), policy_updated_at=FRESH)
    report = host_report(window(policy_ids=(1,)), unnamed, FIXED_AT)
    assert "“policy 1”" in host_failure(0, window(policy_ids=(1,)), report, VerifyRules(), NOW).note


def test_newly_passing_keeps_the_windows_policies_the_case_still_counts() -> None:
    fresh = reports(reported(1, p1="pass", p2="pass", p3="pass"))[0]
    assert newly_passing(window(), fresh, failing_before=(1, 3)) == {1}
    assert newly_passing(window(), reports(reported(1, p1="fail", p2=""))[0], failing_before=(1, 2)) == set()
    stale = reports(reported(1, at=FIXED_AT - timedelta(hours=1), p1="pass"))[0]
    assert newly_passing(window(), stale, failing_before=(1,)) == set()  # a stale read closes nothing


def test_capacity_counts_booked_windows_per_team_and_start() -> None:
    start = NOW + timedelta(days=1)
    windows = [
        window(state=WindowState.SCHEDULED, start=start),
        window(state=WindowState.PLANNED, start=start),
        window(state=WindowState.SCHEDULED, start=start, team_id=4),
        window(state=WindowState.CANCELLED, start=start),
        window(state=WindowState.NEW, start=None),
    ]
    capacity = Capacity.of(windows)
    assert capacity.taken(3) == {start: 2}
    assert capacity.taken(4) == {start: 1}
    assert capacity.taken(None) == {}
    capacity.add(window(state=WindowState.PLANNED, start=start, team_id=None))
    assert capacity.taken(None) == {start: 1}
