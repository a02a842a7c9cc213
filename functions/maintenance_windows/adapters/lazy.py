"""Adapters built on first use.

plan_windows and calendar_notifications need Gemini only on an explanation-cache miss and Cloud Tasks only
when a window is booked or moved; most scheduled runs do neither. google-genai alone costs ~0.25 s to import,
so deferring these keeps every cold start short without giving up the cold-start validation of settings.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar

from maintenance_windows.domain.explanation import Explanation, ExplanationRequest
from maintenance_windows.ports.explainer import Explainer
from maintenance_windows.ports.fleet import FleetPort
from maintenance_windows.ports.tasks import TaskQueue

T = TypeVar("T")


class _Deferred(Generic[T]):
    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._built: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        if self._built is None:
            with self._lock:
                if self._built is None:
                    self._built = self._build()
        return self._built


class LazyFleet:
    """The Fleet client, built on first call: calendar_notifications shares the planner's context but never
    talks to Fleet, so it must start without the Fleet API token (least privilege: it is not given one)."""

    def __init__(self, build: Callable[[], FleetPort]) -> None:
        self._inner = _Deferred(build)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner.get(), name)


class LazyExplainer:
    def __init__(self, build: Callable[[], Explainer]) -> None:
        self._inner = _Deferred(build)

    def explain(self, request: ExplanationRequest) -> Explanation:
        return self._inner.get().explain(request)


class LazyTaskQueue:
    def __init__(self, build: Callable[[], TaskQueue]) -> None:
        self._inner = _Deferred(build)

    def schedule(self, name: str, at: datetime, payload: Mapping[str, Any]) -> bool:
        return self._inner.get().schedule(name, at, payload)

    def delete(self, name: str) -> bool:
        return self._inner.get().delete(name)
