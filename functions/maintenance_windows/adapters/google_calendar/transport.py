"""Sending Calendar calls: one at a time or in HTTP batches, under the quota, retried while transient.

A batch part carries its own user's Authorization header, so one envelope serves many users; its
credentials are minted before the batch is built, and a user whose credentials are refused fails alone
(a call with `alternates` is sent as the first of them whose credentials work instead). A token that was
valid when minted can still be answered 401 (delegation revoked since): googleapiclient then refreshes that
part's credentials and sends it again, and a refused refresh fails that part alone too (_PerPartBatch).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import google.auth.exceptions
import google_auth_httplib2
import tenacity
from googleapiclient.http import BatchHttpRequest, HttpRequest

from maintenance_windows.adapters.batching import BatchRunner, Call, Failure, log_retry
from maintenance_windows.adapters.call_stats import CallStats
from maintenance_windows.adapters.google_calendar.failures import classify, to_port_error
from maintenance_windows.adapters.google_calendar.user_credentials import UserCredentials
from maintenance_windows.adapters.http_retry import RetryPolicy
from maintenance_windows.adapters.rate_limit import QuotaLimiter

GOOGLE_API_ENDPOINT = "https://www.googleapis.com/calendar/v3/"
GOOGLE_BATCH_URI = "https://www.googleapis.com/batch/calendar/v3"
SERVICE = "calendar"


class CalendarTransport:
    def __init__(
        self,
        *,
        credentials: UserCredentials,
        limiter: QuotaLimiter,
        stats: CallStats,
        retry: RetryPolicy,
        sleep: Callable[[float], None],
        batch_uri: str,
        batch_size: int,
        concurrency: int,
    ) -> None:
        self._credentials = credentials
        self._limiter = limiter
        self._stats = stats
        self._retry = retry
        self._sleep = sleep
        self._batch_uri = batch_uri
        self._batches: BatchRunner[HttpRequest] = BatchRunner(
            self.send_batch,
            batch_size=batch_size,
            concurrency=concurrency,
            retry=retry,
            stats=stats,
            sleep=sleep,
            service=SERVICE,
        )

    def execute(self, email: str, method: str, make_request: Callable[[], HttpRequest]) -> Any:
        """One call, retried while transient; raises CalendarError (or a subclass) otherwise."""

        def attempt() -> Any:
            http = self._credentials.authorized_http(email)
            if isinstance(http, Failure):
                return http
            self._limiter.acquire()
            self._stats.record([method])
            outcome = self._send_one(make_request, http)
            if isinstance(outcome, Failure) and outcome.credentials_refused:
                # A 401 made AuthorizedHttp refresh the token, and the token endpoint refused it.
                self._credentials.remember(email, outcome)
            return outcome

        def before_sleep(state: tenacity.RetryCallState, delay: float) -> None:
            assert state.outcome is not None
            self._stats.record_retries(1)
            log_retry(SERVICE, method, state.outcome.result(), state.attempt_number, 1, delay)

        retrying = self._retry.retrying(
            tenacity.retry_if_result(_is_transient), sleep=self._sleep, before_sleep=before_sleep
        )
        outcome = retrying(attempt)
        if isinstance(outcome, Failure):
            raise to_port_error(outcome, method)
        return outcome

    def run(self, calls: Sequence[Call[HttpRequest]]) -> dict[str, Any]:
        """Outcome per call key, batched; see adapters/batching.py."""
        return self._batches.run(calls)

    def send_batch(self, chunk: Sequence[Call[HttpRequest]]) -> Mapping[str, Any]:
        outcomes: dict[str, Any] = {}
        ready: list[tuple[Call[HttpRequest], google_auth_httplib2.AuthorizedHttp]] = []
        for call in chunk:
            http = self._http_for(call)
            if isinstance(http, Failure):
                outcomes[call.key] = http  # this user alone: the others still go out
            else:
                ready.append((call, http))
        if not ready:
            return outcomes
        self._limiter.acquire(len(ready))
        self._stats.record([call.method for call, _ in ready])
        if len(ready) == 1:
            # A lone call needs no multipart envelope; Google counts it the same.
            call, http = ready[0]
            outcome = self._send_one(call.build, http)
            if isinstance(outcome, Failure) and outcome.credentials_refused:
                self._credentials.remember(call.user, outcome)
            outcomes[call.key] = outcome
            return outcomes
        return {**outcomes, **self._send_multipart(ready)}

    def _send_multipart(
        self, ready: Sequence[tuple[Call[HttpRequest], google_auth_httplib2.AuthorizedHttp]]
    ) -> dict[str, Any]:
        answered: dict[str, Any] = {}

        users = {call.key: call.user for call, _ in ready}

        def collect(request_id: str, response: Any, exception: Exception | None) -> None:
            refused = batch.refresh_refused.get(request_id)
            if refused is not None:  # its 401 stands; the reason is the token endpoint's
                answered[request_id] = self._credentials.remember_refusal(users[request_id], refused)
            else:
                answered[request_id] = response if exception is None else _failure_or_raise(exception)

        batch = _PerPartBatch(callback=collect, batch_uri=self._batch_uri)
        for call, http in ready:
            request = call.build()
            request.http = http  # the part is signed with its own user's (freshly minted) token
            batch.add(request, request_id=call.key)
        try:
            batch.execute(http=ready[0][1])
        except Exception as error:  # noqa: BLE001  # fails every unanswered part; _failure_or_raise re-raises the rest
            failure = _failure_or_raise(error)
            for call, _ in ready:
                answered.setdefault(call.key, failure)
        return answered

    def _http_for(self, call: Call[HttpRequest]) -> google_auth_httplib2.AuthorizedHttp | Failure:
        """As the call's user, or else as the first alternate whose credentials are not refused."""
        first: Failure | None = None
        for user in (call.user, *call.alternates):
            http = self._credentials.authorized_http(user)
            if not (isinstance(http, Failure) and http.credentials_refused):
                return http
            first = first or http
        assert first is not None
        return first

    @staticmethod
    def _send_one(make_request: Callable[[], HttpRequest], http: google_auth_httplib2.AuthorizedHttp) -> Any:
        try:
            return make_request().execute(http=http, num_retries=0)
        except Exception as error:  # noqa: BLE001  # classified by _failure_or_raise, which re-raises the rest
            return _failure_or_raise(error)


