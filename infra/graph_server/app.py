"""The Graph stand-in's WSGI app: the v1.0 calls the Microsoft 365 adapter makes, as strictly as Graph.

docs/graph-server.md lists every behaviour with its source. Times are answered in UTC (no Prefer header).
Tokens: `Authorization: Bearer local:<anything>` is the app; no header, or another scheme, is 401.
"""

from __future__ import annotations

import contextlib
import json
import queue
import random
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from werkzeug.wrappers import Request, Response

from infra.graph_server import contract
from infra.graph_server.errors import GraphError, invalid, throttled
from infra.graph_server.store import MAX_EVENT_SUBSCRIPTION, GraphStore, Subscription, graph_time, iso, parse_graph_time

#: https://learn.microsoft.com/en-us/graph/json-batching: at most 20 requests per batch.
MAX_BATCH = 20
#: getSchedule: schedules per request and the longest range (unconfirmed limits, kept strict; see the doc).
MAX_SCHEDULES = 20
MAX_SCHEDULE_RANGE = timedelta(days=62)
#: https://learn.microsoft.com/en-us/graph/throttling-limits#outlook-service-limits: 4 concurrent requests
#: per app and mailbox.
MAX_CONCURRENT_PER_MAILBOX = 4
_STATUS_DIGIT = {"free": "0", "tentative": "1", "busy": "2", "oof": "3", "workingElsewhere": "4"}
_FILTER = re.compile(r"singleValueExtendedProperties/Any\(ep: ep/id eq '([^']+)' and ep/value eq '([^']*)'\)")
_EXPAND = re.compile(r"singleValueExtendedProperties\(\$filter=(id eq '[^']+'(?: or id eq '[^']+')*)\)")
_EXPAND_ID = re.compile(r"id eq '([^']+)'")


@dataclass
class Fault:
    status: int
    code: str = "ServiceUnavailable"
    path: str | None = None  # a substring of the request path
    method: str | None = None
    after_commit: bool = False  # the call takes effect, then its answer is lost
    retry_after: int = 1


