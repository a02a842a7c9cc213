"""Graph requests on one pooled session: single calls and JSON $batch, with the shared retry and quota.

- Every call passes the client-side limiter (`rate_limit.QuotaLimiter`), holding the app's share of
  Outlook's per-mailbox limit summed over a run (https://learn.microsoft.com/en-us/graph/throttling-limits:
  10,000 requests per 10 minutes per app and mailbox, 4 concurrent requests per mailbox).
- 429 and 503/504 are retried with the shared policy (`http_retry.RetryPolicy`); Graph's Retry-After is
  honoured, for a plain call and for a part of a batch alike (https://learn.microsoft.com/en-us/graph/throttling).
- `$batch` carries at most 20 requests (https://learn.microsoft.com/en-us/graph/json-batching); only the
  failed parts are sent again (`batching.BatchRunner`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
import tenacity

from maintenance_windows.adapters.batching import BatchRunner, Call, Failure
from maintenance_windows.adapters.call_stats import CallStats
from maintenance_windows.adapters.http_retry import RetryPolicy
from maintenance_windows.adapters.http_session import pooled_session
from maintenance_windows.adapters.microsoft_graph.tokens import GraphTokens
from maintenance_windows.adapters.rate_limit import QuotaLimiter
from maintenance_windows.ports.calendar import CalendarError, CalendarUnavailable

GRAPH_ENDPOINT = "https://graph.microsoft.com/v1.0"
MAX_BATCH = 20
TRANSIENT = frozenset({429, 500, 502, 503, 504})
_WORTH_AGAIN = tenacity.retry_if_exception_type(CalendarUnavailable) | tenacity.retry_if_result(
    lambda answer: answer.status in TRANSIENT
)


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # relative to the version root, e.g. /users/a@b/events
    body: Any = None


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    retry_after: float | None = None

    @property
    def code(self) -> str:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return str(error.get("code", "")) if isinstance(error, dict) else ""

    @property
    def message(self) -> str:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return str(error.get("message", ""))[:300] if isinstance(error, dict) else ""


class GraphTransport:
    def __init__(
        self,
        *,
        tokens: GraphTokens,
        endpoint: str = GRAPH_ENDPOINT,
        limiter: QuotaLimiter,
        retry: RetryPolicy,
        stats: CallStats,
        concurrency: int = 4,
        timeout_seconds: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._tokens = tokens
        self._endpoint = endpoint.rstrip("/")
        self._limiter = limiter
        self._retry = retry
        self.stats = stats
        self._timeout = timeout_seconds
        self._sleep = sleep
        self._session = pooled_session(concurrency)
        self._runner: BatchRunner[Request] = BatchRunner(
            self._send_batch,
            batch_size=MAX_BATCH,
            concurrency=concurrency,
            retry=retry,
            stats=stats,
            sleep=sleep,
            service="graph",
        )

    # ---- one call ---------------------------------------------------------------------------------------

    def call(self, method_name: str, request: Request) -> Answer:
        """One request, retried while transient; the last answer is returned (the caller reads errors)."""

        def once() -> Answer:
            self._limiter.acquire()
            self.stats.record([method_name])
            try:
                response = self._session.request(
                    request.method,
                    self._endpoint + request.path,
                    json=request.body,
                    headers=self._headers(),
                    timeout=self._timeout,
                )
            except requests.RequestException as failed:
                raise CalendarUnavailable(f"Graph unreachable: {type(failed).__name__}", reason="transport") from None
            return _answer(response.status_code, _json(response), response.headers)

        def server_asked(state: tenacity.RetryCallState) -> float | None:
            assert state.outcome is not None
            return None if state.outcome.failed else state.outcome.result().retry_after

        answer: Answer = self._retry.retrying(_WORTH_AGAIN, sleep=self._sleep, retry_after=server_asked)(once)
        if answer.status in TRANSIENT:
            raise CalendarUnavailable(
                f"Graph {method_name}: {answer.status} {answer.code}",
                status=answer.status,
                reason=answer.code or "unavailable",
            )
        return answer

    # ---- many calls -------------------------------------------------------------------------------------

    def run(self, calls: Sequence[Call[Request]]) -> dict[str, Answer | Failure]:
        """Each call's final answer (non-transient) or the transient Failure that outlasted its retries."""
        outcomes = self._runner.run(calls)
        return {key: outcome for key, outcome in outcomes.items()}

    def _send_batch(self, chunk: Sequence[Call[Request]]) -> Mapping[str, Any]:
        if len(chunk) == 1:
            call = chunk[0]
            try:
                return {call.key: _outcome(self._single(call))}
            except CalendarUnavailable as down:
                return {call.key: Failure(down.status, down.reason or "transport", str(down), transient=True)}
        self._limiter.acquire(len(chunk))
        self.stats.record([call.method for call in chunk])
        payload = {"requests": [_part(call) for call in chunk]}
        try:
            response = self._session.post(
                self._endpoint + "/$batch", json=payload, headers=self._headers(), timeout=self._timeout
            )
        except requests.RequestException as failed:
            return {c.key: Failure(None, "transport", type(failed).__name__, transient=True) for c in chunk}
        body = _json(response)
        if response.status_code != 200 or not isinstance(body, dict):
            envelope = _answer(response.status_code, body, response.headers)
            if response.status_code in TRANSIENT:
                return {c.key: Failure(envelope.status, envelope.code, envelope.message, transient=True) for c in chunk}
            raise CalendarError(
                f"Graph refused the batch: {envelope.status} {envelope.code} {envelope.message}",
                status=envelope.status,
                reason=envelope.code,
            )
        answered: dict[str, Any] = {}
        for part in body.get("responses", []):
            answered[str(part.get("id"))] = _outcome(
                _answer(int(part.get("status", 500)), part.get("body"), part.get("headers") or {})
            )
        for call in chunk:
            answered.setdefault(call.key, Failure(None, "missing", "no answer in the batch", transient=True))
        return answered

    def _single(self, call: Call[Request]) -> Answer:
        request = call.build()
        self._limiter.acquire()
        self.stats.record([call.method])
        try:
            response = self._session.request(
                request.method,
                self._endpoint + request.path,
                json=request.body,
                headers=self._headers(),
                timeout=self._timeout,
            )
        except requests.RequestException as failed:
            raise CalendarUnavailable(f"Graph unreachable: {type(failed).__name__}", reason="transport") from None
        return _answer(response.status_code, _json(response), response.headers)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._tokens.token()}", "Content-Type": "application/json"}


def _part(call: Call[Request]) -> dict[str, Any]:
    request = call.build()
    part: dict[str, Any] = {"id": call.key, "method": request.method, "url": request.path}
    if request.body is not None:
        part["body"] = request.body
        part["headers"] = {"Content-Type": "application/json"}
    return part


def _outcome(answer: Answer) -> Answer | Failure:
    if answer.status in TRANSIENT:
        return Failure(
            answer.status, answer.code or "throttled", answer.message, transient=True, retry_after=answer.retry_after
        )
    return answer


def _answer(status: int, body: Any, headers: Mapping[str, str]) -> Answer:
    retry_after = None
    raw = {k.lower(): v for k, v in headers.items()}.get("retry-after")
    if raw is not None:
        try:
            retry_after = float(raw)
        except ValueError:
            retry_after = None
    return Answer(status, body, retry_after)


def _json(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return {"error": {"code": "NotJson", "message": response.text[:200]}}
