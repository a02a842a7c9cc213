"""The attack classes that once answered 500, on the memory doubles: each is a 400 naming the problem, and
nothing is stored. The same classes run against the live functions in tests/reliability/test_fuzz_*.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from maintenance_windows.adapters.memory_store import MemoryStore
from maintenance_windows.adapters.memory_tasks import MemoryTaskQueue
from maintenance_windows.domain.document_ids import InvalidDocumentId, checked_document_id, document_id_problem
from maintenance_windows.domain.intervals import parse_rfc3339
from maintenance_windows.handlers.calendar_notifications import handle_calendar_notifications
from maintenance_windows.handlers.dispatch_window import handle_dispatch_window
from maintenance_windows.handlers.fleet_webhook import handle_fleet_webhook
from maintenance_windows.handlers.http import MAX_JSON_DEPTH, BadRequest, HttpRequest, parse_json_body
from maintenance_windows.ports.store import Filter, Write
from maintenance_windows.repository.guarded_store import GuardedStore
from maintenance_windows.service.dispatch_context import DispatchContext
from maintenance_windows.service.ingestion import IngestionContext
from tests.support.world import MONDAY, Clock, World, json_request, webhook_payload
from tests.unit.test_fleet_webhook_handler import BASIC, SETTINGS
from tests.unit.test_plan_windows_handler import LOCAL, call

# -- the shared body parser --------------------------------------------------------------------------------


def nested(depth: int, inner: bytes = b"1") -> bytes:
    return b"[" * depth + inner + b"]" * depth


def refusal(raw: bytes) -> str:
    with pytest.raises(BadRequest) as caught:
        parse_json_body(raw)
    return caught.value.problem


def test_nesting_up_to_the_bound_parses_and_one_more_level_is_refused() -> None:
    assert parse_json_body(nested(MAX_JSON_DEPTH)) is not None
    assert refusal(nested(MAX_JSON_DEPTH + 1)) == f"body nests deeper than {MAX_JSON_DEPTH} levels"
    assert refusal(b'{"a": {"b": ' + nested(MAX_JSON_DEPTH) + b"}}").startswith("body nests deeper")


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_nesting_that_once_raised_recursion_error_is_refused(depth: int) -> None:
    with pytest.raises(RecursionError):
        json.loads(nested(depth))  # what the standard library does: the 500 this replaced
    assert "JSON" in refusal(nested(depth)) or "deeper" in refusal(nested(depth))


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        (b"1" * 5000, "number"),  # past Python's 4,300-digit limit: json raised ValueError, a 500
        (b"1e400", "number"),
        (b"NaN", "JSON"),
        (b'"\\ud800"', "surrogate"),
        (b'{"hostname": "\\udfff"}', "surrogate"),
        (b'"\xff"', "JSON"),  # invalid UTF-8
    ],
)
def test_numbers_surrogates_and_bad_bytes_are_named(raw: bytes, named: str) -> None:
    assert named in refusal(raw)


def test_integers_beyond_64_bits_become_floats_which_no_integer_field_takes() -> None:
    assert parse_json_body(b"18446744073709551615") == 2**64 - 1
    assert isinstance(parse_json_body(b"18446744073709551616"), float)
    assert isinstance(parse_json_body(b"-" + b"9" * 300), float)  # never a 300-digit int object


def test_ordinary_values_pass() -> None:
    assert parse_json_body(b'{"a": [1, 2.5, "\\u00e9", null, true]}') == {"a": [1, 2.5, "é", None, True]}


# -- document ids and the store path guard -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc_id", "problem"),
    [
        ("a/b", "'/'"),
        ("", "empty"),
        (".", "'.' or '..'"),
        ("..", "'.' or '..'"),
        ("__name__", "reserved"),
        ("\ud800", "surrogate"),
        ("é" * 751, "1500 bytes"),
        (7, "string"),
    ],
)
def test_ids_firestore_cannot_hold_are_named(doc_id: object, problem: str) -> None:
    reason = document_id_problem(doc_id)
    assert reason is not None
    assert problem in reason


@pytest.mark.parametrize("doc_id", ["abc-0003", "é" * 750, "_x_", "__x", "a.b", "12345"])
def test_ids_firestore_can_hold_pass(doc_id: str) -> None:
    assert checked_document_id("windows", doc_id) == doc_id


class Recording(MemoryStore):
    """A memory store that records whether anything reached it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        self.calls.append("get")
        return super().get(collection, doc_id)

    def commit(self, writes: Any) -> None:
        self.calls.append("commit")
        super().commit(writes)


