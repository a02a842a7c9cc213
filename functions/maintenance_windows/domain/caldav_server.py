"""Where a team's CalDAV calendars live and how the product reaches each person's (docs/caldav.md).

Part of the team rules (`caldav:` beside `calendar: caldav`); it holds no secret: credentials come from the
environment or Secret Manager (adapters/caldav/credentials.py), never from the rules file.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PLACEHOLDERS = ("{email}", "{user}")


class CalDavServer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The server's root, e.g. https://cloud.example.com/remote.php/dav/ (Nextcloud).
    url: str = Field(pattern=r"^https?://", max_length=500)
    #: Each person's calendar collection, relative to `url`: {email} is the address, {user} its local part.
    #: Unused with `discover`.
    calendar_path: str = Field(default="{email}/calendar/", max_length=300)
    #: Find each calendar from the server instead: current-user-principal, then calendar-home-set (RFC 4791
    #: 6.2.1), then the first collection there that holds events. Costs up to three requests per person,
    #: once per process.
    discover: bool = False
    #: "service_account": one account the server lets write everyone's calendar (delegation);
    #: "app_passwords": each person's own app password. Both from MW_CALDAV_CREDENTIALS, never from here.
    credentials: Literal["service_account", "app_passwords"] = "service_account"
    #: Where busy time comes from: "events" (a calendar-query with recurrence expansion, which sees declined
    #: invitations and out-of-office) or "free-busy" (the server's free-busy-query REPORT, for accounts that
    #: may read free/busy only); a server that refuses free-busy-query is read through events instead.
    busy_from: Literal["events", "free-busy"] = "events"

    @model_validator(mode="after")
    def _reachable(self) -> CalDavServer:
        if not self.discover and not any(mark in self.calendar_path for mark in PLACEHOLDERS):
            raise ValueError("calendar_path must contain {email} or {user} (or set discover: true)")
        return self

    def calendar_url(self, email: str) -> str:
        """The person's calendar collection by the pattern (always ends with a slash)."""
        user = email.partition("@")[0]
        path = self.calendar_path.replace("{email}", email).replace("{user}", user).lstrip("/")
        return self.url.rstrip("/") + "/" + path.rstrip("/") + "/"
