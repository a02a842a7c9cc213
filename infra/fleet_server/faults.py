"""Fault injection for the Fleet API routes (never the admin routes).

Order per request: latency first, then "fail the next N requests", then the random 5xx and 429 rates.
The random source is seeded so a run can be repeated.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class FaultConfig:
    rate_5xx: float = 0.0
    status_5xx: int = 503
    rate_429: float = 0.0
    #: Seconds sent in Retry-After on injected 429s; None sends no header.
    retry_after: int | None = 0
    latency_ms: int = 0
    fail_next: int = 0
    fail_next_status: int = 503
    #: Only requests whose path contains this text are affected (None: every Fleet API request).
    path_contains: str | None = None
    seed: int = 0


@dataclass(frozen=True)
class Fault:
    status: int
    retry_after: int | None

    @property
    def kind(self) -> str:
        return "rate_limited" if self.status == 429 else "server_error"


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._config = FaultConfig()
        self._random = random.Random(0)
        self.injected = 0

    def configure(self, changes: dict[str, Any]) -> FaultConfig:
        """Merge `changes` into the current configuration; unknown keys are an error."""
        with self._lock:
            merged = {**asdict(self._config), **changes}
            config = FaultConfig(**merged)
            _validate(config)
            self._config = config
            if "seed" in changes:
                self._random = random.Random(config.seed)
            return config

    def clear(self) -> None:
        with self._lock:
            self._config = FaultConfig()
            self._random = random.Random(0)

    def config(self) -> FaultConfig:
        with self._lock:
            return self._config

    def decide(self, path: str) -> tuple[float, Fault | None]:
        """(seconds to wait, fault to answer or None) for one request."""
        with self._lock:
            config = self._config
            if config.path_contains is not None and config.path_contains not in path:
                return 0.0, None
            fault = self._pick(config)
            if fault is not None:
                self.injected += 1
            return config.latency_ms / 1000, fault

    def _pick(self, config: FaultConfig) -> Fault | None:
        if config.fail_next > 0:
            self._config = FaultConfig(**{**asdict(config), "fail_next": config.fail_next - 1})
            return Fault(config.fail_next_status, config.retry_after if config.fail_next_status == 429 else None)
        roll = self._random.random()
        if roll < config.rate_5xx:
            return Fault(config.status_5xx, None)
        if roll < config.rate_5xx + config.rate_429:
            return Fault(429, config.retry_after)
        return None


def _validate(config: FaultConfig) -> None:
    if not 0 <= config.rate_5xx <= 1 or not 0 <= config.rate_429 <= 1 or config.rate_5xx + config.rate_429 > 1:
        raise ValueError("rates must be within 0..1 and add up to at most 1")
    if not 500 <= config.status_5xx <= 599:
        raise ValueError("status_5xx must be a 5xx status")
    if config.fail_next < 0 or config.latency_ms < 0:
        raise ValueError("fail_next and latency_ms must not be negative")
    if not 400 <= config.fail_next_status <= 599:
        raise ValueError("fail_next_status must be a 4xx or 5xx status")
