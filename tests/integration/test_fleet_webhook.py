"""fleet_webhook through functions-framework, storing into the Firestore emulator."""

from __future__ import annotations

import json
import os
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


def _count(store: FirestoreStore) -> int:
    return sum(1 for name in ("hosts", "policies") for _ in store.client.collection(name).stream())


def test_fixture_is_stored_per_host(stack: dict[str, Any], store: FirestoreStore, fleet_fixtures: str) -> None:
    response = _post(stack, _fixture(fleet_fixtures))
    assert response.status_code == 202, response.text
    assert response.json() | {"commits": 1} == {
        "status": "accepted",
        "policy_id": 1,
        "hosts": 2,
        "hosts_new": 2,
        "hosts_updated": 0,
        "hosts_unchanged": 0,
        "policy_updated": True,
        "commits": 1,
    }
    hosts = {case.host_id: case for case in all_hosts(store)}
    assert set(hosts) == {1, 2}
    assert all(case.failing_policy_ids == (1,) for case in hosts.values())
    assert hosts[1].display_name == "display1"
    policy = store.get("policies", "1")
    assert policy is not None
    assert policy["name"] == "policy1"
    assert policy["critical"] is True


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
        assert answer["policy_updated"] is False
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


def test_ten_thousand_hosts_in_about_twenty_commits(
    stack: dict[str, Any], store: FirestoreStore, fleet_fixtures: str
) -> None:
    payload = _fixture(fleet_fixtures)
    payload["hosts"] = [
        {"id": n, "hostname": f"h{n}", "display_name": f"Host {n}", "url": f"https://fleet/hosts/{n}"}
        for n in range(1, 10_001)
    ]
    answer = _post(stack, payload).json()
    assert answer["hosts_new"] == 10_000
    assert answer["commits"] == 21  # 10,001 writes (policy + hosts) in commits of at most 500
    assert sum(1 for _ in store.client.collection("hosts").stream()) == 10_000
