"""The Graph stand-in refuses what Graph refuses (docs/graph-server.md gives each source)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.graph_server import RunningServer
from tests.integration.graph.conftest import Admin, Receiver, graph

ALICE = "alice@contoso.example"
START = (datetime.now(UTC) + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)


def _when(moment: datetime, zone: str = "UTC") -> dict[str, str]:
    return {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": zone}


def _event(**changes: Any) -> dict[str, Any]:
    return {"subject": "Fix", "start": _when(START), "end": _when(START + timedelta(minutes=30)), **changes}


@pytest.mark.usefixtures("admin")
def test_requests_without_a_bearer_token_are_401(graph_server: RunningServer) -> None:
    answer = graph(graph_server, "GET", f"/users/{ALICE}/mailboxSettings", headers={"Authorization": ""})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "InvalidAuthenticationToken"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (_event(colour="red"), "RequestBodyRead"),  # not a property of microsoft.graph.event
        (_event(showAs="sleeping"), "RequestBodyRead"),  # not a freeBusyStatus member
        (_event(isReminderOn="yes"), "RequestBodyRead"),  # Edm.Boolean
        (_event(start={"dateTime": "2026-12-03T09:00:00"}), "RequestBodyRead"),  # dateTimeTimeZone needs its zone
        (_event(start=_when(START, "Mars/Olympus")), "TimeZoneNotSupportedException"),
        (_event(body={"contentType": "html", "content": "x", "extra": 1}), "RequestBodyRead"),  # itemBody
    ],
)
def test_event_bodies_are_checked_against_the_metadata(
    graph_server: RunningServer, admin: Admin, body: dict[str, Any], code: str
) -> None:
    admin.users(ALICE)
    answer = graph(graph_server, "POST", f"/users/{ALICE}/events", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == code
    assert admin.call("GET", f"users/{ALICE}/events")["value"] == []


def test_mailboxes_answer_windows_zone_names_and_refusals_per_mailbox(
    graph_server: RunningServer, admin: Admin
) -> None:
    admin.users(ALICE, time_zone="W. Europe Standard Time")
    admin.users("out@contoso.example", refused="scope")
    assert graph(graph_server, "GET", f"/users/{ALICE}/mailboxSettings").json()["timeZone"] == "W. Europe Standard Time"
    refused = graph(graph_server, "GET", "/users/out@contoso.example/mailboxSettings")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "ErrorAccessDenied"
    missing = graph(graph_server, "GET", "/users/nobody@contoso.example/mailboxSettings")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ErrorInvalidUser"
    with pytest.raises(Exception, match="400"):
        admin.users("bob@contoso.example", time_zone="Europe/Berlin")  # mailboxes keep Windows names


def test_a_batch_takes_at_most_20_requests_with_unique_ids(graph_server: RunningServer, admin: Admin) -> None:
    admin.users(ALICE)
    part = {"method": "GET", "url": f"/users/{ALICE}/mailboxSettings"}
    too_many = graph(graph_server, "POST", "/$batch", json={"requests": [{**part, "id": str(i)} for i in range(21)]})
    assert too_many.status_code == 400
    twenty = graph(graph_server, "POST", "/$batch", json={"requests": [{**part, "id": str(i)} for i in range(20)]})
    assert twenty.status_code == 200
    assert [r["status"] for r in twenty.json()["responses"]] == [200] * 20
    same_id = graph(graph_server, "POST", "/$batch", json={"requests": [{**part, "id": "1"}, {**part, "id": "1"}]})
    assert same_id.status_code == 400
    no_type = {"id": "1", "method": "POST", "url": f"/users/{ALICE}/events", "body": _event()}
    answer = graph(graph_server, "POST", "/$batch", json={"requests": [no_type]}).json()["responses"][0]
    assert answer["status"] == 400  # a part with a body needs its Content-Type


def test_throttling_answers_429_with_retry_after(graph_server: RunningServer, admin: Admin) -> None:
    admin.users(ALICE)
    admin.faults({"status": 429, "code": "ApplicationThrottled", "retry_after": 7})
    answer = graph(graph_server, "GET", f"/users/{ALICE}/mailboxSettings")
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"
    assert answer.json()["error"]["code"] == "ApplicationThrottled"


def test_a_repeated_create_with_the_same_transaction_id_answers_the_first_event(
    graph_server: RunningServer, admin: Admin
) -> None:
    admin.users(ALICE)
    first = graph(graph_server, "POST", f"/users/{ALICE}/events", json=_event(transactionId="tx-1")).json()
    again = graph(graph_server, "POST", f"/users/{ALICE}/events", json=_event(transactionId="tx-1")).json()
    assert first["id"] == again["id"]
    assert len(admin.call("GET", f"users/{ALICE}/events")["value"]) == 1
    change = graph(graph_server, "PATCH", f"/users/{ALICE}/events/{first['id']}", json={"transactionId": "tx-2"})
    assert change.status_code == 400


def test_get_schedule_limits_and_statuses(graph_server: RunningServer, admin: Admin) -> None:
    admin.users(ALICE)
    admin.call("POST", f"users/{ALICE}/events", _event(showAs="oof"))
    ask = {
        "schedules": [ALICE, "ghost@contoso.example"],
        "startTime": _when(START - timedelta(hours=1)),
        "endTime": _when(START + timedelta(hours=2)),
        "availabilityViewInterval": 30,
    }
    answer = graph(graph_server, "POST", f"/users/{ALICE}/calendar/getSchedule", json=ask).json()["value"]
    assert answer[0]["availabilityView"] == "003000"
    assert answer[0]["scheduleItems"][0]["status"] == "oof"
    assert answer[0]["workingHours"]["timeZone"]["name"] == "Romance Standard Time"
    assert answer[1]["error"]["responseCode"] == "ErrorMailRecipientNotFound"
    too_long = {**ask, "endTime": _when(START + timedelta(days=63))}
    assert graph(graph_server, "POST", f"/users/{ALICE}/calendar/getSchedule", json=too_long).status_code == 400
    too_many = {**ask, "schedules": [f"p{i}@contoso.example" for i in range(21)]}
    assert graph(graph_server, "POST", f"/users/{ALICE}/calendar/getSchedule", json=too_many).status_code == 400


def test_delta_reports_changes_removals_and_refuses_an_expired_link(graph_server: RunningServer, admin: Admin) -> None:
    admin.users(ALICE)
    created = graph(graph_server, "POST", f"/users/{ALICE}/events", json=_event()).json()
    low, high = (
        (START - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        (START + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    first = graph(graph_server, "GET", f"/users/{ALICE}/calendarView/delta?startDateTime={low}&endDateTime={high}")
    assert [e["id"] for e in first.json()["value"]] == [created["id"]]
    link = first.json()["@odata.deltaLink"].split("/v1.0", 1)[1]
    admin.call("POST", f"users/{ALICE}/events/{created['id']}/delete", {})
    changes = graph(graph_server, "GET", link).json()
    assert changes["value"] == [
        {"@odata.type": "#microsoft.graph.event", "id": created["id"], "@removed": {"reason": "deleted"}}
    ]
    admin.call("POST", "delta/expire", {"email": ALICE})
    expired = graph(graph_server, "GET", changes["@odata.deltaLink"].split("/v1.0", 1)[1])
    assert expired.status_code == 410


def _subscription(url: str, minutes: int = 60, **changes: Any) -> dict[str, Any]:
    expiry = (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "changeType": "updated,deleted",
        "notificationUrl": url,
        "resource": f"users/{ALICE}/events",
        "expirationDateTime": expiry,
        "clientState": "channel-1.secret",
        **changes,
    }


def test_subscriptions_validate_the_url_and_notify_with_the_client_state(
    graph_server: RunningServer, admin: Admin, receiver: Receiver
) -> None:
    admin.users(ALICE)
    too_long = graph(graph_server, "POST", "/subscriptions", json=_subscription(receiver.url, minutes=10081))
    assert too_long.status_code == 400
    created = graph(graph_server, "POST", "/subscriptions", json=_subscription(receiver.url))
    assert created.status_code == 201
    assert len(receiver.validations) == 1
    event = admin.call("POST", f"users/{ALICE}/events", _event())
    admin.call(
        "POST",
        f"users/{ALICE}/events/{event['id']}/move",
        {"start": _when(START + timedelta(hours=1)), "end": _when(START + timedelta(hours=2))},
    )
    (item,) = receiver.next()["value"]
    assert (item["subscriptionId"], item["changeType"], item["clientState"]) == (
        created.json()["id"],
        "updated",
        "channel-1.secret",
    )
    admin.call("POST", f"subscriptions/{created.json()['id']}/lifecycle", {"lifecycleEvent": "subscriptionRemoved"})
    assert receiver.next()["value"][0]["lifecycleEvent"] == "subscriptionRemoved"
    assert graph(graph_server, "DELETE", f"/subscriptions/{created.json()['id']}").status_code == 404


def test_a_notification_url_that_fails_the_handshake_gets_no_subscription(
    graph_server: RunningServer, admin: Admin
) -> None:
    admin.users(ALICE)
    with Receiver(echo=False) as wrong:
        answer = graph(graph_server, "POST", "/subscriptions", json=_subscription(wrong.url))
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "ValidationError"
    assert admin.call("GET", "subscriptions")["value"] == []
    public_http = graph(graph_server, "POST", "/subscriptions", json=_subscription("http://example.com/notify"))
    assert public_http.status_code == 400  # Graph wants https


def test_a_fifth_concurrent_request_to_one_mailbox_is_throttled(graph_server: RunningServer, admin: Admin) -> None:
    from concurrent.futures import ThreadPoolExecutor

    admin.users(ALICE)
    admin.call("PUT", "config", {"hold_seconds": 0.5})
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: graph(graph_server, "GET", f"/users/{ALICE}/mailboxSettings"), range(6)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(200) <= 4
    assert 429 in statuses
    throttled = next(answer for answer in answers if answer.status_code == 429)
    assert throttled.headers["Retry-After"] == "1"
    assert throttled.json()["error"]["code"] == "ApplicationThrottled"
