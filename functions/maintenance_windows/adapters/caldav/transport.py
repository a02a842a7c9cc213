"""CalDAV requests on one pooled session, with the shared retry policy and client-side quota.

CalDAV has no batch request: each person's calendar is its own resource (RFC 4791 4.2), so "many calls"
means many plain requests, several in flight (`batching.BatchRunner` with batches of one), only the
failed ones sent again. 429 and 502/503/504 are retried with the shared backoff, a Retry-After honoured
(RFC 9110 10.2.3); a 500 is not: Radicale and others answer it for bad data, where a retry repeats it.
Requests carry HTTP Basic credentials (RFC 7617), the only scheme every CalDAV server offers app
passwords under.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
import tenacity

from maintenance_windows.adapters.batching import BatchRunner, Call, Failure
from maintenance_windows.adapters.caldav.credentials import Login
from maintenance_windows.adapters.call_stats import CallStats
from maintenance_windows.adapters.http_retry import RetryPolicy
from maintenance_windows.adapters.http_session import pooled_session
from maintenance_windows.adapters.rate_limit import QuotaLimiter
from maintenance_windows.ports.calendar import CalendarUnavailable

TRANSIENT = frozenset({429, 502, 503, 504})
XML = "application/xml; charset=utf-8"
ICS = "text/calendar; charset=utf-8"
_WORTH_AGAIN = tenacity.retry_if_exception_type(CalendarUnavailable) | tenacity.retry_if_result(
    lambda answer: answer.status in TRANSIENT
)


@dataclass(frozen=True)
class DavRequest:
    method: str
    url: str
    login: Login
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DavAnswer:
    status: int
    body: bytes
    headers: Mapping[str, str]  # lower-case names

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def retry_after(self) -> float | None:
        raw = self.headers.get("retry-after")
        try:
            return float(raw) if raw is not None else None
        except ValueError:
            return None


class DavTransport:
    def __init__(
        self,
        *,
        limiter: QuotaLimiter,
        retry: RetryPolicy,
        stats: CallStats,
        concurrency: int = 4,
        timeout_seconds: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._limiter = limiter
        self._retry = retry
        self.stats = stats
        self._timeout = timeout_seconds
        self._sleep = sleep
        self.session = pooled_session(concurrency)
        self._runner: BatchRunner[DavRequest] = BatchRunner(
            self._send_one,
            batch_size=1,
            concurrency=concurrency,
            retry=retry,
            stats=stats,
            sleep=sleep,
            service="caldav",
        )

    def call(self, method_name: str, request: DavRequest) -> DavAnswer:
        """One request, retried while transient; the last answer is returned (the caller reads errors)."""

        def server_asked(state: tenacity.RetryCallState) -> float | None:
            assert state.outcome is not None
            return None if state.outcome.failed else state.outcome.result().retry_after

        answer: DavAnswer = self._retry.retrying(_WORTH_AGAIN, sleep=self._sleep, retry_after=server_asked)(
            lambda: self._send(method_name, request)
        )
        if answer.status in TRANSIENT:
            raise CalendarUnavailable(f"CalDAV {method_name}: {answer.status}", status=answer.status)
        return answer

    def run(self, calls: Sequence[Call[DavRequest]]) -> dict[str, DavAnswer | Failure]:
        """Each call's final answer (non-transient) or the transient Failure that outlasted its retries."""
        return dict(self._runner.run(calls))

    def _send_one(self, chunk: Sequence[Call[DavRequest]]) -> Mapping[str, Any]:
        (call,) = chunk
        try:
            answer = self._send(call.method, call.build())
        except CalendarUnavailable as down:
            return {call.key: Failure(None, down.reason or "transport", str(down), transient=True)}
        if answer.status in TRANSIENT:
            failure = Failure(answer.status, "unavailable", "", transient=True, retry_after=answer.retry_after)
            return {call.key: failure}
        return {call.key: answer}

    def _send(self, method_name: str, request: DavRequest) -> DavAnswer:
        self._limiter.acquire()
        self.stats.record([method_name])
        try:
            response = self.session.request(
                request.method,
                request.url,
                data=request.body,
                headers=dict(request.headers),
                auth=(request.login.username, request.login.password),
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.RequestException as failed:
            raise CalendarUnavailable(f"CalDAV unreachable: {type(failed).__name__}", reason="transport") from None
        headers = {name.lower(): value for name, value in response.headers.items()}
        return DavAnswer(response.status_code, response.content, headers)
