"""Bugs the reliability suite found, each pinned by the test that showed it (see docs/reliability.md,
"Found by this suite"). All were fixed; these keep them fixed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from maintenance_windows.domain import windows as window_states
from maintenance_windows.domain.ids import user_key, window_id
from maintenance_windows.domain.intervals import parse_rfc3339
from maintenance_windows.domain.windows import Slot, Window, WindowState
from maintenance_windows.repository import windows as window_records
from tests.reliability.support import DOMAIN, Population, Rig, failing_webhook

pytestmark = pytest.mark.stack


@pytest.mark.parametrize("where", ["policy", "host"])
def test_ids_beyond_64_bits_are_refused_not_a_server_error(rig: Rig, where: str) -> None:
    """Found by the webhook fuzzer: pydantic accepts any int, the Firestore client cannot encode one of
    2**63 or more (ValueError: Value out of range), so fleet_webhook answers 500 instead of 400."""
    rig.reset(Population("u", 1))
    payload = failing_webhook(1, [1])
    if where == "policy":
        payload["policy"]["id"] = 2**63
    else:
        payload["hosts"].append({"id": 2**63})
    answer = rig.local.replay(payload)
    assert answer.status_code == 400, answer.text
    assert rig.snapshot() == {name: {} for name in rig.snapshot()}


class LongAddresses(Population):
    """Real addresses are often this long: firstname.lastname plus a department."""

    def email(self, host_id: int) -> str:
        return f"firstname.lastname.{self.tag}{host_id:03d}@{DOMAIN}"


def test_users_with_long_addresses_are_planned(rig: Rig) -> None:
    """A Calendar batch names each part by the user's address (Content-ID "<uuid + address>"); past ~25
    characters googleapiclient folds that header, the stand-in echoes it folded, and the client's parser
    raises ValueError: plan_windows answers 500 for everyone in the batch."""
    population = LongAddresses("b", 3)
    rig.reset(population)
    assert set(rig.replay_webhooks(population, copies=1)) == {202}
    answer = rig.local.plan()
    assert answer.status_code == 200, answer.text
    assert answer.json()["windows_booked"] == 3


def test_a_resumed_plan_whose_slot_passed_moves_the_event_it_already_inserted(rig: Rig) -> None:
    """A planner killed after inserting an event but before recording it leaves the window `planned` with
    no etag. If the slot has passed when the next run resumes it, that run picks a new slot but keeps the
    event id; the insert answers 409, which counts as booked, so the event stays at the old time while the
    window and its task move to the new one."""
    population = Population("k", 1)
    rig.reset(population)
    assert set(rig.replay_webhooks(population, copies=1)) == {202}
    email = population.emails[0]
    now = datetime.now(UTC).replace(microsecond=0)
    opened = Window(
        window_id=window_id(user_key(email), 1),
        user_key=user_key(email),
        user_email=email,
        team_id=None,
        host_ids=(1,),
        policy_ids=(1, 2),
        deadline=now + timedelta(days=7),
        created_at=now - timedelta(hours=2),
    )
    passed = Slot(now - timedelta(minutes=40), now - timedelta(minutes=10), "booked by the run that was killed")
    killed = window_states.plan(opened, passed, "UTC", now - timedelta(hours=1))
    window_records.save(rig.store, [killed])
    rig.store.commit(
        [window_records.user_write(killed.user_key, email=email, open_window_id=killed.window_id, next_sequence=1)]
    )
    rig.local.calendar(
        "POST",
        "events",
        {
            "events": [
                {
                    "user": email,
                    "id": killed.event_id,
                    "summary": "Maintenance",
                    "start": {"dateTime": passed.start.isoformat()},
                    "end": {"dateTime": passed.end.isoformat()},
                    "extendedProperties": {"private": {"mw_window_id": killed.window_id, "mw_revision": "0"}},
                }
            ]
        },
    )

    assert rig.local.plan().status_code == 200
    resumed = window_records.load(rig.store, killed.window_id)
    assert resumed is not None
    assert resumed.state is WindowState.SCHEDULED
    assert resumed.start is not None
    assert resumed.start > now
    (event,) = rig.local.our_events(email)
    assert parse_rfc3339(event["start"]["dateTime"]) == resumed.start, "the event stayed at the passed slot"
