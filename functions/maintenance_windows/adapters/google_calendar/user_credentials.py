"""Each user's delegated credentials, minted before they are used, and an authorized http to send them with.

Minting first (rather than letting the client refresh inside a request) is what lets one user fail alone:
a batch part is signed with its token as it is, so a user whose token cannot be minted is known before the
batch is built, and left out of it. A refusal is remembered for a while (one token request per user per
run, not one per call); a deployment error is remembered briefly too, so IAM is asked once, not once per
user or thread, and the same error is raised to every caller.

Requests are built by one shared service object and executed with a per-user authorized http, rather
than building a service per user: build() costs milliseconds and memory per user, credentials do not.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import google.auth.credentials
import google.auth.exceptions
import google_auth_httplib2
import httplib2

from maintenance_windows.adapters.batching import Failure
from maintenance_windows.adapters.calendar_credentials import CredentialsFactory
from maintenance_windows.adapters.google_calendar.failures import classify
from maintenance_windows.ports.calendar import CalendarDeploymentError

REFUSAL_MEMORY_SECONDS = 600.0
DEPLOYMENT_ERROR_MEMORY_SECONDS = 60.0


class UserCredentials:
    """Thread-safe. Credentials are kept per user (least recently used dropped first)."""

    def __init__(
        self,
        factory: CredentialsFactory,
        *,
        cache_size: int = 4096,
        http_timeout_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_refusal: Callable[[str], None] = lambda _email: None,
    ) -> None:
        self._factory = factory
        self._on_refusal = on_refusal
        self._cache_size = cache_size
        self._timeout = http_timeout_seconds
        self._clock = clock
        self._credentials: OrderedDict[str, google.auth.credentials.Credentials] = OrderedDict()
        self._refused: dict[str, tuple[Failure, float]] = {}
        self._broken: tuple[CalendarDeploymentError, float] | None = None
        self._lock = threading.Lock()
        # httplib2.Http is not thread-safe: one connection pool per thread, shared by all users.
        self._thread_http = threading.local()

    def authorized_http(self, email: str) -> google_auth_httplib2.AuthorizedHttp | Failure:
        """An http that sends valid credentials as `email`, or the Failure that kept us from minting them.

        Raises CalendarDeploymentError when nobody's credentials can be minted.
        """
        refused = self._remembered_refusal(email)
        if refused is not None:
            return refused
        credentials = self._credentials_of(email)
        http = self._http()
        if not credentials.valid:
            failure = self._mint(email, credentials, http)
            if failure is not None:
                return failure
        return google_auth_httplib2.AuthorizedHttp(credentials, http=http)

    def credentials_of(self, email: str) -> google.auth.credentials.Credentials:
        return self._credentials_of(email)

    def remember_refusal(self, email: str, error: google.auth.exceptions.RefreshError) -> Failure:
        """A refresh refused outside _mint (after a 401, inside a batch): classify and remember it.

        Raises CalendarDeploymentError when the refusal is about our service account."""
        failure = classify(error)
        assert failure is not None, "classify reads every RefreshError"
        if failure.credentials_refused:
            self.remember(email, failure)
        return failure

    def remember(self, email: str, failure: Failure) -> None:
        with self._lock:
            self._refused[email] = (failure, self._clock() + REFUSAL_MEMORY_SECONDS)
            # Its token was answered 401: the next try after the memory mints a new one rather than resend it.
            self._credentials.pop(email, None)
        self._on_refusal(email)

    def _mint(
        self, email: str, credentials: google.auth.credentials.Credentials, http: httplib2.Http
    ) -> Failure | None:
        with self._lock:
            if self._broken is not None and self._broken[1] > self._clock():
                raise self._broken[0]
        try:
            credentials.refresh(google_auth_httplib2.Request(http))  # type: ignore[no-untyped-call]
        except CalendarDeploymentError:
            raise
        except Exception as error:  # classified just below; unknown ones re-raised
            try:
                failure = classify(error)
            except CalendarDeploymentError as broken:
                with self._lock:
                    self._broken = (broken, self._clock() + DEPLOYMENT_ERROR_MEMORY_SECONDS)
                raise
            if failure is None:
                raise
            if failure.credentials_refused:
                self.remember(email, failure)
            return failure
        return None

    def _remembered_refusal(self, email: str) -> Failure | None:
        with self._lock:
            if self._broken is not None and self._broken[1] > self._clock():
                raise self._broken[0]
            remembered = self._refused.get(email)
            if remembered is None:
                return None
            if remembered[1] > self._clock():
                return remembered[0]
            del self._refused[email]
            return None

    def _credentials_of(self, email: str) -> google.auth.credentials.Credentials:
        with self._lock:
            credentials = self._credentials.get(email)
            if credentials is not None:
                self._credentials.move_to_end(email)
                return credentials
        credentials = self._factory(email)
        with self._lock:
            self._credentials[email] = credentials
            while len(self._credentials) > self._cache_size:
                self._credentials.popitem(last=False)
        return credentials

    def _http(self) -> httplib2.Http:
        http: httplib2.Http | None = getattr(self._thread_http, "http", None)
        if http is None:
            http = self._thread_http.http = httplib2.Http(timeout=self._timeout)
        return http
