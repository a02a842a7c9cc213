"""Many calls, few round trips: calls travel in batches, several batches in flight, and only the parts that
failed transiently are sent again, after the shared retry policy's backoff (`adapters/http_retry.py`).

Provider-neutral: a provider supplies `send(chunk)`, which sends one batch (Google's multipart batch,
Graph's JSON `$batch`, or one plain request for a chunk of one) and answers each call's outcome by key: the
decoded answer, or a `Failure` saying whether it is worth sending again. Sending a batch must not raise for
one part's problem; it raises only for what should stop the whole run (a deployment error, a bug).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import tenacity

from maintenance_windows.adapters.call_stats import CallStats
from maintenance_windows.adapters.http_retry import RetryPolicy
from maintenance_windows.observability import get_logger

_logger = get_logger(__name__)
R = TypeVar("R")
T = TypeVar("T")


@dataclass(frozen=True)
class Call(Generic[R]):
    """One API call made as one user; `build` makes a fresh request for every attempt.

    `alternates`: other users the call may be sent as when `user`'s own credentials are refused (a free/busy
    question about a group can be asked by any member of the group).
    """

    key: str
    user: str
    method: str
    build: Callable[[], R]
    alternates: tuple[str, ...] = ()


@dataclass(frozen=True)
class Failure:
    """Why one call failed; `transient` ones are sent again while attempts remain."""

    status: int | None
    reason: str
    message: str
    transient: bool
    #: The acting user's credentials were refused: that user alone fails, the rest of the batch goes on.
    credentials_refused: bool = False
    #: Seconds the server asked to wait (a part's Retry-After); the next round waits the longest asked.
    retry_after: float | None = None


SendBatch = Callable[[Sequence[Call[R]]], Mapping[str, Any]]


class BatchRunner(Generic[R]):
    def __init__(
        self,
        send: SendBatch[R],
        *,
        batch_size: int,
        concurrency: int,
        retry: RetryPolicy,
        stats: CallStats,
        sleep: Callable[[float], None],
        service: str,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self._send = send
        self._batch_size = batch_size
        self._concurrency = max(1, concurrency)
        self._retry = retry
        self._stats = stats
        self._sleep = sleep
        self._service = service

    def run(self, calls: Sequence[Call[R]]) -> dict[str, Any]:
        """Outcome per call key: the decoded answer, or the Failure that ended its attempts."""
        outcomes: dict[str, Any] = {}
        pending: list[Call[R]] = list(calls)

        def one_round() -> list[Call[R]]:
            nonlocal pending
            again: list[Call[R]] = []
            for answered in self._send_all(list(chunks(pending, self._batch_size))):
                outcomes.update(answered)
            for call in pending:
                outcome = outcomes[call.key]
                if isinstance(outcome, Failure) and outcome.transient:
                    again.append(call)
            pending = again
            return again

        def before_sleep(state: tenacity.RetryCallState, delay: float) -> None:
            assert state.outcome is not None
            again: list[Call[R]] = state.outcome.result()
            first = outcomes[again[0].key]
            self._stats.record_retries(len(again))
            log_retry(self._service, again[0].method, first, state.attempt_number, len(again), delay)

        def server_asked(state: tenacity.RetryCallState) -> float | None:
            assert state.outcome is not None
            asked = [outcomes[call.key].retry_after for call in state.outcome.result()]
            waits = [seconds for seconds in asked if seconds is not None]
            return max(waits) if waits else None

        if pending:
            again_while_any = tenacity.retry_if_result(bool)
            self._retry.retrying(
                again_while_any, sleep=self._sleep, before_sleep=before_sleep, retry_after=server_asked
            )(one_round)
        return outcomes

    def _send_all(self, batches: list[Sequence[Call[R]]]) -> list[Mapping[str, Any]]:
        """Up to `concurrency` batches at a time: round trips, not CPU, bound a 10,000-user run."""
        if self._concurrency == 1 or len(batches) == 1:
            return [self._send(batch) for batch in batches]
        with ThreadPoolExecutor(max_workers=self._concurrency, thread_name_prefix=f"{self._service}-batch") as pool:
            return list(pool.map(self._send, batches))


def log_retry(service: str, method: str, failure: Failure, attempt: int, calls: int, delay: float) -> None:
    _logger.warning(
        f"{service} call will be retried",
        method=method,
        status=failure.status,
        reason=failure.reason,
        attempt=attempt,
        calls=calls,
        delay_seconds=round(delay, 3),
    )


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
