"""The verification decision and what a failure leaves on a host (domain/verification.py): pure, no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from maintenance_windows.domain.capacity import Capacity
from maintenance_windows.domain.fleet_hosts import FleetHost, HostPolicy
from maintenance_windows.domain.rules import VerifyRules
from maintenance_windows.domain.verification import Verdict, decide, host_failure, newly_passing
from maintenance_windows.domain.windows import Window, WindowState

NOW = datetime(2031, 3, 4, 10, 0, tzinfo=UTC)


def window(policy_ids: tuple[int, ...] = (1, 2), **changes: object) -> Window:
    base = Window(window_id="w-0001", user_key="u", user_email="u@acme.example", team_id=3, host_ids=(1, 2),
                  policy_ids=policy_ids, deadline=NOW + timedelta(days=5), created_at=NOW - timedelta(days=1),
                  state=WindowState.DISPATCHED, start=NOW - timedelta(hours=1))  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def host(host_id: int, **responses: str) -> FleetHost:
    policies = tuple(HostPolicy(int(p[1:]), f"Policy {p[1:]}", r) for p, r in sorted(responses.items()))
    return FleetHost(host_id, f"uuid-{host_id}", f"SN{host_id}", "darwin", 3, f"Mac {host_id}", policies)


@pytest.mark.parametrize(
    ("attempt", "verdict"), [(0, Verdict.RECHECK), (1, Verdict.RECHECK), (2, Verdict.FAILED), (5, Verdict.FAILED)]
)
def test_a_host_still_failing_is_looked_at_again_until_the_rechecks_run_out(attempt: int, verdict: Verdict) -> None:
    hosts = [host(1, p1="pass"), host(2, p1="pass", p2="fail")]
    decision = decide(window(), hosts, attempt, max_rechecks=2)
    assert decision.verdict is verdict and [h.host_id for h in decision.still_failing] == [2]


def test_policies_outside_the_window_do_not_count() -> None:
    hosts = [host(1, p1="pass", p9="fail"), host(2, p2="pass")]
    assert decide(window(), hosts, 0, max_rechecks=2).verdict is Verdict.VERIFIED
    assert decide(window(), [], 2, max_rechecks=2).verdict is Verdict.VERIFIED  # every host gone from Fleet


def test_a_failure_names_what_was_not_fixed_and_escalates_at_the_threshold() -> None:
    rules = VerifyRules(rebook_after_hours=6, escalate_after_failed_windows=3)
    failing = host(2, p1="fail", p2="fail", p7="fail")
    first = host_failure(0, window(), failing, rules, NOW)
    assert (first.failed_windows, first.rebook_after, first.window_id, first.needs_attention) == (
        1, NOW + timedelta(hours=6), "w-0001", False,
    )  # fmt: skip
    assert first.note == "Your last maintenance window did not fix “Policy 1” and “Policy 2”, so this is a new attempt."
    assert host_failure(2, window(), failing, rules, NOW).needs_attention is True


def test_a_policy_unknown_to_fleet_is_named_by_its_number() -> None:
    unnamed = FleetHost(2, "u", "s", "darwin", 3, "Mac", (HostPolicy(1, "", "fail"),))
    assert "“policy 1”" in host_failure(0, window(policy_ids=(1,)), unnamed, VerifyRules(), NOW).note


def test_newly_passing_keeps_the_windows_policies_the_case_still_counts() -> None:
    reported = host(1, p1="pass", p2="pass", p3="pass")
    assert newly_passing(window(), reported, failing_before=(1, 3)) == {1}
    assert newly_passing(window(), host(1, p1="fail", p2=""), failing_before=(1, 2)) == set()


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
    assert capacity.taken(3) == {start: 2} and capacity.taken(4) == {start: 1} and capacity.taken(None) == {}
    capacity.add(window(state=WindowState.PLANNED, start=start, team_id=None))
    assert capacity.taken(None) == {start: 1}
