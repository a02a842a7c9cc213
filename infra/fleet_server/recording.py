"""What the stand-in saw: the Fleet API request log and the webhook receivers."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class LoggedRequest:
    seq: int
    time: float
    method: str
    #: /api/latest/... is logged as /api/v1/..., so filters need one spelling.
    path: str
    raw_path: str
    query: dict[str, str]
    body: Any
    status: int
    fault: str | None
    authorized: bool


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LoggedRequest] = []

    def append(self, **fields: Any) -> None:
        with self._lock:
            self._entries.append(LoggedRequest(seq=len(self._entries) + 1, time=time.time(), **fields))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def query(self, filters: Mapping[str, str]) -> list[dict[str, Any]]:
        """Filters (all optional): method, path (exact), path_contains, status, since (seq, exclusive)."""
        with self._lock:
            entries = list(self._entries)
        method = filters.get("method", "").upper()
        since = int(filters.get("since") or 0)
        status = int(filters["status"]) if filters.get("status") else None
        return [
            asdict(e)
            for e in entries
            if e.seq > since
            and (not method or e.method == method)
            and (not filters.get("path") or e.path == filters["path"])
            and (not filters.get("path_contains") or filters["path_contains"] in e.path)
            and (status is None or e.status == status)
        ]


@dataclass
class _Hook:
    received: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    fail_status: int = 429
    retry_after: int | None = 0


class HookReceivers:
    """Named receivers for webhooks (e.g. Fleet's calendar-webhook payload sent to a compatible flow)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hooks: dict[str, _Hook] = {}

    def receive(self, name: str, body: Any, *, authorization: str, content_type: str) -> tuple[int, int | None]:
        """Record one POST; answer (status, retry_after) — a configured failure or 200."""
        with self._lock:
            hook = self._hooks.setdefault(name, _Hook())
            failing = hook.fail_next > 0
            if failing:
                hook.fail_next -= 1
            hook.received.append(
                {
                    "time": time.time(),
                    "body": body,
                    "content_type": content_type,
                    # The scheme only: enough to prove no Fleet bearer token leaked, without storing it.
                    "authorization_scheme": authorization.split(" ", 1)[0] if authorization else None,
                    "answered": hook.fail_status if failing else 200,
                }
            )
            return (hook.fail_status, hook.retry_after) if failing else (200, None)

    def configure(self, name: str, *, fail_next: int, status: int, retry_after: int | None) -> None:
        with self._lock:
            hook = self._hooks.setdefault(name, _Hook())
            hook.fail_next, hook.fail_status, hook.retry_after = fail_next, status, retry_after

    def received(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._hooks.get(name, _Hook()).received)

    def clear(self, name: str | None = None) -> None:
        with self._lock:
            if name is None:
                self._hooks.clear()
            else:
                self._hooks.pop(name, None)
