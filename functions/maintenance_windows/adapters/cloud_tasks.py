"""TaskQueue on Cloud Tasks (or the local emulator): named HTTP tasks that POST JSON to dispatch_window.

Names make creation idempotent: the service answers ALREADY_EXISTS for a name in use, or used by a task
deleted or executed recently (a name can take up to 24 hours to be free again, 9 days for queues made
with queue.yaml: tasks_v2 `Task.name`), which is reported as False ("already scheduled"). The emulator
accepts duplicate names and answers UNIMPLEMENTED to delete; the handler is idempotent for exactly that
reason.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from google.api_core import exceptions as google_exceptions
from google.api_core import retry as google_retry
from google.cloud import tasks_v2

from maintenance_windows.config.settings import ConfigurationError, Settings
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.tasks import TaskQueueUnavailable

_logger = get_logger(__name__)

MIN_DISPATCH_DEADLINE = timedelta(seconds=15)
MAX_DISPATCH_DEADLINE = timedelta(minutes=30)
#: create_task is not retried by the client library by default (it is not idempotent in general). Ours
#: are named, so a retry after an unknown outcome is safe: at worst it answers ALREADY_EXISTS.
_CREATE_RETRY = google_retry.Retry(
    predicate=google_retry.if_exception_type(
        google_exceptions.ServiceUnavailable, google_exceptions.DeadlineExceeded, google_exceptions.InternalServerError
    ),
    initial=0.2,
    maximum=5.0,
    timeout=30.0,
)
_CALL_TIMEOUT_SECONDS = 10.0
#: Raised as TaskQueueUnavailable (a later attempt may succeed); any other error means a wrong set-up.
_TRANSIENT = (
    google_exceptions.ServiceUnavailable,
    google_exceptions.DeadlineExceeded,
    google_exceptions.InternalServerError,
    google_exceptions.TooManyRequests,
    google_exceptions.ResourceExhausted,
)


class CloudTasksQueue:
    def __init__(
        self,
        client: tasks_v2.CloudTasksClient,
        queue_path: str,
        target_url: str,
        service_account_email: str | None,
        audience: str | None,
        dispatch_deadline: timedelta = timedelta(minutes=10),
    ) -> None:
        if not MIN_DISPATCH_DEADLINE <= dispatch_deadline <= MAX_DISPATCH_DEADLINE:
            raise ConfigurationError("the dispatch deadline of an HTTP task must be within 15 s and 30 min")
        if not queue_path.startswith("projects/") or "/queues/" not in queue_path:
            raise ConfigurationError("MW_TASKS_QUEUE must look like projects/P/locations/L/queues/Q")
        self._client = client
        self._queue_path = queue_path
        self._target_url = target_url
        self._service_account_email = service_account_email
        self._audience = audience
        self._dispatch_deadline = dispatch_deadline
        self._calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> CloudTasksQueue:
        if not settings.tasks_queue:
            raise ConfigurationError("MW_TASKS_QUEUE is not set")
        if not settings.dispatch_url:
            raise ConfigurationError("MW_DISPATCH_URL is not set")
        return cls(
            tasks_client(settings.tasks_emulator_host),
            settings.tasks_queue,
            settings.tasks_relay_url or settings.dispatch_url,
            settings.task_invoker_service_account,
            settings.dispatch_url,  # the token is for dispatch_window, even when a local relay carries it
        )

    def schedule(self, name: str, at: datetime, payload: Mapping[str, Any]) -> bool:
        task = self._task(name, at, payload)
        try:
            self._client.create_task(
                parent=self._queue_path, task=task, retry=_CREATE_RETRY, timeout=_CALL_TIMEOUT_SECONDS
            )
        except google_exceptions.AlreadyExists:
            self._count("already_exists")
            _logger.debug("task already exists", event="task_exists", task=name)
            return False
        except (*_TRANSIENT, google_exceptions.RetryError) as failure:
            self._count("failed")
            raise TaskQueueUnavailable(f"Cloud Tasks did not take task {name}: {type(failure).__name__}") from failure
        self._count("created")
        _logger.info("task created", event="task_created", task=name, at=at.isoformat())
        return True

    def delete(self, name: str) -> bool:
        try:
            self._client.delete_task(name=self._task_path(name), timeout=_CALL_TIMEOUT_SECONDS)
        except google_exceptions.NotFound:
            self._count("delete_not_found")
            return False
        except google_exceptions.MethodNotImplemented:
            # The local emulator has no delete; the handler ignores stale tasks anyway.
            self._count("delete_unsupported")
            _logger.debug("task queue cannot delete tasks", task=name)
            return False
        self._count("deleted")
        return True

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._calls)

    def _task(self, name: str, at: datetime, payload: Mapping[str, Any]) -> tasks_v2.Task:
        if at.tzinfo is None:
            raise ValueError("the schedule time must be timezone-aware")
        request = tasks_v2.HttpRequest(
            url=self._target_url,
            http_method=tasks_v2.HttpMethod.POST,
            headers={"Content-Type": "application/json"},
            body=json.dumps(dict(payload), separators=(",", ":")).encode(),
        )
        if self._service_account_email:
            request.oidc_token = tasks_v2.OidcToken(
                service_account_email=self._service_account_email, audience=self._audience or self._target_url
            )
        return tasks_v2.Task(
            name=self._task_path(name),
            http_request=request,
            schedule_time=at,
            dispatch_deadline=self._dispatch_deadline,
        )

    def _task_path(self, name: str) -> str:
        return f"{self._queue_path}/tasks/{name}"

    def _count(self, outcome: str) -> None:
        with self._lock:
            self._calls[outcome] += 1


def tasks_client(emulator_host: str | None = None) -> tasks_v2.CloudTasksClient:
    """Google's client, or one on an insecure channel to the local emulator (host:port)."""
    if not emulator_host:
        return tasks_v2.CloudTasksClient()
    import grpc
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

    channel = grpc.insecure_channel(emulator_host)
    return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
