"""Nobody is booked in a guessed time zone: a user whose zone the calendar could not give is skipped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from maintenance_windows.domain.ids import user_key, window_id
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.planning import booking
from maintenance_windows.ports.calendar import CalendarAccessRefused, CalendarError
from maintenance_windows.repository import windows as window_records
from tests.unit.test_follow_flow import NOW, Clock, FakeCalendar, _context

ALICE = "alice@example.com"
BOB = "bob@example.com"


class ZoneRefusingCalendar(FakeCalendar):
    """Bob's delegation is refused: his zone comes back as an error, as the Google adapter reports it."""

    def time_zones(self, emails: Sequence[str]) -> dict[str, str | CalendarError]:
        return {
            email: CalendarAccessRefused("settings.get: suspended", status=401, reason="suspended")
            if email == BOB
            else "Europe/Paris"
            for email in emails
        }


def _new_window(email: str) -> Window:
    key = user_key(email)
    return Window(
        window_id=window_id(key, 1),
        user_key=key,
        user_email=email,
        team_id=None,
        host_ids=(1,),
        policy_ids=(7,),
        deadline=NOW + timedelta(days=7),
        created_at=NOW,
        state=WindowState.NEW,
    )


def test_a_user_whose_zone_failed_is_skipped_and_reported_not_booked_in_utc() -> None:
    clock = Clock(NOW)
    ctx = _context(ZoneRefusingCalendar(clock), clock)
    planned, unplaced = booking.assign_slots(ctx, [_new_window(ALICE), _new_window(BOB)], booking.Capacity())

    assert [window.user_email for window in planned] == [ALICE]
    assert planned[0].time_zone == "Europe/Paris"
    assert [(item.window.user_email, item.reason) for item in unplaced] == [(BOB, "time zone unknown: suspended")]
    stored = window_records.users(ctx.store, [user_key(ALICE), user_key(BOB)])
    assert stored[user_key(ALICE)]["time_zone"] == "Europe/Paris"
    assert "time_zone" not in stored.get(user_key(BOB), {})  # a failure is not cached as a zone