def test_the_guard_refuses_a_bad_path_before_the_store_sees_it() -> None:
    inner = Recording()
    guarded = GuardedStore(inner)
    with pytest.raises(InvalidDocumentId, match="windows: a document id must not contain '/'"):
        guarded.get("windows", "a/b")
    with pytest.raises(InvalidDocumentId):
        guarded.create("claims", "..", {})
    with pytest.raises(InvalidDocumentId):
        guarded.get_many("hosts", ["1", "x/y"])
    with pytest.raises(InvalidDocumentId):
        guarded.query("a/b")
    assert inner.calls == []


def test_a_commit_with_one_bad_path_applies_none_of_its_writes() -> None:
    inner = Recording()
    writes = [Write("set", "hosts", str(n), {"n": n}) for n in range(600)] + [Write("delete", "hosts", "a/b")]
    with pytest.raises(InvalidDocumentId):
        GuardedStore(inner).commit(writes)
    assert inner.calls == []
    assert inner.query("hosts") == []


def test_the_guard_passes_good_paths_through() -> None:
    guarded = GuardedStore(MemoryStore())
    assert guarded.create("claims", "c1", {"v": 1})
    assert not guarded.create("claims", "c1", {"v": 2})
    guarded.commit([Write("merge", "claims", "c1", {"w": 2})])
    assert guarded.get("claims", "c1") == {"v": 1, "w": 2}
    assert guarded.get_many("claims", ["c1", "c2"]) == {"c1": {"v": 1, "w": 2}}
    assert guarded.query("claims", [Filter("v", "==", 1)]) == [("c1", {"v": 1, "w": 2})]
    assert guarded.stats is guarded.inner.stats


def test_handlers_answer_the_guard_with_400() -> None:
    """The last line: an id the handler's own check let through still becomes a 400, not a 500."""
    world = World()
    ctx = DispatchContext(GuardedStore(world.store), world.fleet, world.tasks, world.teams, world.clock)
    body = {"window_id": "__reserved__", "revision": 1, "purpose": "dispatch"}  # passes TaskBody's pattern
    response = handle_dispatch_window(json_request(body), ctx, None)
    assert (response.status, response.body["error"]) == (
        400,
        "windows: a document id must not look like __name__ (reserved)",
    )


# -- timestamps --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_timestamps_that_overflow_in_utc_are_a_value_error(value: str) -> None:
    with pytest.raises(ValueError, match="out of range once converted to UTC"):
        parse_rfc3339(value)


def test_the_extremes_that_fit_in_utc_parse() -> None:
    assert parse_rfc3339("0001-01-01T00:00:00-01:00").year == 1
    assert parse_rfc3339("9999-12-31T23:59:59+01:00").year == 9999


# -- the endpoints -----------------------------------------------------------------------------------------


def webhook(body: bytes) -> tuple[int, str, MemoryStore]:
    store = MemoryStore()
    ctx = IngestionContext(store, MemoryTaskQueue(), Clock(MONDAY))
    response = handle_fleet_webhook(HttpRequest("POST", BASIC, {}, body, "application/json", len(body)), ctx, SETTINGS)
    return response.status, json.dumps(response.body), store


