"""Policy cases from webhook sightings: idempotent, order-tolerant, reopened by a newer failure; host cases
derived from them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from maintenance_windows.domain.failing_policies import HostSighting
from maintenance_windows.domain.host_cases import (
    HostStatus,
    PolicyState,
    close_policies,
    host_case,
    passed,
    record_sighting,
)

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def _sighting(policy: int = 1, at: datetime = T0) -> HostSighting:
    return HostSighting(7, policy, at)


def test_the_same_sighting_twice_changes_nothing() -> None:
    once = record_sighting(None, _sighting())
    assert record_sighting(once, _sighting()) == once


def test_sightings_widen_first_and_last_seen_in_any_order() -> None:
    later, earlier = _sighting(at=T0 + timedelta(days=1)), _sighting(at=T0 - timedelta(days=1))
    case = record_sighting(record_sighting(None, later), earlier)
    assert (case.first_seen, case.last_seen) == (earlier.seen_at, later.seen_at)


def test_a_stale_retry_does_not_reopen_but_a_new_failure_does() -> None:
    closed = passed(record_sighting(None, _sighting()), T0 + timedelta(hours=1))
    assert record_sighting(closed, _sighting(at=T0)) == closed
    reopened = record_sighting(closed, _sighting(at=T0 + timedelta(days=1)))
    assert reopened.state is PolicyState.FAILING
    assert reopened.passed_at is None
    assert reopened.first_seen == T0 + timedelta(days=1)  # a new failure, not the old one continued


def test_a_host_case_fails_while_any_policy_fails_and_closes_with_the_last() -> None:
    one, two = record_sighting(None, _sighting(1)), record_sighting(None, _sighting(2, T0 + timedelta(hours=2)))
    case = host_case(7, [two, one])
    assert (case.status, case.failing_policy_ids, case.first_seen, case.last_seen) == (
        HostStatus.FAILING,
        (1, 2),
        T0,
        T0 + timedelta(hours=2),
    )
    partly = host_case(7, [passed(one, T0 + timedelta(days=1)), two])
    assert (partly.status, partly.failing_policy_ids) == (HostStatus.FAILING, (2,))
    closed = host_case(7, [passed(one, T0 + timedelta(days=1)), passed(two, T0 + timedelta(days=2))])
    assert (closed.status, closed.failing_policy_ids, closed.closed_at) == (
        HostStatus.CLOSED,
        (),
        T0 + timedelta(days=2),
    )
    with pytest.raises(ValueError, match="no policy case"):
        host_case(7, [])


def test_closing_policies_of_a_host_case() -> None:
    case = host_case(7, [record_sighting(None, _sighting(1)), record_sighting(None, _sighting(2))])
    assert close_policies(case, {3}, T0) is case
    assert close_policies(case, {1}, T0).failing_policy_ids == (2,)
    closed = close_policies(case, {1, 2}, T0)
    assert closed.status is HostStatus.CLOSED
    assert closed.closed_at == T0
