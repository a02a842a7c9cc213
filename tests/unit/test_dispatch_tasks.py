"""The TaskQueue adapters: the Cloud Tasks request we build, and the in-memory queue's name dedup."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import google.auth
import grpc
import pytest
from google.api_core import exceptions as google_exceptions
from google.cloud import tasks_v2
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

from maintenance_windows.adapters.cloud_tasks import CloudTasksQueue
from maintenance_windows.adapters.memory_tasks import MemoryTaskQueue
from maintenance_windows.config.settings import ConfigurationError, Settings

QUEUE = "projects/p/locations/europe-west1/queues/mw"
URL = "https://dispatch-window-xyz.a.run.app"
AT = datetime(2026, 12, 1, 12, 0, 30, tzinfo=UTC)


def google_error(kind: type[Exception], message: str) -> Exception:
    # api_core's exception classes carry no annotations; a typed alias keeps mypy's checks on.
    factory: Callable[[str], Exception] = kind
    return factory(message)


class RecordingClient:
    """Stands in for CloudTasksClient: records requests, raises what it is told to."""

    def __init__(self, raises: Exception | None = None) -> None:
        self.created: list[tasks_v2.Task] = []
        self.deleted: list[str] = []
        self.raises = raises

    def create_task(self, *, parent: str, task: tasks_v2.Task, **options: Any) -> tasks_v2.Task:
        assert parent == QUEUE
        assert options["retry"] is not None
        if self.raises:
            raise self.raises
        self.created.append(task)
        return task

    def delete_task(self, *, name: str, **_options: Any) -> None:
        if self.raises:
            raise self.raises
        self.deleted.append(name)


def queue(client: RecordingClient, sa: str | None = "invoker@p.iam.gserviceaccount.com") -> CloudTasksQueue:
    return CloudTasksQueue(client, QUEUE, URL, sa, URL if sa else None)  # type: ignore[arg-type]


def test_schedule_builds_a_named_authenticated_http_task() -> None:
    client = RecordingClient()
    assert queue(client).schedule("abc-w1-r0-dispatch", AT, {"window_id": "w1", "revision": 0}) is True
    (task,) = client.created
    assert task.name == f"{QUEUE}/tasks/abc-w1-r0-dispatch"
    request = task.http_request
    assert (request.url, request.http_method) == (URL, tasks_v2.HttpMethod.POST)
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {"window_id": "w1", "revision": 0}
    assert request.oidc_token.service_account_email == "invoker@p.iam.gserviceaccount.com"
    assert request.oidc_token.audience == URL
    assert task.schedule_time == AT
    assert task.dispatch_deadline == timedelta(minutes=10)


def test_without_a_service_account_no_token_is_asked_for() -> None:
    client = RecordingClient()
    queue(client, sa=None).schedule("t", AT, {})
    assert "oidc_token" not in client.created[0].http_request


def test_an_existing_name_is_reported_not_raised() -> None:
    client = RecordingClient(google_error(google_exceptions.AlreadyExists, "exists"))
    tasks = queue(client)
    assert tasks.schedule("t", AT, {}) is False
    assert tasks.stats() == {"already_exists": 1}


@pytest.mark.parametrize(
    "problem",
    [google_error(google_exceptions.MethodNotImplemented, "501"), google_error(google_exceptions.NotFound, "gone")],
)
def test_delete_is_best_effort(problem: Exception) -> None:
    assert queue(RecordingClient(problem)).delete("t") is False
    client = RecordingClient()
    assert queue(client).delete("t") is True
    assert client.deleted == [f"{QUEUE}/tasks/t"]


def test_other_errors_propagate() -> None:
    with pytest.raises(google_exceptions.PermissionDenied):
        queue(RecordingClient(google_error(google_exceptions.PermissionDenied, "actAs"))).schedule("t", AT, {})


def test_configuration_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="15 s and 30 min"):
        CloudTasksQueue(RecordingClient(), QUEUE, URL, None, None, timedelta(hours=1))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="MW_TASKS_QUEUE"):
        CloudTasksQueue.from_settings(Settings.from_env({"MW_DISPATCH_URL": URL}))
    with pytest.raises(ValueError, match="timezone-aware"):
        queue(RecordingClient()).schedule("t", datetime(2026, 1, 1), {})


def test_from_settings_talks_to_the_emulator_on_a_plain_channel_without_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The client uses the gRPC transport with or without the emulator: what tells them apart is the channel.
    opened: list[tuple[str, grpc.Channel]] = []
    plain_channel = grpc.insecure_channel

    def recording(target: str, *args: Any, **kwargs: Any) -> grpc.Channel:
        opened.append((target, plain_channel(target, *args, **kwargs)))
        return opened[-1][1]

    def no_credentials(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the emulator needs no Google credentials")

    monkeypatch.setattr(grpc, "insecure_channel", recording)
    monkeypatch.setattr(google.auth, "default", no_credentials)
    settings = Settings.from_env(
        {"MW_TASKS_QUEUE": QUEUE, "MW_DISPATCH_URL": URL, "MW_TASKS_EMULATOR_HOST": "127.0.0.1:1"}
    )
    built = CloudTasksQueue.from_settings(settings)
    [(target, channel)] = opened
    assert target == "127.0.0.1:1"
    transport = built._client.transport
    assert isinstance(transport, CloudTasksGrpcTransport)
    assert transport.grpc_channel is channel


def test_memory_queue_dedups_names_even_after_delivery_or_delete() -> None:
    tasks = MemoryTaskQueue()
    assert tasks.schedule("a", AT, {"n": 1}) is True
    assert tasks.schedule("a", AT + timedelta(hours=1), {"n": 2}) is False
    assert tasks.schedule("b", AT + timedelta(minutes=5), {"n": 3}) is True
    assert [t.name for t in tasks.due(AT)] == ["a"]
    assert [t.name for t in tasks.take_due(AT + timedelta(minutes=5))] == ["a", "b"]
    assert tasks.pending() == []
    assert tasks.schedule("a", AT, {}) is False
    assert tasks.schedule("c", AT, {})
    assert tasks.delete("c")
    assert not tasks.delete("c")
    assert tasks.schedule("c", AT, {}) is False
    assert tasks.rejected == ["a", "a", "c"]