class GraphApp:
    def __init__(self, *, latency_ms: int = 0) -> None:
        self.store = GraphStore()
        self.latency_ms = latency_ms
        self.faults: list[Fault] = []
        self.fault_rate = 0.0
        self.mailbox_limit_per_10_minutes: int | None = None
        self.calls: Counter[str] = Counter()
        self.round_trips = 0
        self.hold_seconds = 0.0
        self._concurrent: Counter[str] = Counter()
        self._recent: dict[str, list[float]] = {}
        self._random = random.Random(7)
        self._lock = threading.Lock()
        self.validation_timeout = 10.0
        self.notifications: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.delivered: list[dict[str, Any]] = []
        self._sender = threading.Thread(target=self._send_notifications, daemon=True)
        self._sender.start()

    # ---- WSGI ---------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self.respond(Request(environ))(environ, start_response)

    def reset(self) -> None:
        """Forget everything (the admin API's reset)."""
        self.store.reset()
        with self._lock:
            self.faults.clear()
            self.calls.clear()
            self.round_trips = 0
        self.fault_rate = 0.0
        self.hold_seconds = 0.0
        self.mailbox_limit_per_10_minutes = None
        self.delivered.clear()

    def close(self) -> None:
        self.notifications.put(("", {}))

    def respond(self, request: Request) -> Response:
        if request.path.startswith("/_admin/"):
            from infra.graph_server.admin import admin_call

            return admin_call(self, request)
        if not request.path.startswith("/v1.0/"):
            return _json(404, GraphError(404, "BadRequest", "Invalid version: use /v1.0.").body())
        with self._lock:
            self.round_trips += 1
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer local:"):
            error = GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
            return _json(401, error.body())
        path = request.path.removeprefix("/v1.0")
        if path == "/$batch" and request.method == "POST":
            return self._batch(request)
        try:
            payload = _read_json(request.get_data())
        except GraphError as unreadable:
            return _json(unreadable.status, unreadable.body())
        status, body, headers = self.call(
            request.method, request.full_path.removeprefix("/v1.0"), payload, dict(request.headers)
        )
        return _json(status, body, headers)

    # ---- one call (direct or inside a batch) --------------------------------------------------------

    def call(self, method: str, url: str, body: Any, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(url)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        try:
            route, args = self._route(method, parts.path)
            with self._lock:
                self.calls[route] += 1
            self._admit(method, parts.path, args.get("user"))
            with self._in_flight(args.get("user")):
                status, answer = getattr(self, f"_{route}")(body=body, query=query, headers=headers, **args)
            fault = self._fault(method, parts.path, after_commit=True)
            if fault is not None:
                raise fault
            return status, answer, {}
        except GraphError as error:
            return error.status, error.body(), error.headers

    def _route(self, method: str, path: str) -> tuple[str, dict[str, str]]:
        segments = [s for s in path.split("/") if s]
        if segments[:1] == ["subscriptions"]:
            if len(segments) == 1 and method == "POST":
                return "subscribe", {}
            if len(segments) == 2 and method in ("PATCH", "DELETE", "GET"):
                return {"PATCH": "renew", "DELETE": "unsubscribe", "GET": "subscription"}[method], {"sid": segments[1]}
        if len(segments) >= 3 and segments[0] == "users":
            user, rest = segments[1].lower(), segments[2:]
            table = {
                ("GET", "mailboxSettings"): "mailbox_settings",
                ("POST", "calendar/getSchedule"): "get_schedule",
                ("POST", "events"): "create_event",
                ("GET", "events"): "list_events",
                ("GET", "calendarView"): "calendar_view",
                ("GET", "calendarView/delta"): "delta",
            }
            name = table.get((method, "/".join(rest)))
            if name:
                return name, {"user": user}
            if len(rest) == 2 and rest[0] == "events" and method in ("GET", "PATCH", "DELETE"):
                return {"GET": "get_event", "PATCH": "patch_event", "DELETE": "delete_event"}[method], {
                    "user": user,
                    "event_id": rest[1],
                }
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{path}'.")

    def _admit(self, method: str, path: str, user: str | None) -> None:
        fault = self._fault(method, path, after_commit=False)
        if fault is not None:
            raise fault
        if self.fault_rate and self._random.random() < self.fault_rate:
            raise throttled(1)
        limit = self.mailbox_limit_per_10_minutes
        if limit and user:
            with self._lock:
                now = time.monotonic()
                recent = [t for t in self._recent.get(user, []) if now - t < 600]
                if len(recent) >= limit:
                    raise throttled(max(1, int(600 - (now - recent[0]))))
                recent.append(now)
                self._recent[user] = recent

    @contextlib.contextmanager
    def _in_flight(self, user: str | None) -> Iterator[None]:
        """Outlook's concurrency limit: at most MAX_CONCURRENT_PER_MAILBOX requests at once per mailbox."""
        if user is None:
            yield
            return
        with self._lock:
            if self._concurrent[user] >= MAX_CONCURRENT_PER_MAILBOX:
                raise GraphError(
                    429,
                    "ApplicationThrottled",
                    "Application is over its MailboxConcurrency limit.",
                    {"Retry-After": "1"},
                )
            self._concurrent[user] += 1
        try:
            if self.hold_seconds:
                time.sleep(self.hold_seconds)  # lets a test hold requests open to meet the limit
            yield
        finally:
            with self._lock:
                self._concurrent[user] -= 1

    def _fault(self, method: str, path: str, *, after_commit: bool) -> GraphError | None:
        with self._lock:
            for index, fault in enumerate(self.faults):
                if fault.after_commit != after_commit or (fault.method and fault.method != method):
                    continue
                if fault.path and fault.path not in path:
                    continue
                del self.faults[index]
                headers = {"Retry-After": str(fault.retry_after)} if fault.status in (429, 503) else {}
                return GraphError(fault.status, fault.code, f"Injected fault {fault.status}.", headers)
        return None

    # ---- batch --------------------------------------------------------------------------------------

    def _batch(self, request: Request) -> Response:
        try:
            body = _read_json(request.get_data())
        except GraphError as unreadable:
            return _json(unreadable.status, unreadable.body())
        items = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            return _json(400, invalid("Invalid batch payload: 'requests' must be a non-empty array.").body())
        if len(items) > MAX_BATCH:
            return _json(
                400,
                GraphError(
                    400, "BadRequest", f"Number of requests in the batch exceeds the maximum limit of {MAX_BATCH}."
                ).body(),
            )
        ids = [item.get("id") for item in items if isinstance(item, dict)]
        if len(ids) != len(items) or len(set(ids)) != len(ids) or not all(isinstance(i, str) and i for i in ids):
            return _json(400, invalid("Every batch request needs a unique string id.").body())
        responses = []
        for item in items:
            url = item.get("url", "")
            if not isinstance(url, str) or not url.startswith("/") or "method" not in item:
                responses.append(
                    {"id": item["id"], "status": 400, "body": invalid("Invalid request url or method.").body()}
                )
                continue
            if item.get("body") is not None and "content-type" not in {k.lower() for k in item.get("headers", {})}:
                # https://learn.microsoft.com/en-us/graph/json-batching: a body needs a Content-Type header.
                responses.append(
                    {
                        "id": item["id"],
                        "status": 400,
                        "body": invalid("A request with a body needs a Content-Type header.").body(),
                    }
                )
                continue
            status, answer, headers = self.call(item["method"].upper(), url, item.get("body"), item.get("headers", {}))
            entry: dict[str, Any] = {
                "id": item["id"],
                "status": status,
                "headers": {"Content-Type": "application/json", **headers},
            }
            if answer is not None:
                entry["body"] = answer
            responses.append(entry)
        return _json(200, {"responses": responses})

    # ---- mailbox settings and free/busy -------------------------------------------------------------

    def _mailbox_settings(self, user: str, **_: Any) -> tuple[int, Any]:
        box = self.store.mailbox(user)
        return 200, {
            "@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#users('{user}')/mailboxSettings",
            "timeZone": box.time_zone,
            "workingHours": _working_hours(box),
        }

    def _get_schedule(self, user: str, body: Any, **_: Any) -> tuple[int, Any]:
        self.store.mailbox(user)
        if not isinstance(body, dict):
            raise invalid("getSchedule needs a JSON body.")
        schedules, start, end = body.get("schedules"), body.get("startTime"), body.get("endTime")
        if not isinstance(schedules, list) or not schedules or not all(isinstance(s, str) for s in schedules):
            raise invalid("schedules must be a non-empty list of SMTP addresses.")
        if len(schedules) > MAX_SCHEDULES:
            raise invalid(f"At most {MAX_SCHEDULES} schedules per request.")
        contract.check("dateTimeTimeZone", start, path="startTime")
        contract.check("dateTimeTimeZone", end, path="endTime")
        interval = body.get("availabilityViewInterval", 30)
        if not isinstance(interval, int) or not 5 <= interval <= 1440:
            raise invalid("availabilityViewInterval must be between 5 and 1440 minutes.")
        assert isinstance(start, dict)  # checked just above
        assert isinstance(end, dict)
        low, high = parse_graph_time(start), parse_graph_time(end)
        if high <= low or high - low > MAX_SCHEDULE_RANGE:
            raise invalid(f"The time range must be positive and at most {MAX_SCHEDULE_RANGE.days} days.")
        return 200, {"value": [self._schedule(email, low, high, interval) for email in schedules]}

    def _schedule(self, email: str, low: datetime, high: datetime, interval: int) -> dict[str, Any]:
        try:
            box = self.store.mailbox(email)
        except GraphError as refused:
            code = "ErrorMailRecipientNotFound" if refused.status == 404 else "ErrorAccessDenied"
            return {
                "scheduleId": email,
                "availabilityView": "",
                "scheduleItems": [],
                "error": {"message": refused.message, "responseCode": code},
            }
        items = [
            e
            for e in self.store.of(email)
            if e.get("showAs", "busy") != "free"
            and not e.get("isCancelled")
            and e.get("responseStatus", {}).get("response") != "declined"
            and e["_start"] < high
            and e["_end"] > low
        ]
        view = []
        slot = low
        while slot < high:
            slot_end = slot + timedelta(minutes=interval)
            statuses = [e.get("showAs", "busy") for e in items if e["_start"] < slot_end and e["_end"] > slot]
            view.append(max((_STATUS_DIGIT.get(s, "2") for s in statuses), default="0"))
            slot = slot_end
        return {
            "scheduleId": email,
            "availabilityView": "".join(view),
            "workingHours": _working_hours(box),
            "scheduleItems": [
                {
                    "isPrivate": False,
                    "status": e.get("showAs", "busy"),
                    "subject": e.get("subject", ""),
                    "start": graph_time(e["_start"]),
                    "end": graph_time(e["_end"]),
                }
                for e in sorted(items, key=lambda e: e["_start"])
            ],
        }

    # ---- events -------------------------------------------------------------------------------------

    def _create_event(self, user: str, body: Any, **_: Any) -> tuple[int, Any]:
        contract.check("event", body)
        for key in ("start", "end"):
            if key not in body:
                raise invalid(f"An event needs '{key}'.")
        event, _created = self.store.create(user, body, _now())
        self.notify(user, event["id"], "created")
        return 201, _event_json(event, expand=None)

    def _get_event(self, user: str, event_id: str, query: dict[str, str], **_: Any) -> tuple[int, Any]:
        return 200, _event_json(self.store.live(user, event_id), expand=_expanded(query))

    def _patch_event(self, user: str, event_id: str, body: Any, **_: Any) -> tuple[int, Any]:
        contract.check("event", body)
        event = self.store.update(user, event_id, body, _now())
        self.notify(user, event_id, "updated")
        return 200, _event_json(event, expand=None)

    def _delete_event(self, user: str, event_id: str, **_: Any) -> tuple[int, Any]:
        self.store.delete(user, event_id, _now())
        self.notify(user, event_id, "deleted")
        return 204, None

    def _list_events(self, user: str, query: dict[str, str], **_: Any) -> tuple[int, Any]:
        wanted = _FILTER.fullmatch(query.get("$filter", ""))
        if "$filter" in query and wanted is None:
            raise invalid("The stand-in filters events by one single-value extended property only.")
        events = self.store.of(user)
        if wanted:
            prop, value = wanted.group(1).lower(), wanted.group(2)
            events = [
                e
                for e in events
                if any(p["id"].lower() == prop and p["value"] == value for p in e["singleValueExtendedProperties"])
            ]
        return 200, {"value": [_event_json(e, expand=_expanded(query)) for e in events]}

    def _calendar_view(self, user: str, query: dict[str, str], **_: Any) -> tuple[int, Any]:
        low, high = _view_range(query)
        events = [e for e in self.store.of(user) if e["_start"] < high and e["_end"] > low]
        return 200, {
            "value": [_event_json(e, expand=_expanded(query)) for e in sorted(events, key=lambda e: e["_start"])]
        }

    def _delta(self, user: str, query: dict[str, str], **_: Any) -> tuple[int, Any]:
        self.store.mailbox(user)
        link = f"https://graph.microsoft.com/v1.0/users/{user}/calendarView/delta?$deltatoken="
        token = query.get("$deltatoken")
        if token is None:
            low, high = _view_range(query)
            with self.store.lock:
                events = [e for e in self.store.of(user) if e["_start"] < high and e["_end"] > low]
                next_token = self.store.delta_token(user, low, high)
            return 200, {"value": [_event_json(e, expand=None) for e in events], "@odata.deltaLink": link + next_token}
        with self.store.lock:
            known = self.store.delta_tokens.get(token)
            if known is None or known[0] != user:
                raise GraphError(
                    410, "SyncStateNotFound", "The sync state is not found or has expired. Do a full synchronization."
                )
            _owner, position, low, high = known
            changed = dict.fromkeys(gid for email, gid in self.store.changes[position:] if email == user)
            answer: list[dict[str, Any]] = []
            for gid in changed:
                stored = self.store.events[user][gid]
                if stored.get("_deleted") or not (stored["_start"] < high and stored["_end"] > low):
                    answer.append(
                        {"@odata.type": "#microsoft.graph.event", "id": gid, "@removed": {"reason": "deleted"}}
                    )
                else:
                    answer.append(_event_json(stored, expand=None))
            next_token = self.store.delta_token(user, low, high)
        return 200, {"value": answer, "@odata.deltaLink": link + next_token}

    # ---- subscriptions ------------------------------------------------------------------------------

    def _subscribe(self, body: Any, **_: Any) -> tuple[int, Any]:
        contract.check("subscription", body)
        for key in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
            if not body.get(key):
                raise invalid(f"Subscription needs '{key}'.")
        match = re.fullmatch(r"/?users/([^/]+)/events", body["resource"])
        if match is None:
            raise invalid(f"Resource '{body['resource']}' is not supported by the stand-in; use users/{{id}}/events.")
        email = match.group(1).lower()
        self.store.mailbox(email)
        types = tuple(part.strip() for part in body["changeType"].split(","))
        if not set(types) <= {"created", "updated", "deleted"}:
            raise invalid("changeType must be created, updated and/or deleted for events.")
        client_state = body.get("clientState")
        if client_state is not None and len(client_state) > 128:
            raise invalid("clientState must be at most 128 characters.")
        expiration = _expiration(body["expirationDateTime"])
        for url in filter(None, (body["notificationUrl"], body.get("lifecycleNotificationUrl"))):
            self._validate_endpoint(url)
        subscription = Subscription(
            secrets.token_hex(16),
            email,
            body["resource"],
            types,
            body["notificationUrl"],
            body.get("lifecycleNotificationUrl"),
            client_state,
            expiration,
        )
        with self.store.lock:
            self.store.subscriptions[subscription.id] = subscription
        return 201, subscription.as_json()

    def _renew(self, sid: str, body: Any, **_: Any) -> tuple[int, Any]:
        contract.check("subscription", body)
        with self.store.lock:
            subscription = self.store.subscriptions.get(sid)
            if subscription is None:
                raise GraphError(404, "ResourceNotFound", "The object was not found.")
            if set(body) - {"expirationDateTime"}:
                raise invalid("Only expirationDateTime can be updated.")
            subscription.expiration = _expiration(body["expirationDateTime"])
            return 200, subscription.as_json()

    def _unsubscribe(self, sid: str, **_: Any) -> tuple[int, Any]:
        with self.store.lock:
            if self.store.subscriptions.pop(sid, None) is None:
                raise GraphError(404, "ResourceNotFound", "The object was not found.")
        return 204, None

    def _subscription(self, sid: str, **_: Any) -> tuple[int, Any]:
        subscription = self.store.subscriptions.get(sid)
        if subscription is None:
            raise GraphError(404, "ResourceNotFound", "The object was not found.")
        return 200, subscription.as_json()

    def _validate_endpoint(self, url: str) -> None:
        """https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks#notificationurl-validation"""
        parts = urlsplit(url)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.scheme != "https" and not loopback:
            raise invalid("notificationUrl must be an https URL.")
        token = secrets.token_urlsafe(24)
        try:
            answer = requests.post(
                url,
                params={"validationToken": token},
                headers={"Content-Type": "text/plain"},
                timeout=self.validation_timeout,
            )
        except requests.RequestException as failed:
            raise GraphError(400, "ValidationError", f"Subscription validation request failed: {failed}") from None
        plain = answer.headers.get("Content-Type", "").split(";")[0].strip() == "text/plain"
        if answer.status_code != 200 or answer.text != token or not plain:
            raise GraphError(
                400,
                "ValidationError",
                "Subscription validation request failed. Notification "
                "endpoint must respond with 200 OK and the validation token as text/plain.",
            )

    def notify(self, user: str, event_id: str, change: str) -> None:
        now = _now()
        with self.store.lock:
            live = [
                s
                for s in self.store.subscriptions.values()
                if s.email == user and s.expiration > now and change in s.change_types
            ]
        for subscription in live:
            self.notifications.put(
                (
                    subscription.notification_url,
                    {
                        "value": [
                            {
                                "subscriptionId": subscription.id,
                                "subscriptionExpirationDateTime": iso(subscription.expiration),
                                "changeType": change,
                                "resource": f"Users/{user}/Events/{event_id}",
                                "clientState": subscription.client_state,
                                "tenantId": "local-tenant",
                                "resourceData": {
                                    "@odata.type": "#Microsoft.Graph.Event",
                                    "@odata.id": f"Users/{user}/Events/{event_id}",
                                    "id": event_id,
                                },
                            }
                        ]
                    },
                )
            )

    def lifecycle(self, sid: str, event: str) -> None:
        subscription = self.store.subscriptions[sid]
        url = subscription.lifecycle_url or subscription.notification_url
        self.notifications.put(
            (
                url,
                {
                    "value": [
                        {
                            "subscriptionId": sid,
                            "lifecycleEvent": event,
                            "subscriptionExpirationDateTime": iso(subscription.expiration),
                            "clientState": subscription.client_state,
                            "tenantId": "local-tenant",
                        }
                    ]
                },
            )
        )
        if event == "subscriptionRemoved":
            with self.store.lock:
                self.store.subscriptions.pop(sid, None)

    def _send_notifications(self) -> None:
        while True:
            url, payload = self.notifications.get()
            if not url:
                return
            try:
                answer = requests.post(url, json=payload, timeout=3)
                status: int | str = answer.status_code
            except requests.RequestException as failed:
                status = type(failed).__name__
            self.delivered.append({"url": url, "payload": payload, "status": status})


def _working_hours(box: Any) -> dict[str, Any]:
    return {
        "daysOfWeek": box.working_days,
        "startTime": box.working_start,
        "endTime": box.working_end,
        "timeZone": {"name": box.time_zone},
    }


def _event_json(event: dict[str, Any], *, expand: frozenset[str] | None) -> dict[str, Any]:
    shown = {k: v for k, v in event.items() if not k.startswith("_") and k != "singleValueExtendedProperties"}
    shown["start"], shown["end"] = graph_time(event["_start"]), graph_time(event["_end"])
    if expand is not None:
        # $expand=singleValueExtendedProperties($filter=id eq '...'): only the named property comes back.
        shown["singleValueExtendedProperties"] = [
            p for p in event["singleValueExtendedProperties"] if p["id"].lower() in expand
        ]
    return shown


def _expanded(query: dict[str, str]) -> frozenset[str] | None:
    expand = query.get("$expand")
    if expand is None:
        return None
    match = _EXPAND.fullmatch(expand)
    if match is None:
        raise invalid("Extended properties must be expanded with a $filter on their id.")
    return frozenset(found.lower() for found in _EXPAND_ID.findall(match.group(1)))


def _view_range(query: dict[str, str]) -> tuple[datetime, datetime]:
    try:
        low = datetime.fromisoformat(query["startDateTime"].replace("Z", "+00:00"))
        high = datetime.fromisoformat(query["endDateTime"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        raise GraphError(
            400, "ErrorInvalidParameter", "startDateTime and endDateTime are required ISO 8601 times."
        ) from None
    if low.tzinfo is None or high.tzinfo is None or high <= low:
        raise GraphError(400, "ErrorInvalidParameter", "The range needs two times with offsets, end after start.")
    return low, high


def _expiration(value: Any) -> datetime:
    try:
        expiration = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise invalid("expirationDateTime is not a date and time.") from None
    if expiration.tzinfo is None:
        expiration = expiration.replace(tzinfo=UTC)
    now = _now()
    if expiration <= now:
        raise invalid("Subscription expiration must be in the future.")
    if expiration > now + MAX_EVENT_SUBSCRIPTION:
        raise invalid("Subscription expiration can only be 10080 minutes in the future.")
    return expiration


def _now() -> datetime:
    return datetime.now(UTC)


def _read_json(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        raise invalid("The request body is not valid JSON.") from None


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    if status == 204 or payload is None:
        return Response(status=status, headers=headers)
    return Response(json.dumps(payload), status=status, mimetype="application/json", headers=headers)


def create_app(*, latency_ms: int = 0) -> GraphApp:
    return GraphApp(latency_ms=latency_ms)
