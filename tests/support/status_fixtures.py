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

from dataclasses import replace
from datetime import datetime, timedelta

from maintenance_windows.domain import windows as states
from maintenance_windows.domain.host_cases import HostCase, HostStatus, SeenWindow
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


def _host(host_id: int, since: datetime, email: str | None, *, failing: bool = True, **extra: object) -> HostCase:
    return HostCase(
        host_id=host_id,
        hostname=f"host-{host_id}",
        display_name=f"Laptop {host_id}",
        url="",
        reported_team_id=1,
        status=HostStatus.FAILING if failing else HostStatus.CLOSED,
        failing_policy_ids=(10,) if failing else (),
        policy_seen={10: SeenWindow(since, since)},
        first_seen=since,
        last_seen=since,
        extra={"user_email": email, "team_id": 1, **extra} if email else {"team_id": 1, **extra},
    )


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


def known_records(now: datetime) -> tuple[list[HostCase], list[Window]]:
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

    hosts = [
        _host(1, now - 10 * day, "alice@acme.example", failing=False),
        _host(2, now - 12 * day, "bob@acme.example", failing=False),
        _host(3, now - 8 * day, "carol@acme.example"),
        _host(4, now - 2 * day, "dave@acme.example"),
        _host(5, now - 2 * day, "dave@acme.example"),
        _host(
            6,
            now - 20 * day,
            "erin@acme.example",
            needs_attention=True,
            attention_reason="still failing after 1 failed windows",
        ),
        _host(7, now - 1 * day, None, owner_checked_at=now - day, email_problem="no owner found"),
    ]
    return hosts, [alice, bob, carol, dave, erin]


def seed(store: DocumentStore, now: datetime) -> tuple[list[HostCase], list[Window]]:
    """Write the known records into a store (memory or the emulator), replacing what those ids held."""
    hosts, windows = known_records(now)
    store.commit([Write("set", host_records.HOSTS, str(h.host_id), _host_document(h)) for h in hosts])
    window_records.save(store, windows)
    return hosts, windows


def _host_document(case: HostCase) -> dict[str, object]:
    document = host_records.host_to_document(case)
    document.update(case.extra)
    return document


def without_history_times(window: Window) -> Window:
    """The window with its follow timestamps dropped, as windows stored before they were kept look."""
    return replace(window, history=tuple(replace(entry, changed_at=None) for entry in window.history))
