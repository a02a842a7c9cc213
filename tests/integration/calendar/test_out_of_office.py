"""Out-of-office periods through the real adapter on the Calendar stand-in: batched, paged, per-user errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from maintenance_windows.adapters.google_calendar import GoogleCalendarAdapter
from maintenance_windows.domain.intervals import Interval
from tests.integration.calendar.conftest import Admin

DAY = (datetime.now(UTC) + timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)


def _event(user: str, event_id: str, start: datetime, hours: float, event_type: str) -> dict[str, object]:
    end = start + timedelta(hours=hours)
    return {
        "user": user,
        "id": event_id,
        "summary": event_type,
        "eventType": event_type,
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": end.isoformat()},
    }


def test_out_of_office_is_read_by_type_for_many_users_in_one_batch(
    adapter: GoogleCalendarAdapter, admin: Admin
) -> None:
    admin.users("ann@example.com", "ben@example.com")
    days_off = [DAY + timedelta(days=n) for n in range(5)]  # five events: two pages of three
    admin.events(
        *(_event("ann@example.com", f"ooo{n:04d}", start, 9, "outOfOffice") for n, start in enumerate(days_off)),
        _event("ann@example.com", "meet0001", DAY + timedelta(hours=10), 1, "default"),
        _event("ben@example.com", "focus001", DAY + timedelta(hours=10), 2, "focusTime"),
    )
    before = admin.counters()["round_trips"]
    found = adapter.out_of_office(
        ["ann@example.com", "ben@example.com", "nobody@elsewhere.example"], DAY, DAY + timedelta(days=10)
    )
    assert found["ann@example.com"].away == tuple(Interval(start, start + timedelta(hours=9)) for start in days_off)
    assert found["ben@example.com"].away == ()
    assert found["ben@example.com"].error is None
    assert found["nobody@elsewhere.example"].error is not None
    # One batch for the three first pages, then ann's second page.
    assert admin.counters()["round_trips"] - before <= 3
