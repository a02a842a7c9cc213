"""What makes the stand-in behave like a shared, rate-limited, occasionally failing service.

Latency is paid once per HTTP round trip (a batch is one); quotas and faults apply per API call (each
part of a batch), as Google counts them. Admin calls never pass through here.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from infra.calendar_server.errors import ApiError, backend_error, rate_limited

WINDOW_SECONDS = 60.0
REQUEST_LOG_SIZE = 5000


@dataclass
class GateConfig:
    latency_ms: int = 0
    project_quota_per_minute: int | None = None
    user_quota_per_minute: int | None = None
    quota_status: int = 403  # Google answers quota overruns with 403 (usageLimits) or 429
    fault_rate: float = 0.0
    fault_statuses: list[int] = field(default_factory=lambda: [429, 500])
    seed: int | None = None
    #: Google's newer error format: `details` (google.rpc.ErrorInfo) next to the legacy `errors` list.
    error_details: bool = False

    def updated(self, changes: dict[str, Any]) -> GateConfig:
        known = {item.name for item in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        merged = GateConfig(**{**asdict(self), **changes})
        if merged.quota_status not in (403, 429):
            raise ValueError("quota_status must be 403 or 429")
        if not 0.0 <= merged.fault_rate <= 1.0:
            raise ValueError("fault_rate must be within [0, 1]")
        return merged


@dataclass(frozen=True)
class ScriptedFault:
    """Fail the next matching call(s) with this status and reason."""

    status: int
    reason: str | None = None
    method: str | None = None
    user: str | None = None
    details: bool = False
    message: str | None = None


class CallGate:
    def __init__(self, config: GateConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.config = config or GateConfig()
        self._random = random.Random(self.config.seed)
        self._project_window: deque[float] = deque()
        self._user_windows: dict[str, deque[float]] = {}
        self._scripted: list[ScriptedFault] = []
        self.calls: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.round_trips = 0
        self.batch_round_trips = 0
        self.log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)

    def configure(self, changes: dict[str, Any]) -> GateConfig:
        with self._lock:
            self.config = self.config.updated(changes)
            if "seed" in changes:
                self._random = random.Random(self.config.seed)
            return self.config

    def script_faults(self, faults: list[ScriptedFault]) -> None:
        with self._lock:
            self._scripted.extend(faults)

    def reset_counters(self) -> None:
        with self._lock:
            self.calls.clear()
            self.rejected.clear()
            self.round_trips = 0
            self.batch_round_trips = 0
            self.log.clear()

    def reset(self) -> None:
        with self._lock:
            self.config = GateConfig()
            self._random = random.Random()
            self._project_window.clear()
            self._user_windows.clear()
            self._scripted.clear()
        self.reset_counters()

    def round_trip(self, *, batch: bool) -> None:
        """Count one HTTP exchange and pay the injected latency, outside any lock."""
        with self._lock:
            self.round_trips += 1
            self.batch_round_trips += int(batch)
            delay = self.config.latency_ms / 1000
        if delay > 0:
            time.sleep(delay)

    def admit(self, method_id: str, user: str | None) -> None:
        """Count one API call; raise the error Google would answer instead, if any."""
        with self._lock:
            self.calls[method_id] += 1
            error = self._scripted_fault(method_id, user) or self._quota_error(user) or self._random_fault()
            if error is not None:
                self.rejected[error.reason] += 1
                raise error

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.log.append(entry)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(self.calls),
                "total_calls": sum(self.calls.values()),
                "rejected": dict(self.rejected),
                "round_trips": self.round_trips,
                "batch_round_trips": self.batch_round_trips,
            }

    def recent_requests(self, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.log)[-limit:]

    def _scripted_fault(self, method_id: str, user: str | None) -> ApiError | None:
        for index, fault in enumerate(self._scripted):
            if fault.method not in (None, method_id) or fault.user not in (None, user):
                continue
            del self._scripted[index]
            error = fault_error(fault.status, fault.reason, fault.message)
            return error.with_error_info(method_id) if fault.details else error
        return None

    def _quota_error(self, user: str | None) -> ApiError | None:
        now = time.monotonic()
        status = self.config.quota_status
        user_window = self._user_windows.setdefault(user or "", deque())
        if _full(user_window, self.config.user_quota_per_minute, now):
            return rate_limited(status, "userRateLimitExceeded" if status == 403 else "rateLimitExceeded")
        if _full(self._project_window, self.config.project_quota_per_minute, now):
            return rate_limited(status, "rateLimitExceeded")
        user_window.append(now)
        self._project_window.append(now)
        return None

    def _random_fault(self) -> ApiError | None:
        if self.config.fault_rate <= 0 or self._random.random() >= self.config.fault_rate:
            return None
        return fault_error(self._random.choice(self.config.fault_statuses), None)


def _full(window: deque[float], limit: int | None, now: float) -> bool:
    while window and window[0] <= now - WINDOW_SECONDS:
        window.popleft()
    return limit is not None and len(window) >= limit


def fault_error(status: int, reason: str | None, message: str | None = None) -> ApiError:
    if status in (403, 429) and message is None:
        return rate_limited(status, reason or "rateLimitExceeded")
    if status == 500 and reason is None and message is None:
        return backend_error()
    if status == 503:
        return ApiError(503, reason or "backendError", message or "The service is currently unavailable.")
    if status == 410:
        # 410 carries fullSyncRequired on an expired sync token, deleted on a deleted event, or another reason.
        return ApiError(410, reason or "fullSyncRequired", message or "Gone", domain="calendar")
    return ApiError(status, reason or "badRequest", message or "Injected fault")
