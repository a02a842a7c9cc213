"""Known windows and hosts for the status page and compliance tests, built through the real state machine.

The set, relative to `now`:
- alice: host 1 failing since now-10d, window verified now-7d, deadline now-5d: fixed in time, 72 h to fix;
  her event was moved once, followed 20 s after she moved it.
- bob: host 2 failing since now-12d, window verified now-3d, deadline now-4d: verified late, 216 h to fix.
- carol: host 3 failing since now-8d, window declined now-6d (deadline now-2d): due, not fixed.
- dave: hosts 4 and 5 failing since now-2d, window scheduled for tomorrow: not due yet. Its event was moved,
  followed 5 s later.
- erin: host 6 failing since now-20d, window failed now-9d (deadline now-15d... ended in the period): not fixed.
- host 7: failing, no email (owner checked, none found): shown under attention, no window.

Expected over the last 30 days: due hosts 1, 2, 3, 6 → 4, fixed in time 1 → 25%; fix hours (72, 216) →
median 72, p90 216; windows ended 4 (verified, verified, declined, failed), declined 1 → 25%; moves followed
(20 s, 5 s) → p95 20 s.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from maintenance_windows.domain import windows as states
from maintenance_windows.domain.host_cases import PolicyCase, PolicyState
from maintenance_windows.domain.windows import Slot, Window
from maintenance_windows.ports.store import DocumentStore, Write
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.repository import windows as window_records

EXPECTED = {
    "hosts_due": 4,
    "hosts_fixed_in_time": 1,
    "fixed_in_time_share": 0.25,
    "median_fix_hours": 72.0,
    "p90_fix_hours": 216.0,
    "windows_ended": 4,
    "windows_declined": 1,
    "declined_share": 0.25,
    "p95_follow_seconds": 20.0,
}


def _case(host_id: int, since: datetime, *, passed: datetime | None = None) -> PolicyCase:
    state = PolicyState.PASSING if passed else PolicyState.FAILING
    return PolicyCase(host_id, 10, state, since, since, passed_at=passed)


def _extra(email: str | None, **extra: object) -> dict[str, object]:
    return {"team_id": 1, **({"user_email": email} if email else {}), **extra}


def _window(user: str, hosts: tuple[int, ...], created: datetime, deadline: datetime, start: datetime) -> Window:
    window = Window(
        window_id=f"{user}-0",
        user_key=user,
        user_email=f"{user}@acme.example",
        team_id=1,
        host_ids=hosts,
        policy_ids=(10,),
        deadline=deadline,
        created_at=created,
    )
    slot = Slot(start, start + timedelta(minutes=30), "a quiet morning", 0.9)
    planned = states.plan(window, slot, "Europe/Berlin", created)
    return states.booked(planned, f"task-{user}", created)


@dataclass(frozen=True)
class Records:
    cases: list[PolicyCase]
    extras: dict[int, dict[str, object]]  # the `hosts` documents: owner and attention fields
    windows: list[Window]

    @property
    def case_map(self) -> dict[tuple[int, int], PolicyCase]:
        return {(case.host_id, case.policy_id): case for case in self.cases}


def known_records(now: datetime) -> Records:
    day = timedelta(days=1)
    alice = _window("alice", (1,), now - 9 * day, now - 5 * day, now - 7 * day - timedelta(hours=1))
    moved_at = now - 8 * day
    alice = states.moved(
        alice,
        alice.start or now,
        alice.end or now,
        moved_at,
        late=False,
        etag=None,
        changed_at=moved_at - timedelta(seconds=20),
    )
    alice = states.booked(alice, "task-alice-1", moved_at)
    alice = states.verified(states.dispatched(alice, now - 7 * day - timedelta(hours=1), "sent"), now - 7 * day, "ok")

    bob = _window("bob", (2,), now - 11 * day, now - 4 * day, now - 3 * day - timedelta(hours=1))
    bob = states.verified(states.dispatched(bob, now - 3 * day - timedelta(hours=1), "sent"), now - 3 * day, "ok")

    carol = _window("carol", (3,), now - 7 * day, now - 2 * day, now - 5 * day)
    carol = states.decline(carol, now - 6 * day, "deleted twice")

    dave_start = now + day
    dave = _window("dave", (4, 5), now - 1 * day, now + 5 * day, dave_start)
    dave = states.moved(
        dave,
        dave_start,
        dave_start + timedelta(minutes=30),
        now - timedelta(hours=2),
        late=False,
        etag=None,
        changed_at=now - timedelta(hours=2, seconds=5),
    )
    dave = states.booked(dave, "task-dave-1", now - timedelta(hours=2))

    erin = _window("erin", (6,), now - 19 * day, now - 15 * day, now - 9 * day - timedelta(hours=1))
    erin = states.failed(
        states.dispatched(erin, now - 9 * day - timedelta(hours=1), "sent"), now - 9 * day, "still failing"
    )

    cases = [
        _case(1, now - 10 * day, passed=now - 7 * day),
        _case(2, now - 12 * day, passed=now - 3 * day),
        _case(3, now - 8 * day),
        _case(4, now - 2 * day),
        _case(5, now - 2 * day),
        _case(6, now - 20 * day),
        _case(7, now - 1 * day),
    ]
    extras = {
        1: _extra("alice@acme.example", fleet_display_name="Alice's MacBook"),
        2: _extra("bob@acme.example"),
        3: _extra("carol@acme.example"),
        4: _extra("dave@acme.example"),
        5: _extra("dave@acme.example"),
        6: _extra("erin@acme.example", needs_attention=True, attention_reason="still failing after 1 failed windows"),
        7: _extra(None, owner_checked_at=now - day, email_problem="no owner found"),
    }
    return Records(cases, extras, [alice, bob, carol, dave, erin])


def seed(store: DocumentStore, now: datetime) -> Records:
    """Write the known records into a store (memory or the emulator), replacing what those ids held."""
    records = known_records(now)
    writes = [
        Write(
            "set",
            host_records.HOST_POLICIES,
            host_records.policy_case_id(c.host_id, c.policy_id),
            host_records.policy_case_to_document(c),
        )
        for c in records.cases
    ]
    writes += [
        Write("set", host_records.HOSTS, str(host_id), {"host_id": host_id, **extra})
        for host_id, extra in records.extras.items()
    ]
    store.commit(writes)
    window_records.save(store, records.windows)
    return records


def without_history_times(window: Window) -> Window:
    """The window with its follow timestamps dropped, as windows stored before they were kept look."""
    return replace(window, history=tuple(replace(entry, changed_at=None) for entry in window.history))
