"""The local Tasks relay: what Cloud Tasks adds to a task's request (an OIDC token for the task's identity),
in process against a recording target, and on the local stack, where dispatch_window checks the token."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from werkzeug.wrappers import Request, Response

from infra.oidc_issuer import CERTS_PATH
from infra.serving import BackgroundServer
from infra.tasks_relay import AUDIENCE_HEADER, DELIVERIES_PATH, SERVICE_ACCOUNT_HEADER, Relay, create_app
from maintenance_windows.adapters.cloud_tasks import CloudTasksQueue
from maintenance_windows.auth.oidc import OidcVerifier
from maintenance_windows.config.settings import Settings

INVOKER = "task-invoker@local-project.iam.gserviceaccount.com"
AUDIENCE = "https://dispatch-window.example.run.app/"
BODY = b'{"window_id":"w-1","revision":2,"purpose":"dispatch"}'


@dataclass
class Target:
    """Records what reaches it and answers with `status`."""

    status: int = 200
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def __call__(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        self.received.append((request.method, dict(request.headers), request.get_data()))
        return Response(json.dumps({"status": "done"}), status=self.status, content_type="application/json")(
            environ, start_response
        )


@contextmanager
def relay_to(target_url: str, issuer_url: str) -> Iterator[str]:
    with BackgroundServer(create_app(Relay(target_url, issuer_url, timeout_seconds=10))) as served:
        yield served.url + "/"


def task_headers(**extra: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-CloudTasks-TaskName": "t-1",
        "X-CloudTasks-TaskRetryCount": "0",
        **extra,
    }


def test_a_task_with_an_oidc_token_reaches_the_target_with_a_token_for_its_identity_and_audience(
    issuer_url: str,
) -> None:
    target = Target(status=503)
    with BackgroundServer(target) as served, relay_to(served.url + "/", issuer_url) as relay:
        headers = task_headers(
            **{SERVICE_ACCOUNT_HEADER: INVOKER, AUDIENCE_HEADER: AUDIENCE, "Authorization": "Bearer forged"}
        )
        answer = requests.post(relay, data=BODY, headers=headers, timeout=30)
        deliveries = requests.get(relay.rstrip("/") + DELIVERIES_PATH, timeout=10).json()["deliveries"]
    assert (answer.status_code, answer.json()) == (503, {"status": "done"})  # the target's answer, as is
    ((method, seen, body),) = target.received
    assert (method, body) == ("POST", BODY)
    assert seen["User-Agent"] == "Google-Cloud-Tasks"
    assert (seen["X-Cloudtasks-Taskname"], seen["Content-Type"]) == ("t-1", "application/json")
    assert SERVICE_ACCOUNT_HEADER not in seen
    assert AUDIENCE_HEADER not in seen
    caller = OidcVerifier(AUDIENCE, [INVOKER], certs_url=issuer_url + CERTS_PATH).verify(seen["Authorization"])
    assert caller.email == INVOKER
    assert [(d["task"], d["service_account"], d["audience"], d["status"]) for d in deliveries] == [
        ("t-1", INVOKER, AUDIENCE, 503)
    ]
    assert "forged" not in json.dumps(deliveries)


def test_a_task_without_an_oidc_token_is_forwarded_without_any_authorization(issuer_url: str) -> None:
    target = Target()
    with BackgroundServer(target) as served, relay_to(served.url + "/", issuer_url) as relay:
        answer = requests.post(relay, data=BODY, headers=task_headers(Authorization="Bearer forged"), timeout=30)
    assert answer.status_code == 200
    ((_, seen, _),) = target.received
    assert "Authorization" not in seen


def test_no_token_to_be_had_is_a_failed_attempt_and_nothing_is_forwarded() -> None:
    target = Target()
    with BackgroundServer(target) as served, relay_to(served.url + "/", "http://127.0.0.1:9") as relay:
        headers = task_headers(**{SERVICE_ACCOUNT_HEADER: INVOKER, AUDIENCE_HEADER: AUDIENCE})
        answer = requests.post(relay, data=BODY, headers=headers, timeout=30)
    assert answer.status_code == 503
    assert "issuer" in answer.json()["error"]
    assert target.received == []


def test_an_unreachable_target_is_a_failed_attempt(issuer_url: str) -> None:
    with relay_to("http://127.0.0.1:9/", issuer_url) as relay:
        answer = requests.post(relay, data=BODY, headers=task_headers(), timeout=30)
        elsewhere = requests.post(relay + "other", data=BODY, headers=task_headers(), timeout=30)
    assert answer.status_code == 502
    assert "unreachable" in answer.json()["error"]
    assert elsewhere.status_code == 404


# -- on the local stack ------------------------------------------------------------------------------------


def _deliveries(stack: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = requests.get(stack["urls"]["tasks_relay"] + DELIVERIES_PATH, timeout=10).json()[
        "deliveries"
    ]
    return found


@pytest.mark.stack
def test_dispatch_without_a_token_is_refused_on_the_local_stack(stack: dict[str, Any]) -> None:
    body = {"window_id": f"no-such-window-{uuid.uuid4().hex[:8]}", "revision": 1, "purpose": "dispatch"}
    tokenless = requests.post(stack["urls"]["dispatch_window"], json=body, timeout=30)
    forged = requests.post(
        stack["urls"]["dispatch_window"], json=body, timeout=30, headers={"Authorization": "Bearer not.a.token"}
    )
    assert (tokenless.status_code, forged.status_code) == (401, 401)


@pytest.mark.stack
def test_a_task_the_product_enqueues_is_delivered_through_the_relay_with_a_token_and_accepted(
    stack: dict[str, Any],
) -> None:
    settings = Settings.from_env(stack["function_env"])
    queue = CloudTasksQueue.from_settings(settings)  # exactly as plan_windows and dispatch_window build it
    name = f"relay-check-{uuid.uuid4().hex}"
    payload = {"window_id": f"no-such-window-{name}", "revision": 1, "purpose": "dispatch"}
    assert queue.schedule(name, datetime.now(UTC), payload)

    deadline = time.monotonic() + 60
    delivered: list[dict[str, Any]] = []
    while not delivered and time.monotonic() < deadline:
        delivered = [d for d in _deliveries(stack) if d["task"] == name]
        time.sleep(0.2)
    assert delivered, "the emulator did not deliver the task to the relay within 60 s"
    first = delivered[0]
    # Addressed to the relay, the token minted for the invoker with the dispatch URL as audience; accepted.
    assert (first["service_account"], first["audience"]) == (INVOKER, stack["urls"]["dispatch_window"])
    assert first["status"] == 200
    assert settings.tasks_relay_url == stack["urls"]["tasks_relay"] + "/"  # it got there because it was sent there
