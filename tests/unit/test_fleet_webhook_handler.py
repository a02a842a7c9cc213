"""fleet_webhook's handler on the memory store: who may post, what is refused, and what is stored."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from pydantic import SecretStr

from maintenance_windows.adapters.memory_store import MemoryStore
from maintenance_windows.adapters.memory_tasks import MemoryTaskQueue
from maintenance_windows.handlers.fleet_webhook import WebhookSettings, handle_fleet_webhook
from maintenance_windows.handlers.http import HttpRequest, HttpResponse
from maintenance_windows.ports.tasks import TaskQueueUnavailable
from maintenance_windows.repository.hosts import all_hosts
from maintenance_windows.service.ingestion import CHUNK_HOSTS, IngestionContext
from tests.support.world import MONDAY, Clock, webhook_payload

SECRET = "s3cret-webhook-value"
SETTINGS = WebhookSettings(secrets=(SecretStr("old-secret"), SecretStr(SECRET)), max_body_bytes=256 * 1024)
BASIC = {"Authorization": "Basic " + base64.b64encode(f"fleet:{SECRET}".encode()).decode()}


def post(
    store: MemoryStore,
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    content_type: str = "application/json",
    method: str = "POST",
    content_length: int | None = None,
    tasks: MemoryTaskQueue | None = None,
) -> HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = HttpRequest(
        method,
        BASIC if headers is None else headers,
        query or {},
        raw,
        content_type,
        len(raw) if content_length is None else content_length,
    )
    ctx = IngestionContext(store, tasks or MemoryTaskQueue(), Clock(MONDAY))
    return handle_fleet_webhook(request, ctx, SETTINGS)


def test_the_payload_is_stored_per_host_and_a_redelivery_writes_nothing() -> None:
    store = MemoryStore()
    first = post(store, webhook_payload(1, [1, 2], MONDAY))
    assert (first.status, first.body) == (
        202,
        {
            "status": "accepted",
            "policy_id": 1,
            "hosts": 2,
            "commits": 1,
            "hosts_new": 2,
            "hosts_updated": 0,
            "hosts_unchanged": 0,
        },
    )
    assert {case.host_id: case.failing_policy_ids for case in all_hosts(store)} == {1: (1,), 2: (1,)}
    writes = store.stats.writes
    again = post(store, webhook_payload(1, [1, 2], MONDAY))
    assert (again.status, again.body["commits"], again.body["hosts_unchanged"]) == (202, 0, 2)
    assert store.stats.writes == writes


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"Authorization": f"Bearer {SECRET}"}, {}),
        ({}, {"token": SECRET}),
        ({"Authorization": "Basic " + base64.b64encode(b"fleet:old-secret").decode()}, {}),  # during a rotation
    ],
)
def test_the_secret_may_come_as_bearer_token_query_or_an_older_secret(
    headers: dict[str, str], query: dict[str, str]
) -> None:
    assert post(MemoryStore(), webhook_payload(1, [1], MONDAY), headers=headers, query=query).status == 202


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_a_missing_or_wrong_secret_is_401_and_stores_nothing(headers: dict[str, str]) -> None:
    store = MemoryStore()
    response = post(store, webhook_payload(1, [1], MONDAY), headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert SECRET not in json.dumps(response.body)
    assert store.stats.writes == 0


@pytest.mark.parametrize(
    ("body", "kwargs", "status", "problem"),
    [
        (b"{}", {"method": "GET"}, 405, "use POST"),
        (b"x" * 270_000, {}, 413, "over the limit"),
        (b"{}", {"content_length": 10**9}, 413, "over the limit"),
        (b"{}", {"content_type": "text/plain"}, 415, "application/json"),
        (b"{not json", {}, 400, "not valid JSON"),
        ([1, 2], {}, 400, "must be a JSON object"),
        ({"timestamp": "2031-03-03T07:00:00Z", "policy": {}, "hosts": []}, {}, 400, "policy is empty"),
        (
            {"timestamp": "2031-03-03T07:00:00Z", "policy": {"id": 0, "name": "p"}, "hosts": []},
            {},
            400,
            "not a Fleet failing-policies webhook",
        ),
        (
            {"timestamp": "9999-12-31T00:00:00Z", "policy": {"id": 1, "name": "p"}, "hosts": [{"id": 1}]},
            {},
            400,
            "is in the future",
        ),
    ],
)
def test_bad_requests_are_refused_with_a_clear_4xx_and_store_nothing(
    body: Any, kwargs: dict[str, Any], status: int, problem: str
) -> None:
    store = MemoryStore()
    response = post(store, body, **kwargs)
    assert response.status == status
    assert problem in response.body["error"]
    assert store.stats.writes == 0


def test_an_invalid_payload_names_each_field() -> None:
    body = {"timestamp": "yesterday", "policy": {"id": 1, "name": "p"}, "hosts": [{"id": -1}]}
    response = post(MemoryStore(), body)
    fields = {problem["field"] for problem in response.body["problems"]}
    assert response.status == 400
    assert {"timestamp", "hosts.0.id"} <= fields


LARGE = webhook_payload(3, list(range(1, CHUNK_HOSTS + 2)), MONDAY)


def test_a_large_payload_is_answered_queued_with_its_chunks() -> None:
    tasks = MemoryTaskQueue()
    response = post(MemoryStore(), LARGE, tasks=tasks)
    assert response.status == 202
    assert response.body["status"] == "queued"
    assert (response.body["hosts"], response.body["chunks"], len(tasks.pending())) == (CHUNK_HOSTS + 1, 2, 2)


class DownQueue(MemoryTaskQueue):
    def schedule(self, name: str, at: Any, payload: Any) -> bool:  # noqa: ARG002  # the port's signature
        raise TaskQueueUnavailable("Cloud Tasks did not take the task")


def test_a_queue_outage_is_503_so_fleet_sends_again() -> None:
    response = post(MemoryStore(), LARGE, tasks=DownQueue())
    assert response.status == 503
    assert "task queue is unavailable" in response.body["error"]
