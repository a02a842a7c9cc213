"""Graph change notifications on calendar_notifications: the handshake, who may notify, and what it does."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from maintenance_windows.handlers.calendar_notifications import handle_calendar_notifications
from maintenance_windows.handlers.http import HttpRequest, HttpResponse
from maintenance_windows.ports.calendar import CalendarUnavailable
from maintenance_windows.repository import channels as channel_records
from maintenance_windows.repository import leases
from tests.unit.test_calendar_notifications_handler import ALICE, Booked

JSON = {"Content-Type": "application/json"}


def _item(booked: Booked, **changes: Any) -> dict[str, Any]:
    item = {
        "subscriptionId": booked.channel.resource_id,
        "changeType": "updated",
        "clientState": f"{booked.channel.channel_id}.{booked.channel.token}",
        "resource": f"Users/{ALICE}/Events/AAMk1",
        "tenantId": "t",
        "resourceData": {"id": "AAMk1", "@odata.etag": f'W/"{booked.number}"'},
    }
    item.update(changes)
    return {key: value for key, value in item.items() if value is not None}


def _post(booked: Booked, *items: dict[str, Any], body: bytes | None = None) -> HttpResponse:
    raw = body if body is not None else json.dumps({"value": list(items)}).encode()
    request = HttpRequest("POST", JSON, {}, raw, content_type="application/json")
    return handle_calendar_notifications(request, booked.world.ctx)


@pytest.fixture
def booked() -> Booked:
    return Booked()


def test_the_validation_handshake_echoes_the_token_as_plain_text(booked: Booked) -> None:
    token = "Validation: Testing client application reachability for subscription Request-Id: 1234"
    answer = handle_calendar_notifications(HttpRequest("POST", {}, {"validationToken": token}, b""), booked.world.ctx)
    assert (answer.status, answer.encoded()) == (200, token.encode())
    assert answer.headers["Content-Type"].startswith("text/plain")
    too_long = HttpRequest("POST", {}, {"validationToken": "x" * 2000}, b"")
    assert handle_calendar_notifications(too_long, booked.world.ctx).status == 400


def test_a_move_notified_by_graph_is_followed(booked: Booked) -> None:
    later = booked.start + timedelta(hours=2)
    booked.world.calendar.user_moves(ALICE, booked.event_id, later)
    answer = _post(booked, _item(booked))
    assert answer.status == 202
    assert answer.body["outcomes"] == ["processed"]
    assert booked.now_window().start == later


def test_a_duplicate_delivery_is_recorded_once_behind_a_busy_lease(booked: Booked) -> None:
    booked.world.calendar.user_moves(ALICE, booked.event_id, booked.start + timedelta(hours=2))
    now = booked.world.clock()
    assert leases.claim(booked.world.store, leases.user_lease(booked.window.user_key), now, now + timedelta(minutes=5))
    item = _item(booked)
    assert _post(booked, item, item).body["outcomes"] == ["queued", "duplicate"]
    assert len(booked.world.store.query(channel_records.PENDING)) == 1
    assert _post(booked, _item(booked, resourceData={"id": "AAMk1", "@odata.etag": 'W/"other"'})).body["outcomes"] == [
        "queued"
    ]


@pytest.mark.parametrize(
    ("changes", "status", "problem"),
    [
        ({"clientState": None}, 401, "no clientState of ours"),
        ({"clientState": "not-a-channel.token"}, 401, "unknown channel"),
        ({"subscriptionId": "someone-elses"}, 403, "wrong resource"),
    ],
)
def test_unknown_or_forged_notifications_change_nothing(
    booked: Booked, changes: dict[str, Any], status: int, problem: str
) -> None:
    booked.world.calendar.user_moves(ALICE, booked.event_id, booked.start + timedelta(hours=1))
    answer = _post(booked, _item(booked), _item(booked, **changes))  # one good item does not carry a bad one
    assert answer.status == status
    assert problem in answer.body["error"]
    assert booked.now_window() == booked.window
    assert booked.world.store.query(channel_records.PENDING) == []


def test_a_wrong_client_state_token_is_forbidden(booked: Booked) -> None:
    answer = _post(booked, _item(booked, clientState=f"{booked.channel.channel_id}.wrong"))
    assert answer.status == 403
    assert booked.now_window() == booked.window


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{}",
        b'{"value": []}',
        b'{"value": [{"changeType": "updated"}]}',
        b'{"value": [{"subscriptionId": "s", "changeType": "renamed"}]}',
        b'{"value": [{"subscriptionId": "s", "lifecycleEvent": "bogus"}]}',
    ],
)
def test_malformed_bodies_are_400(booked: Booked, body: bytes) -> None:
    assert _post(booked, body=body).status == 400


def test_a_removed_subscription_retires_the_channel_and_resyncs(booked: Booked) -> None:
    later = booked.start + timedelta(hours=3)
    booked.world.calendar.user_moves(ALICE, booked.event_id, later)
    answer = _post(booked, _item(booked, changeType=None, lifecycleEvent="subscriptionRemoved", resource=None))
    assert answer.status == 202
    assert booked.now_window().start == later
    record = channel_records.get(booked.world.store, booked.channel.channel_id)
    assert record is not None
    assert record.state is channel_records.ChannelState.RETIRED


def test_an_outage_answers_503_so_graph_delivers_again(booked: Booked) -> None:
    booked.world.calendar.fail_next("list_changes", CalendarUnavailable("down", status=503))
    assert _post(booked, _item(booked)).status == 503
    assert len(booked.world.store.query(channel_records.PENDING)) == 1


def test_message_numbers_stay_exact_as_javascript_numbers(booked: Booked) -> None:
    from maintenance_windows.handlers.graph_notifications import _message_number

    numbers = {_message_number(_item(booked, resource=f"Users/{ALICE}/Events/{i}")) for i in range(200)}
    assert len(numbers) == 200
    assert all(0 < number <= 2**53 for number in numbers)


@pytest.mark.parametrize("channel_id", ["a/b", "x" * 65, "a b", "__x__"])
def test_a_client_state_that_is_no_channel_id_of_ours_is_refused_and_changes_nothing(
    booked: Booked, channel_id: str
) -> None:
    """A "/" would be a path into a sub-collection on Firestore (a 500 before the store guard), "__x__" is
    reserved; neither is an id we issue, so the item is refused before any lookup."""
    writes = booked.world.store.stats.writes
    answer = _post(booked, _item(booked, clientState=f"{channel_id}.{booked.channel.token}"))
    assert answer.status == 400
    assert "clientState" in answer.body["error"]
    assert booked.world.store.stats.writes == writes
