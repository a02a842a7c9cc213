"""Who the adapter is, to each CalDAV server, for each person: a service account or the person's app password.

The secret is one JSON object, from the environment (MW_CALDAV_CREDENTIALS, which Cloud Run fills from a
Secret Manager secret; docs/deploy.md), never from the team rules and never logged:

    {"service_account": {"username": "mw-bot", "password": "..."},
     "service_accounts": {"https://dav.example/": {"username": "...", "password": "..."}},
     "app_passwords": {"alice@example.com": {"username": "alice", "password": "..."}}}

`service_accounts` (by server URL) beats `service_account`; an app password entry's username defaults to
the address. Which one a person's server uses is the team rules' `caldav.credentials`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from maintenance_windows.domain.caldav_server import CalDavServer
from maintenance_windows.ports.calendar import CalendarAccessRefused, CalendarDeploymentError


@dataclass(frozen=True)
class Login:
    username: str
    password: str
    #: A service account speaks for everyone: its refusal (401) is the deployment's, not the person's.
    shared: bool

    def __repr__(self) -> str:  # never a password in a log line or a traceback
        return f"Login(username={self.username!r}, shared={self.shared})"


class CalDavCredentials:
    def __init__(self, secret: Mapping[str, Any]) -> None:
        self._lock = threading.Lock()
        self._service = _login(secret.get("service_account"), None, shared=True)
        self._by_server = {
            url.rstrip("/"): login
            for url, entry in dict(secret.get("service_accounts") or {}).items()
            if (login := _login(entry, None, shared=True)) is not None
        }
        self._people = {
            email.lower(): login
            for email, entry in dict(secret.get("app_passwords") or {}).items()
            if (login := _login(entry, email, shared=False)) is not None
        }

    @classmethod
    def from_json(cls, text: str | None) -> CalDavCredentials:
        if not text:
            return cls({})
        try:
            loaded = json.loads(text)
        except ValueError:
            raise CalendarDeploymentError(
                "MW_CALDAV_CREDENTIALS is not JSON", reason="caldav_credentials_invalid"
            ) from None
        if not isinstance(loaded, dict):
            raise CalendarDeploymentError(
                "MW_CALDAV_CREDENTIALS must be a JSON object", reason="caldav_credentials_invalid"
            )
        return cls(loaded)

    def __repr__(self) -> str:
        return f"CalDavCredentials(servers={len(self._by_server)}, people={len(self._people)})"

    def login_for(self, email: str, server: CalDavServer) -> Login:
        if server.credentials == "app_passwords":
            with self._lock:
                person = self._people.get(email.lower())
            if person is None:
                raise CalendarAccessRefused(f"no app password for {email}", reason="not_delegated")
            return person
        shared = self._by_server.get(server.url.rstrip("/"), self._service)
        if shared is None:
            raise CalendarDeploymentError(
                f"no CalDAV service account for {server.url} in MW_CALDAV_CREDENTIALS",
                reason="caldav_not_configured",
            )
        return shared

    def set_app_password(self, email: str, username: str, password: str) -> None:
        """A person's app password changed (e.g. rotated from Secret Manager)."""
        with self._lock:
            self._people[email.lower()] = Login(username, password, shared=False)


def _login(entry: Any, email: str | None, *, shared: bool) -> Login | None:
    if isinstance(entry, str) and email:
        return Login(email, entry, shared)
    if not isinstance(entry, Mapping) or not isinstance(entry.get("password"), str):
        return None
    username = entry.get("username") or email
    return Login(str(username), entry["password"], shared) if username else None
