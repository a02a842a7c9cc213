"""Folding webhook sightings into host cases: idempotent, order-tolerant, and reopening after a pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from maintenance_windows.domain.failing_policies import HostSighting
from maintenance_windows.domain.host_cases import HostStatus, close_policies, record_sighting

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def _sighting(policy: int = 1, at: datetime = T0, name: str = "Mac") -> HostSighting:
    return HostSighting(7, "mac.local", name, "https://fleet/hosts/7", policy, 2, at)


def test_the_same_sighting_twice_changes_nothing() -> None:
    once = record_sighting(None, _sighting())
    assert record_sighting(once, _sighting()) == once


def test_sightings_widen_first_and_last_seen_in_any_order() -> None:
    later, earlier = _sighting(at=T0 + timedelta(days=1), name="New"), _sighting(at=T0 - timedelta(days=1), name="Old")
    case = record_sighting(record_sighting(None, later), earlier)
    assert (case.first_seen, case.last_seen) == (earlier.seen_at, later.seen_at)
    assert case.display_name == "New"  # the newest sighting names the host


def test_policies_accumulate_and_close_one_by_one() -> None:
    case = record_sighting(record_sighting(None, _sighting(1)), _sighting(2))
    assert case.failing_policy_ids == (1, 2)
    partly = close_policies(case, {1}, T0)
    assert partly.failing_policy_ids == (2,)
    assert partly.status is HostStatus.FAILING
    closed = close_policies(partly, {2}, T0)
    assert closed.status is HostStatus.CLOSED
    assert closed.closed_at == T0


def test_a_stale_retry_does_not_reopen_but_a_new_failure_does() -> None:
    closed = close_policies(record_sighting(None, _sighting()), {1}, T0 + timedelta(hours=1))
    assert record_sighting(closed, _sighting(at=T0)) == closed
    reopened = record_sighting(closed, _sighting(2, at=T0 + timedelta(days=1)))
    assert reopened.status is HostStatus.FAILING
    assert reopened.failing_policy_ids == (2,)
    assert reopened.closed_at is None