def payload_with(**changes: Any) -> dict[str, Any]:
    payload = webhook_payload(7, [1, 2], MONDAY)
    for path, value in changes.items():
        target: Any = payload
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
    return payload


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (nested(10_000), "JSON"),
        (json.dumps(payload_with(policy__description=json.loads(nested(50)))).encode(), "deeper"),
        (json.dumps(payload_with(hosts__0__hostname="\ud800")).encode(), "surrogate"),
        (json.dumps(payload_with(policy__id=10**30)).encode(), "policy.id"),
        (json.dumps(payload_with(hosts__1__id=2**64 - 1)).encode(), "less than or equal"),
        (
            b'{"timestamp": "2024-01-01T00:00:00Z", "policy": {"id": 1' + b"0" * 5000 + b', "name": "p"}, "hosts": []}',
            "number",
        ),
        (json.dumps(payload_with(timestamp="0001-01-01T00:00:00+01:00")).encode(), "out of range"),
        (json.dumps(payload_with(timestamp="9999-12-31T23:59:59-01:00")).encode(), "out of range"),
    ],
)
def test_webhook_attacks_are_400_and_store_nothing(body: bytes, named: str) -> None:
    status, answer, store = webhook(body)
    assert status == 400, answer
    assert named in answer, answer
    assert store.stats.writes == 0


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"lead_minutes": 10**30}, "integer from 0 to 1440"),
        (b'{"lead_minutes": 1' + b"0" * 5000 + b"}", "number"),
        (nested(10_000), "JSON"),
        ({"lead_minutes": json.loads(nested(40))}, "deeper"),
        (b"x" * (64 * 1024 + 1), "over"),
    ],
)
def test_plan_attacks_are_4xx_and_plan_nothing(body: Any, named: str) -> None:
    world = World()
    world.host(1, "alice@acme.example")
    writes = world.store.stats.writes
    response = call(world, body, LOCAL)
    assert response.status in (400, 413), response.body
    assert named in response.body["error"], response.body
    assert world.store.stats.writes == writes
    assert world.windows() == []


@pytest.mark.parametrize(
    ("headers", "status", "named"),
    [
        ({"X-Goog-Channel-ID": "a/b"}, 400, "X-Goog-Channel-ID"),
        ({"X-Goog-Channel-ID": "x" * 65}, 400, "X-Goog-Channel-ID"),
        ({"X-Goog-Channel-ID": "..", "X-Goog-Channel-Token": "t"}, 400, "X-Goog-Channel-ID"),
        ({"X-Goog-Channel-ID": "caf\xe9"}, 400, "X-Goog-Channel-ID"),
        ({"X-Goog-Channel-ID": "not-ours"}, 401, "unknown channel"),
    ],
)
def test_channel_ids_that_are_not_ours_are_refused_before_any_read(
    headers: dict[str, str], status: int, named: str
) -> None:
    world = World()
    reads = world.store.stats.reads
    sent = {"X-Goog-Resource-State": "exists", "X-Goog-Message-Number": "3", **headers}
    response = handle_calendar_notifications(HttpRequest("POST", sent, {}, b""), world.ctx)
    assert response.status == status
    assert named in response.body["error"]
    assert world.store.stats.writes == 0
    if status == 400:
        assert world.store.stats.reads == reads


@pytest.mark.parametrize("number", ["99999999999999999999", "9223372036854775808", "²", "١٢", "-1", "1e3", " "])
def test_message_numbers_beyond_64_bits_or_not_ascii_digits_are_400(number: str) -> None:
    from tests.unit.test_calendar_notifications_handler import Booked

    booked = Booked()
    writes = booked.world.store.stats.writes
    response = booked.notify(**{"X-Goog-Message-Number": number})
    assert response.status == 400
    assert "X-Goog-Message-Number" in response.body["error"]
    assert booked.world.store.stats.writes == writes


def test_the_largest_message_number_is_accepted() -> None:
    from tests.unit.test_calendar_notifications_handler import Booked

    booked = Booked()
    assert booked.notify(**{"X-Goog-Message-Number": str(2**63 - 1)}).status == 200
