"""The one retry mechanism of every HTTP adapter: tenacity, exponential backoff with full jitter.

An adapter says what is worth retrying (its provider's transient answers) and may name a wait the server
asked for (Retry-After); this module says how often and how long to wait. The wait before retry n is
uniform(0, min(cap, base * 2**(n-1))) ("full jitter"), so clients that failed together do not come back
together; a Retry-After answer is honoured up to `max_retry_after_seconds`, longer waits being the caller's
own schedule's job (a task queue, the next planner run).

Batches build on it in `adapters/batching.py` (only the failed parts are sent again).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tenacity
from tenacity import RetryCallState
from tenacity.retry import retry_base
from tenacity.wait import wait_base, wait_random_exponential

#: The seconds a failed attempt asks to wait (e.g. its Retry-After header), or None to back off as usual.
RetryAfter = Callable[[RetryCallState], float | None]
#: Called before each sleep with the attempt that failed and the delay chosen.
BeforeSleep = Callable[[RetryCallState, float], None]


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, and how long to wait between them."""

    max_attempts: int = 6
    base_delay_seconds: float = 0.5
    max_delay_seconds: float = 32.0
    max_retry_after_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay_seconds < 0 or self.max_delay_seconds < 0 or self.max_retry_after_seconds < 0:
            raise ValueError("retry delays must not be negative")

    def retrying(
        self,
        retry: retry_base,
        *,
        sleep: Callable[[float], None] = time.sleep,
        retry_after: RetryAfter | None = None,
        before_sleep: BeforeSleep | None = None,
    ) -> tenacity.Retrying:
        """A Retrying that ends with the last attempt's own outcome: its result, or its exception re-raised."""
        wait = _ServerOrBackoff(self, retry_after)

        def announce(state: RetryCallState) -> None:
            if before_sleep is not None:
                before_sleep(state, state.upcoming_sleep)

        return tenacity.Retrying(
            retry=retry,
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=wait,
            sleep=sleep,
            before_sleep=announce,
            retry_error_callback=_last_outcome,
        )


class _ServerOrBackoff(wait_base):
    """The server's Retry-After when it sent one (capped), else full-jitter exponential backoff."""

    def __init__(self, policy: RetryPolicy, retry_after: RetryAfter | None) -> None:
        self._policy = policy
        self._retry_after = retry_after
        self._backoff = wait_random_exponential(multiplier=policy.base_delay_seconds, max=policy.max_delay_seconds)

    def __call__(self, retry_state: RetryCallState) -> float:
        asked = self._retry_after(retry_state) if self._retry_after is not None else None
        if asked is not None:
            return max(0.0, min(asked, self._policy.max_retry_after_seconds))
        return float(self._backoff(retry_state))


def _last_outcome(state: RetryCallState) -> Any:
    assert state.outcome is not None
    return state.outcome.result()  # re-raises the last exception, if that is how it ended
