"""Mailboxes, events, delta positions and subscriptions of the Graph stand-in (thread-safe, in memory)."""

from __future__ import annotations

import itertools
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.graph_server.errors import GraphError, invalid, not_found

#: https://learn.microsoft.com/en-us/graph/api/resources/subscription#subscription-lifetime: Outlook events,
#: 10,080 minutes (under 7 days).
MAX_EVENT_SUBSCRIPTION = timedelta(minutes=10080)


@dataclass
class Mailbox:
    email: str
    time_zone: str  # a Windows name, as mailboxSettings answers
    working_days: list[str] = field(default_factory=lambda: ["monday", "tuesday", "wednesday", "thursday", "friday"])
    working_start: str = "08:00:00.0000000"
    working_end: str = "17:00:00.0000000"
    #: None, "scope" (outside the app's RBAC management scope: 403) or "missing" (no such mailbox: 404).
    refused: str | None = None


@dataclass
class Subscription:
    id: str
    email: str
    resource: str
    change_types: tuple[str, ...]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expiration: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity",
            "id": self.id,
            "resource": self.resource,
            "changeType": ",".join(self.change_types),
            "notificationUrl": self.notification_url,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "clientState": self.client_state,
            "expirationDateTime": iso(self.expiration),
            "applicationId": "local-app",
            "creatorId": "local-app",
        }


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def graph_time(moment: datetime) -> dict[str, str]:
    """dateTimeTimeZone in UTC, as Graph answers without a Prefer: outlook.timezone header."""
    return {"dateTime": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"}


class GraphStore:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.mailboxes: dict[str, Mailbox] = {}
            self.events: dict[str, dict[str, dict[str, Any]]] = {}  # email → graph id → event (deleted kept)
            self.transactions: dict[tuple[str, str], str] = {}  # (email, transactionId) → graph id
            self.changes: list[tuple[str, str]] = []  # (email, graph id) per write; a delta token is a position
            self.delta_tokens: dict[str, tuple[str, int, datetime, datetime]] = {}
            self.subscriptions: dict[str, Subscription] = {}
            self._counter = itertools.count(1)

    # ---- mailboxes ----------------------------------------------------------------------------------

    def add_mailbox(self, email: str, time_zone: str, refused: str | None = None, **hours: Any) -> None:
        with self.lock:
            box = Mailbox(email.lower(), time_zone, refused=refused)
            for key in ("working_days", "working_start", "working_end"):
                if key in hours:
                    setattr(box, key, hours[key])
            self.mailboxes[box.email] = box
            self.events.setdefault(box.email, {})

    def mailbox(self, email: str) -> Mailbox:
        box = self.mailboxes.get(email.lower())
        if box is None or box.refused == "missing":
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{email}' is invalid.")
        if box.refused == "scope":
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return box

    # ---- events -------------------------------------------------------------------------------------

    def create(self, email: str, body: dict[str, Any], now: datetime) -> tuple[dict[str, Any], bool]:
        """The new event, or the one an earlier POST with the same transactionId created (False)."""
        with self.lock:
            box = self.mailbox(email)
            transaction = body.get("transactionId")
            if transaction:
                earlier = self.transactions.get((box.email, transaction))
                if earlier is not None and not self.events[box.email][earlier].get("_deleted"):
                    return self.events[box.email][earlier], False
            event_id = "AAMk" + secrets.token_urlsafe(24)
            event: dict[str, Any] = {
                "id": event_id,
                "subject": "",
                "body": {"contentType": "text", "content": ""},
                "showAs": "busy",
                "isAllDay": False,
                "isCancelled": False,
                "categories": [],
                "isReminderOn": True,
                "reminderMinutesBeforeStart": 15,
                "type": "singleInstance",
                "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
                "createdDateTime": iso(now),
                "singleValueExtendedProperties": [],
            }
            self._apply(event, body)
            if transaction:
                self.transactions[(box.email, transaction)] = event_id
            self._write(box.email, event, now)
            return event, True

    def live(self, email: str, event_id: str) -> dict[str, Any]:
        with self.lock:
            box = self.mailbox(email)
            event = self.events[box.email].get(event_id)
            if event is None or event.get("_deleted"):
                raise not_found()
            return event

    def update(self, email: str, event_id: str, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        with self.lock:
            event = self.live(email, event_id)
            if "transactionId" in body and body["transactionId"] != event.get("transactionId"):
                raise invalid("transactionId cannot be changed once the event exists.")
            self._apply(event, body)
            self._write(email.lower(), event, now)
            return event

    def delete(self, email: str, event_id: str, now: datetime) -> None:
        with self.lock:
            event = self.live(email, event_id)
            event["_deleted"] = True
            self._write(email.lower(), event, now)

    def of(self, email: str) -> list[dict[str, Any]]:
        with self.lock:
            box = self.mailbox(email)
            return [e for e in self.events[box.email].values() if not e.get("_deleted")]

    def _apply(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        for key, value in body.items():
            if key in ("start", "end"):
                event["_" + key] = parse_graph_time(value)
            elif key == "singleValueExtendedProperties":
                # PATCH sets the listed properties by id and keeps the others (Graph's extended-property update).
                kept = {p["id"].lower(): p for p in event["singleValueExtendedProperties"]}
                for prop in value:
                    kept[prop["id"].lower()] = {"id": prop["id"], "value": prop["value"]}
                event[key] = list(kept.values())
            else:
                event[key] = value
        if event.get("_end") and event.get("_start") and event["_end"] <= event["_start"]:
            raise invalid("The end of the event must be after its start.")

    def _write(self, email: str, event: dict[str, Any], now: datetime) -> None:
        event["lastModifiedDateTime"] = iso(now)
        event["changeKey"] = secrets.token_urlsafe(12)
        event["@odata.etag"] = f'W/"{event["changeKey"]}"'
        self.events[email][event["id"]] = event
        self.changes.append((email, event["id"]))

    # ---- delta --------------------------------------------------------------------------------------

    def delta_token(self, email: str, start: datetime, end: datetime) -> str:
        with self.lock:
            token = secrets.token_urlsafe(16)
            self.delta_tokens[token] = (email.lower(), len(self.changes), start, end)
            return token

    def expire_delta(self, email: str | None) -> int:
        with self.lock:
            gone = [t for t, (owner, *_) in self.delta_tokens.items() if email is None or owner == email.lower()]
            for token in gone:
                del self.delta_tokens[token]
            return len(gone)


def parse_graph_time(value: dict[str, str]) -> datetime:
    """A dateTimeTimeZone the contract has checked; the stand-in keeps every time in UTC."""
    from zoneinfo import ZoneInfo

    from babel.core import get_global

    from infra.graph_server.contract import windows_zones

    assert value["timeZone"] in windows_zones()
    zone_name = "UTC" if value["timeZone"] == "UTC" else get_global("windows_zone_mapping")[value["timeZone"]]
    text = value["dateTime"].rstrip("Z")
    whole = text.partition(".")[0]
    try:
        naive = datetime.fromisoformat(whole)
    except ValueError:
        raise invalid(f"'{value['dateTime']}' is not a valid dateTime.") from None
    if naive.tzinfo is not None:
        raise invalid(f"dateTime '{value['dateTime']}' must not carry an offset; timeZone says the zone.")
    return naive.replace(tzinfo=ZoneInfo(zone_name)).astimezone(UTC)