class _PerPartBatch(BatchHttpRequest):  # type: ignore[misc]  # googleapiclient ships no annotations
    """BatchHttpRequest whose 401 parts are refreshed one by one: a part whose refresh is refused keeps its
    401 and is not sent again, instead of the RefreshError failing the whole envelope.

    googleapiclient's own execute() refreshes every 401 part's credentials in a loop and lets the first
    RefreshError escape, after which no callback runs, so every user in the batch would be blamed.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.refresh_refused: dict[str, google.auth.exceptions.RefreshError] = {}

    def _refresh_and_apply_credentials(self, request: HttpRequest, http: Any) -> None:
        try:
            super()._refresh_and_apply_credentials(request, http)
        except google.auth.exceptions.RefreshError as refused:
            request_id = next(key for key, value in self._requests.items() if value is request)
            self.refresh_refused[request_id] = refused

    def _execute(self, http: Any, order: list[str], requests: dict[str, HttpRequest]) -> None:
        sendable = [request_id for request_id in order if request_id not in self.refresh_refused]
        if sendable:
            super()._execute(http, sendable, {request_id: requests[request_id] for request_id in sendable})


def batch_uri_for(api_endpoint: str) -> str:
    """The batch endpoint beside an api_endpoint ending in /calendar/v3/.

    service.new_batch_http_request() ignores api_endpoint and always targets www.googleapis.com.
    """
    root = api_endpoint.rstrip("/")
    suffix = "/calendar/v3"
    if not root.endswith(suffix):
        raise ValueError(f"calendar api_endpoint must end with /calendar/v3/: {api_endpoint!r}")
    return f"{root[: -len(suffix)]}/batch/calendar/v3"


def _is_transient(outcome: Any) -> bool:
    return isinstance(outcome, Failure) and outcome.transient


def _failure_or_raise(error: Exception) -> Failure:
    failure = classify(error)
    if failure is None:
        raise error
    return failure
