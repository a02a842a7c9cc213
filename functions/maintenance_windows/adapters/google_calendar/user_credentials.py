"""Each user's delegated credentials, and an authorized http to send them with.

Requests are built by one shared service object and executed with a per-user authorized http, rather
than building a service per user: build() costs milliseconds and memory per user, credentials do not.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import google.auth.credentials
import google_auth_httplib2
import httplib2

from maintenance_windows.adapters.batching import Failure
from maintenance_windows.adapters.calendar_credentials import CredentialsFactory
from maintenance_windows.adapters.google_calendar.failures import classify


class UserCredentials:
    """Thread-safe. Credentials are kept per user (least recently used dropped first)."""

    def __init__(
        self, factory: CredentialsFactory, *, cache_size: int = 4096, http_timeout_seconds: float = 30.0
    ) -> None:
        self._factory = factory
        self._cache_size = cache_size
        self._timeout = http_timeout_seconds
        self._credentials: OrderedDict[str, google.auth.credentials.Credentials] = OrderedDict()
        self._lock = threading.Lock()
        # httplib2.Http is not thread-safe: one connection pool per thread, shared by all users.
        self._thread_http = threading.local()

    def authorized_http(self, email: str) -> google_auth_httplib2.AuthorizedHttp | Failure:
        """An http that sends valid credentials as `email`, or the Failure that kept us from refreshing them.

        Batch parts are signed with the token as it is (the client refreshes only the envelope's), so
        expired credentials are refreshed here, before they are used.
        """
        credentials = self.credentials_of(email)
        http = self._http()
        if not credentials.valid:
            try:
                credentials.refresh(google_auth_httplib2.Request(http))  # type: ignore[no-untyped-call]
            except Exception as error:  # classified just below; unknown ones re-raised
                failure = classify(error)
                if failure is None:
                    raise
                return failure
        return google_auth_httplib2.AuthorizedHttp(credentials, http=http)

    def credentials_of(self, email: str) -> google.auth.credentials.Credentials:
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
