"""fleet_webhook through functions-framework, storing into the Firestore emulator; large payloads folded in
by chunk tasks through the Tasks emulator, the relay and dispatch_window."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from maintenance_windows.adapters.firestore_store import FirestoreStore
from maintenance_windows.repository.hosts import all_hosts

pytestmark = pytest.mark.stack


def _fixture(fleet_fixtures: str, name: str = "failing_policies_webhook.json") -> dict[str, Any]:
    with open(os.path.join(fleet_fixtures, name)) as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded


def _post(stack: dict[str, Any], body: Any, *, auth: Any = "default", **kwargs: Any) -> requests.Response:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
    if auth == "default":
        auth = ("fleet", stack["secrets"]["webhook"])
    return requests.post(stack["urls"]["fleet_webhook"], data=data, headers=headers, auth=auth, timeout=60, **kwargs)


COLLECTIONS = ("hosts", "host_policies", "policies", "webhook_chunks")


def _count(store: FirestoreStore) -> int:
    return sum(1 for name in COLLECTIONS for _ in store.client.collection(name).stream())


def test_fixture_is_stored_per_host(stack: dict[str, Any], store: FirestoreStore, fleet_fixtures: str) -> None:
    response = _post(stack, _fixture(fleet_fixtures))
    assert response.status_code == 202, response.text
    assert response.json() == {
        "status": "accepted",
        "policy_id": 1,
        "hosts": 2,
        "hosts_new": 2,
        "hosts_updated": 0,
        "hosts_unchanged": 0,
        "commits": 1,
    }
    hosts = {case.host_id: case for case in all_hosts(store)}
    assert set(hosts) == {1, 2}
    assert all(case.failing_policy_ids == (1,) for case in hosts.values())
    # A trigger only: neither the policy's texts nor the hosts' names are kept (they come from Fleet's API).
    assert store.get("policies", "1") is None
    assert store.get("hosts", "1") is None


def test_old_shape_and_second_policy_merge(stack: dict[str, Any], store: FirestoreStore, fleet_fixtures: str) -> None:
    assert _post(stack, _fixture(fleet_fixtures)).status_code == 202
    second = _fixture(fleet_fixtures, "failing_policies_webhook_v4_48_era.json")
    second["policy"]["id"] = 2
    second["timestamp"] = "2024-06-19T08:00:00Z"
    assert _post(stack, second).status_code == 202
    hosts = {case.host_id: case for case in all_hosts(store)}
    assert hosts[1].failing_policy_ids == (1, 2)
    assert hosts[2].failing_policy_ids == (1,)
    assert hosts[1].last_seen.isoformat().startswith("2024-06-19T08:00:00")


def test_same_payload_three_times_changes_nothing(
    stack: dict[str, Any], store: FirestoreStore, fleet_fixtures: str
) -> None:
    payload = _fixture(fleet_fixtures)
    first = _post(stack, payload).json()
    snapshot = {case.host_id: case for case in all_hosts(store)}
    answers = [_post(stack, payload).json() for _ in range(2)]
    assert first["hosts_new"] == 2
    for answer in answers:
        assert (answer["hosts_new"], answer["hosts_updated"], answer["hosts_unchanged"]) == (0, 0, 2)
        assert answer["commits"] == 0
    assert {case.host_id: case for case in all_hosts(store)} == snapshot


@pytest.mark.parametrize(
    "auth",
    [None, ("fleet", "wrong"), ("fleet", "")],
)
def test_wrong_or_missing_secret_is_401_and_stores_nothing(
    stack: dict[str, Any], store: FirestoreStore, fleet_fixtures: str, auth: Any
) -> None:
    response = _post(stack, _fixture(fleet_fixtures), auth=auth)
    assert response.status_code == 401
    assert stack["secrets"]["webhook"] not in response.text
    assert _count(store) == 0


@pytest.mark.usefixtures("store")
def test_secret_as_bearer_or_query_parameter(stack: dict[str, Any], fleet_fixtures: str) -> None:
    secret = stack["secrets"]["webhook"]
    bearer = _post(stack, _fixture(fleet_fixtures), auth=None, headers={"Authorization": f"Bearer {secret}"})
    query = _post(stack, _fixture(fleet_fixtures), auth=None, params={"token": secret})
    assert (bearer.status_code, query.status_code) == (202, 202)


@pytest.mark.parametrize(
    ("body", "headers", "status", "says"),
    [
        (b"{not json", {}, 400, "not valid JSON"),
        (b"[1, 2]", {}, 400, "JSON object"),
        (b'{"timestamp": "2024-06-18T13:27:18Z", "policy": {}, "hosts": []}', {}, 400, "policy is empty"),
        (b'{"timestamp": "2024-06-18T13:27:18Z", "hosts": []}', {}, 400, "policy"),
        (
            b'{"timestamp": "2024-06-18T13:27:18Z", "policy": {"id": "x", "name": "p"}, "hosts": []}',
            {},
            400,
            "policy.id",
        ),
        (b"{}", {"Content-Type": "text/plain"}, 415, "application/json"),
    ],
)
def test_bad_input_is_4xx_naming_the_problem_and_stores_nothing(
    stack: dict[str, Any], store: FirestoreStore, body: bytes, headers: dict[str, str], status: int, says: str
) -> None:
    response = _post(stack, body, headers=headers)
    assert response.status_code == status
    assert says in response.text
    assert _count(store) == 0


def test_body_over_the_limit_is_413(stack: dict[str, Any], store: FirestoreStore) -> None:
    oversized = b'{"pad": "' + b"x" * (10 * 1024 * 1024 + 10) + b'"}'
    response = _post(stack, oversized)
    assert response.status_code == 413
    assert "over the limit" in response.text
    assert _count(store) == 0


def test_a_timestamp_in_the_future_is_400_and_stores_nothing(
    stack: dict[str, Any], store: FirestoreStore, fleet_fixtures: str
) -> None:
    payload = _fixture(fleet_fixtures)
    payload["timestamp"] = "9999-12-31T23:59:59Z"
    response = _post(stack, payload)
    assert response.status_code == 400
    assert "in the future" in response.text
    assert _count(store) == 0


def _host_policies(store: FirestoreStore) -> int:
    return sum(1 for _ in store.client.collection("host_policies").select([]).stream())


def test_a_large_webhook_is_answered_at_once_and_folded_in_by_chunk_tasks(
    stack: dict[str, Any], store: FirestoreStore, fleet_fixtures: str
) -> None:
    payload = _fixture(fleet_fixtures)
    payload["hosts"] = [
        {"id": n, "hostname": f"h{n}", "display_name": f"Host {n}", "url": f"https://fleet/hosts/{n}"}
        for n in range(1, 2_501)
    ]
    answer = _post(stack, payload).json()
    assert (answer["status"], answer["hosts"], answer["chunks"]) == ("queued", 2_500, 3)
    _wait_for_chunks(store, 2_500)
    assert {case.host_id for case in all_hosts(store)} == set(range(1, 2_501))
    again = _post(stack, payload).json()  # Fleet's retry: same chunks, same task names
    assert again["delivery_id"] == answer["delivery_id"]
    # Cloud Tasks refuses the names (the chunks wait for their TTL); the emulator runs them again.
    _wait_for_chunks(store, 2_500)
    assert len(all_hosts(store)) == 2_500


def _wait_for_chunks(store: FirestoreStore, hosts: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while _host_policies(store) < hosts or list(store.client.collection("webhook_chunks").stream()):
        assert time.monotonic() < deadline, f"{_host_policies(store)} of {hosts} stored after {timeout} s"
        time.sleep(0.5)


def test_twenty_concurrent_webhooks_for_one_host_keep_twenty_policies(
    stack: dict[str, Any], store: FirestoreStore, fleet_fixtures: str
) -> None:
    payloads = []
    for policy_id in range(1, 21):
        payload = _fixture(fleet_fixtures)
        payload["policy"]["id"] = policy_id
        payload["hosts"] = payload["hosts"][:1]
        payloads.append(payload)
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda payload: _post(stack, payload), payloads))
    assert [answer.status_code for answer in answers] == [202] * 20
    (case,) = all_hosts(store)
    assert case.failing_policy_ids == tuple(range(1, 21))


def test_twenty_identical_concurrent_webhooks_count_each_new_host_once(
    stack: dict[str, Any], store: FirestoreStore, fleet_fixtures: str
) -> None:
    payload = _fixture(fleet_fixtures)
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = [answer.json() for answer in pool.map(lambda _: _post(stack, payload), range(20))]
    assert sum(answer["hosts_new"] for answer in answers) == 2
    assert sum(answer["hosts_new"] + answer["hosts_updated"] + answer["hosts_unchanged"] for answer in answers) == 40
    assert [case.failing_policy_ids for case in all_hosts(store)] == [(1,), (1,)]
