"""CalendarPort on Microsoft 365 through Microsoft Graph v1.0, app-only (docs/architecture.md).

Shape of the traffic:
- Free/busy and out of office: `POST /users/{id}/calendar/getSchedule`, many people per call, those calls
  batched; asked as one of the people (app-only access may read any mailbox in the app's scope), and
  asked again as another when that mailbox is refused.
- Time zones: `GET /users/{id}/mailboxSettings` (Windows names, mapped to IANA with CLDR's windowsZones).
- Writes: `POST /users/{id}/events` with `transactionId` = the port's event id, so a retried create finds
  the first (https://learn.microsoft.com/en-us/graph/api/resources/event: transactionId); 20 per `$batch`.
- Graph chooses event ids; our id travels in a filterable extended property, and is looked up once per
  process (bodies.py).
- Incremental sync: `calendarView/delta` over a bounded range; the port's sync token wraps Graph's delta
  link together with which Graph ids are ours, because a deleted item comes back as its Graph id alone.
- Change notifications: a subscription per person on `users/{id}/events` (watch/watch_many); its
  clientState is `<channel id>.<channel token>`, so the notification names its channel, and the token
  is checked against its stored digest in constant time (service/channels.authenticate).
A person whose mailbox is out of the app's scope (403) or missing (404) fails alone, as
CalendarAccessRefused; a 401 is the deployment's (CalendarDeploymentError).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from maintenance_windows.adapters.batching import Call, Failure, chunks
from maintenance_windows.adapters.call_stats import CallStats
from maintenance_windows.adapters.http_retry import RetryPolicy
from maintenance_windows.adapters.microsoft_graph import bodies
from maintenance_windows.adapters.microsoft_graph.tokens import GraphTokens, LocalGraphTokens
from maintenance_windows.adapters.microsoft_graph.transport import GRAPH_ENDPOINT, Answer, GraphTransport, Request
from maintenance_windows.adapters.rate_limit import QuotaLimiter
from maintenance_windows.config.settings import ConfigurationError, Settings
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.calendar import (
    AwayResult,
    BusyResult,
    CalendarAccessRefused,
    CalendarDeploymentError,
    CalendarError,
    CalendarEvent,
    ChangeSet,
    Channel,
    EventSpec,
    InsertResult,
    SyncTokenExpired,
    WatchRequest,
)

#: People per getSchedule call: 20, the most a request is known to take (docs/graph-server.md, unconfirmed).
SCHEDULES_PER_CALL = 20
#: Outlook: 10,000 requests per 10 minutes per app and mailbox (throttling-limits); the limiter holds the
#: app's whole-run share, per minute.
QUOTA_PER_MINUTE = 10_000
#: Events subscriptions live under 7 days (10,080 minutes; the subscription resource's lifetime table).
MAX_SUBSCRIPTION = timedelta(minutes=10080) - timedelta(minutes=10)
#: The range a delta sync covers, from its start: windows are booked within weeks. A position whose range
#: is within SYNC_MARGIN of its end is refused as expired, and the follower syncs in full again (bounded).
SYNC_RANGE = timedelta(days=120)
SYNC_MARGIN = timedelta(days=45)
_logger = get_logger(__name__)


class GraphCalendarAdapter:
    def __init__(
        self,
        *,
        tokens: GraphTokens,
        endpoint: str = GRAPH_ENDPOINT,
        notifications_lifecycle_url: str | None = None,
        retry: RetryPolicy | None = None,
        quota_per_minute: int = QUOTA_PER_MINUTE,
        concurrency: int = 4,
        time_zone_ttl: timedelta = timedelta(hours=1),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.stats = CallStats()
        self._clock = clock
        self._lifecycle_url = notifications_lifecycle_url
        self._transport = GraphTransport(
            tokens=tokens,
            endpoint=endpoint,
            retry=retry or RetryPolicy(),
            stats=self.stats,
            limiter=QuotaLimiter(quota_per_minute, sleep=sleep, on_wait=self.stats.record_wait),
            concurrency=concurrency,
            sleep=sleep,
        )
        self._time_zone_ttl = time_zone_ttl
        self._lock = threading.Lock()
        self._zones: dict[str, tuple[str, float]] = {}
        #: (person, our event id) → (Graph id, our tags): filled by every create, lookup and listing.
        self._known: dict[tuple[str, str], tuple[str, dict[str, str]]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> GraphCalendarAdapter:
        from maintenance_windows.adapters.microsoft_graph.tokens import FederatedGraphTokens

        if settings.graph_credentials == "local":
            tokens: GraphTokens = LocalGraphTokens()
        else:
            if not settings.graph_tenant_id or not settings.graph_client_id:
                raise ConfigurationError(
                    "a domain is on calendar: microsoft, so MW_GRAPH_TENANT_ID and MW_GRAPH_CLIENT_ID must be set "
                    "(docs/deploy.md, Microsoft 365)"
                )
            tokens = FederatedGraphTokens(settings.graph_tenant_id, settings.graph_client_id)
        return cls(
            tokens=tokens,
            endpoint=settings.graph_api_endpoint or GRAPH_ENDPOINT,
            notifications_lifecycle_url=settings.notifications_url,
        )

    # ---- reading ----------------------------------------------------------------------------------------

    def time_zones(self, emails: Sequence[str]) -> dict[str, str | CalendarError]:
        now = time.monotonic()
        zones: dict[str, str | CalendarError] = {}
        with self._lock:
            missing = [e for e in dict.fromkeys(emails) if not (e in self._zones and self._zones[e][1] > now)]
            zones.update({e: self._zones[e][0] for e in dict.fromkeys(emails) if e not in missing})
        calls = [
            self._call(str(i), email, "mailboxSettings.get", "GET", f"/users/{_id(email)}/mailboxSettings")
            for i, email in enumerate(missing)
        ]
        outcomes = self._transport.run(calls)
        for call in calls:
            answer = self._ok(outcomes[call.key])
            if isinstance(answer, CalendarError):
                zones[call.user] = answer
                continue
            name = str((answer.body or {}).get("timeZone") or "UTC")
            zone = bodies.iana_zone(name)
            if zone is None:
                zones[call.user] = CalendarError(f"unknown mailbox time zone {name[:60]!r}", reason="unknown_zone")
                continue
            zones[call.user] = zone
            with self._lock:
                self._zones[call.user] = (zone, now + self._time_zone_ttl.total_seconds())
        return {email: zones[email] for email in dict.fromkeys(emails)}

    def busy(self, emails: Sequence[str], time_min: datetime, time_max: datetime) -> dict[str, BusyResult]:
        if time_max <= time_min:
            raise CalendarError("getSchedule: the time range is empty", status=400, reason="timeRangeEmpty")
        schedules = self._schedules(emails, time_min, time_max)
        results: dict[str, BusyResult] = {}
        for email in emails:
            info = schedules[email]
            if isinstance(info, CalendarError):
                results[email] = BusyResult(error=info.reason or "error")
            else:
                busy = bodies.schedule_items(info, bodies.BUSY_STATUSES)
                hours, zone = bodies.working_week(info)
                results[email] = BusyResult(
                    bodies.merged_within(busy, time_min, time_max), working_hours=hours, working_hours_zone=zone
                )
        return results

    def out_of_office(self, emails: Sequence[str], time_min: datetime, time_max: datetime) -> dict[str, AwayResult]:
        """`oof` schedule items, whole (not clipped), as the port asks."""
        schedules = self._schedules(list(dict.fromkeys(emails)), time_min, time_max)
        return {
            email: AwayResult(error=info.reason or "error")
            if isinstance(info, CalendarError)
            else AwayResult(tuple(bodies.schedule_items(info, ("oof",))))
            for email, info in schedules.items()
        }

    def _schedules(self, emails: Sequence[str], low: datetime, high: datetime) -> dict[str, Any]:
        """scheduleInformation per person, or the CalendarError that kept it from us."""
        found: dict[str, Any] = {}
        pending = list(dict.fromkeys(emails))
        while pending:
            groups = list(chunks(pending, SCHEDULES_PER_CALL))
            calls = [
                self._call(
                    str(i),
                    group[0],
                    "calendar.getSchedule",
                    "POST",
                    f"/users/{_id(group[0])}/calendar/getSchedule",
                    {
                        "schedules": list(group),
                        "startTime": bodies.graph_time(low),
                        "endTime": bodies.graph_time(high),
                        "availabilityViewInterval": 30,
                    },
                )
                for i, group in enumerate(groups)
            ]
            outcomes = self._transport.run(calls)
            pending = []
            for call, group in zip(calls, groups, strict=True):
                answer = self._ok(outcomes[call.key])
                if isinstance(answer, CalendarAccessRefused):
                    # The asking mailbox is refused: it fails alone, the others are asked again as someone else.
                    found[call.user] = answer
                    pending.extend(group[1:])
                    continue
                if isinstance(answer, CalendarError):
                    found.update(dict.fromkeys(group, answer))
                    continue
                by_id = {str(info.get("scheduleId", "")).lower(): info for info in (answer.body or {}).get("value", [])}
                for email in group:
                    found[email] = _schedule_or_error(email, by_id.get(email.lower()))
        return {email: found[email] for email in dict.fromkeys(emails)}

    def recent_events(self, user_email: str, time_min: datetime, time_max: datetime) -> list[CalendarEvent]:
        path = (
            f"/users/{_id(user_email)}/calendarView?startDateTime={_q(time_min)}&endDateTime={_q(time_max)}"
            f"&$top=500&$expand={quote(bodies.EXPAND_TAGS)}"
        )
        answer = self._single("calendarView.list", Request("GET", path))
        events = [self._event(user_email, item) for item in (answer.body or {}).get("value", [])]
        return [e for e in events if e.start and e.end and not e.all_day and e.status != "cancelled"]

    # ---- writing ----------------------------------------------------------------------------------------

    def insert_events(self, specs: Sequence[EventSpec]) -> list[InsertResult]:
        calls = [
            self._call(
                str(i),
                spec.user_email,
                "events.insert",
                "POST",
                f"/users/{_id(spec.user_email)}/events",
                bodies.event_body(spec),
            )
            for i, spec in enumerate(specs)
        ]
        outcomes = self._transport.run(calls)
        results: list[InsertResult] = []
        for call, spec in zip(calls, specs, strict=True):
            answer = self._ok(outcomes[call.key])
            if isinstance(answer, CalendarError):
                results.append(
                    InsertResult(
                        spec.event_id,
                        created=False,
                        error=answer.reason or "error",
                        access_refused=isinstance(answer, CalendarAccessRefused),
                    )
                )
                _logger.warning("event insert failed", status=answer.status, reason=answer.reason)
                continue
            body = answer.body or {}
            with self._lock:
                earlier = self._known.get((spec.user_email, spec.event_id))
                self._known[(spec.user_email, spec.event_id)] = (str(body["id"]), dict(spec.private_properties))
            # transactionId answers a repeated create with the first event: the same Graph id we already know
            # (this process made it), or an event not at the asked time (an earlier run's, since replanned).
            repeated = (earlier is not None and earlier[0] == body["id"]) or (
                (bodies.parse_time(body.get("start")), bodies.parse_time(body.get("end"))) != (spec.start, spec.end)
            )
            results.append(InsertResult(spec.event_id, created=not repeated, etag=body.get("changeKey")))
        return results

    def patch_event(
        self,
        user_email: str,
        event_id: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        time_zone: str | None = None,  # noqa: ARG002  # the port's signature: Graph is sent UTC times
        summary: str | None = None,
        description_html: str | None = None,
        private_properties: Mapping[str, str] | None = None,
    ) -> CalendarEvent:
        graph_id, tags = self._lookup(user_email, event_id)
        if graph_id is None:
            raise CalendarError(f"event {event_id} not found", status=404, reason="notFound")
        change: dict[str, Any] = {}
        if start is not None:
            change["start"] = bodies.graph_time(start)
        if end is not None:
            change["end"] = bodies.graph_time(end)
        if summary is not None:
            change["subject"] = summary
        if description_html is not None:
            change["body"] = {"contentType": "html", "content": description_html}
        merged = {**tags, **(private_properties or {})}
        if private_properties:
            change["singleValueExtendedProperties"] = bodies.tag_properties(event_id, merged)
        answer = self._single("events.patch", Request("PATCH", f"/users/{_id(user_email)}/events/{graph_id}", change))
        with self._lock:
            self._known[(user_email, event_id)] = (graph_id, merged)
        return bodies.to_event(answer.body or {}, event_id, merged)

    def delete_event(self, user_email: str, event_id: str) -> bool:
        graph_id, _ = self._lookup(user_email, event_id)
        if graph_id is None:
            return False
        answer = self._transport.call("events.delete", Request("DELETE", f"/users/{_id(user_email)}/events/{graph_id}"))
        with self._lock:
            self._known.pop((user_email, event_id), None)
        if answer.status == 404:
            return False
        self._raise_for(answer)
        return True

    def get_event(self, user_email: str, event_id: str) -> CalendarEvent | None:
        graph_id, _ = self._lookup(user_email, event_id)
        if graph_id is None:
            return None
        path = f"/users/{_id(user_email)}/events/{graph_id}?$expand={quote(bodies.EXPAND_TAGS)}"
        answer = self._transport.call("events.get", Request("GET", path))
        if answer.status == 404:
            with self._lock:
                self._known.pop((user_email, event_id), None)
            return None
        self._raise_for(answer)
        return self._event(user_email, answer.body or {})

    def _lookup(self, user_email: str, event_id: str) -> tuple[str | None, dict[str, str]]:
        with self._lock:
            known = self._known.get((user_email, event_id))
        if known is not None:
            return known[0], dict(known[1])
        wanted = f"singleValueExtendedProperties/Any(ep: ep/id eq '{bodies.MW_EVENT_ID}' and ep/value eq '{event_id}')"
        path = f"/users/{_id(user_email)}/events?$filter={quote(wanted)}&$expand={quote(bodies.EXPAND_TAGS)}"
        answer = self._single("events.lookup", Request("GET", path))
        for item in (answer.body or {}).get("value", []):
            our_id, tags = bodies.tags_of(item)
            if our_id == event_id:
                with self._lock:
                    self._known[(user_email, event_id)] = (str(item["id"]), dict(tags or {}))
                return str(item["id"]), dict(tags or {})
        return None, {}

    def _event(self, user_email: str, item: Mapping[str, Any]) -> CalendarEvent:
        our_id, tags = bodies.tags_of(item)
        if our_id and tags is not None:
            with self._lock:
                self._known[(user_email, our_id)] = (str(item["id"]), dict(tags))
            return bodies.to_event(item, our_id, tags)
        return bodies.to_event(item, None, None)

    # ---- following ----------------------------------------------------------------------------------------

    def list_changes(self, user_email: str, sync_token: str | None) -> ChangeSet:
        if sync_token is None:
            return self._full_sync(user_email)
        position = _decode(sync_token)
        if position is None or datetime.fromisoformat(position["h"]) - SYNC_MARGIN < self._clock():
            raise SyncTokenExpired(
                "the delta position is unreadable or its range is nearly over", status=410, reason="fullSyncRequired"
            )
        ours: dict[str, str] = dict(position["o"])
        items, link = self._delta_pages(_relative(position["d"]))
        events = self._read_changed(user_email, items, ours)
        return ChangeSet(tuple(events), _encode(link, ours, position["h"]))

    def sync_tokens(self, emails: Sequence[str]) -> dict[str, str | CalendarError]:
        tokens: dict[str, str | CalendarError] = {}
        for email in dict.fromkeys(emails):
            try:
                tokens[email] = self._full_sync(email).next_sync_token
            except CalendarError as problem:
                tokens[email] = problem
        return tokens

    def _full_sync(self, user_email: str) -> ChangeSet:
        low = self._clock() - timedelta(days=1)
        high = low + SYNC_RANGE
        first = f"/users/{_id(user_email)}/calendarView/delta?startDateTime={_q(low)}&endDateTime={_q(high)}"
        items, link = self._delta_pages(first)
        ours: dict[str, str] = {}
        events = self._read_changed(user_email, items, ours)
        return ChangeSet(tuple(events), _encode(link, ours, high.isoformat()))

    def _delta_pages(self, path: str) -> tuple[list[dict[str, Any]], str]:
        items: list[dict[str, Any]] = []
        for _ in range(200):  # bounded: a calendar has at most a few thousand items in the range
            answer = self._transport.call("calendarView.delta", Request("GET", path))
            if answer.status == 410 or "SyncState" in answer.code:
                raise SyncTokenExpired(f"delta link expired: {answer.code}", status=410, reason="fullSyncRequired")
            self._raise_for(answer)
            body = answer.body or {}
            items.extend(body.get("value", []))
            if "@odata.deltaLink" in body:
                return items, str(body["@odata.deltaLink"])
            if "@odata.nextLink" not in body:
                break
            path = _relative(str(body["@odata.nextLink"]))
        raise CalendarError("calendarView/delta never ended with a delta link", reason="delta_unbounded")

    def _read_changed(self, user_email: str, items: list[dict[str, Any]], ours: dict[str, str]) -> list[CalendarEvent]:
        """Changes as port events; ours are read again with their tags (delta does not expand properties)."""
        events: list[CalendarEvent] = []
        to_read: list[str] = []
        for item in items:
            graph_id = str(item.get("id"))
            if "@removed" in item:
                our_id = ours.pop(graph_id, None)
                events.append(bodies.gone(our_id or graph_id))
                if our_id:
                    with self._lock:
                        self._known.pop((user_email, our_id), None)
            elif item.get("transactionId") or graph_id in ours:
                to_read.append(graph_id)
            else:
                events.append(bodies.to_event(item, None, None))
        calls = [
            self._call(
                str(i),
                user_email,
                "events.get",
                "GET",
                f"/users/{_id(user_email)}/events/{graph_id}?$expand={quote(bodies.EXPAND_TAGS)}",
            )
            for i, graph_id in enumerate(to_read)
        ]
        outcomes = self._transport.run(calls) if calls else {}
        for call, graph_id in zip(calls, to_read, strict=True):
            answer = self._ok(outcomes[call.key])
            if isinstance(answer, CalendarError):
                if answer.status == 404 and graph_id in ours:
                    events.append(bodies.gone(ours.pop(graph_id)))
                    continue
                raise answer
            event = self._event(user_email, answer.body or {})
            our_id, _ = bodies.tags_of(answer.body or {})
            if our_id:
                ours[graph_id] = our_id
            events.append(event)
        return events

    def watch(self, user_email: str, channel_id: str, token: str, address: str, ttl_seconds: int) -> Channel:
        (outcome,) = self.watch_many([WatchRequest(user_email, channel_id, token, address, ttl_seconds)])
        if isinstance(outcome, CalendarError):
            raise outcome
        return outcome

    def watch_many(self, requests: Sequence[WatchRequest]) -> list[Channel | CalendarError]:
        """One subscription per person; Graph validates the notification URL before answering (≤ 10 s)."""
        now = self._clock()
        calls = []
        for index, request in enumerate(requests):
            expiry = now + min(timedelta(seconds=request.ttl_seconds), MAX_SUBSCRIPTION)
            body = {
                "changeType": "updated,deleted",
                "notificationUrl": request.address,
                "lifecycleNotificationUrl": request.address,
                "resource": f"users/{request.user_email}/events",
                "expirationDateTime": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "clientState": f"{request.channel_id}.{request.token}",
            }
            calls.append(
                self._call(str(index), request.user_email, "subscriptions.create", "POST", "/subscriptions", body)
            )
        outcomes = self._transport.run(calls)
        results: list[Channel | CalendarError] = []
        for call, request in zip(calls, requests, strict=True):
            answer = self._ok(outcomes[call.key])
            if isinstance(answer, CalendarError):
                results.append(answer)
                continue
            body = answer.body or {}
            expiry = datetime.fromisoformat(str(body["expirationDateTime"]).replace("Z", "+00:00"))
            results.append(Channel(request.channel_id, str(body["id"]), expiry))
        return results

    def renew(self, subscription_id: str, ttl_seconds: int) -> datetime:
        """Extend a subscription (PATCH expirationDateTime), e.g. on a reauthorizationRequired notification."""
        expiry = self._clock() + min(timedelta(seconds=ttl_seconds), MAX_SUBSCRIPTION)
        answer = self._transport.call(
            "subscriptions.renew",
            Request(
                "PATCH",
                f"/subscriptions/{subscription_id}",
                {"expirationDateTime": expiry.strftime("%Y-%m-%dT%H:%M:%SZ")},
            ),
        )
        self._raise_for(answer)
        return datetime.fromisoformat(str((answer.body or {})["expirationDateTime"]).replace("Z", "+00:00"))

    def stop_channel(self, user_email: str, channel_id: str, resource_id: str) -> None:  # noqa: ARG002  # port
        answer = self._transport.call("subscriptions.delete", Request("DELETE", f"/subscriptions/{resource_id}"))
        if answer.status != 404:
            self._raise_for(answer)

    # ---- internals --------------------------------------------------------------------------------------

    def _call(self, key: str, user: str, method: str, verb: str, path: str, body: Any = None) -> Call[Request]:
        request = Request(verb, path, body)
        return Call(key, user, method, lambda: request)

    def _single(self, method: str, request: Request) -> Answer:
        answer = self._transport.call(method, request)
        self._raise_for(answer)
        return answer

    def _ok(self, outcome: Answer | Failure) -> Answer | CalendarError:
        if isinstance(outcome, Failure):
            return CalendarError(
                f"Graph: {outcome.status} {outcome.reason}", status=outcome.status, reason="unavailable"
            )
        try:
            self._raise_for(outcome)
        except CalendarDeploymentError:
            raise
        except CalendarError as problem:
            return problem
        return outcome

    def _raise_for(self, answer: Answer) -> None:
        if answer.status < 400:
            return
        code, message = answer.code, answer.message
        if answer.status == 401:
            raise CalendarDeploymentError(f"Graph refused the app's token: {code} {message}", status=401, reason=code)
        if answer.status == 403 and code in ("ErrorAccessDenied", "Authorization_RequestDenied", "AccessDenied"):
            # RBAC for Applications: the mailbox is outside the app's management scope.
            raise CalendarAccessRefused(
                f"mailbox out of the app's scope: {message}", status=403, reason="not_delegated"
            )
        if answer.status == 404 and code in (
            "ErrorInvalidUser",
            "MailboxNotEnabledForRESTAPI",
            "ResourceNotFound",
            "ErrorMailRecipientNotFound",
        ):
            raise CalendarAccessRefused(f"no such mailbox: {message}", status=404, reason="unknown")
        if answer.status == 404:
            raise CalendarError(f"not found: {message}", status=404, reason="notFound")
        raise CalendarError(f"Graph {answer.status} {code}: {message}", status=answer.status, reason=code or "error")


def _schedule_or_error(email: str, info: Any) -> Any:
    if not isinstance(info, dict):
        return CalendarError(f"no schedule for {email}", reason="notFound")
    error = info.get("error")
    if isinstance(error, dict):
        code = str(error.get("responseCode") or "error")
        reason = "unknown" if code == "ErrorMailRecipientNotFound" else "not_delegated" if "Access" in code else code
        return CalendarAccessRefused(str(error.get("message", code))[:200], reason=reason)
    return info


def _id(email: str) -> str:
    return quote(email, safe="@")


def _q(moment: datetime) -> str:
    return quote(moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _relative(link: str) -> str:
    """A nextLink/deltaLink as a path under the version root (Graph answers absolute URLs)."""
    parts = urlsplit(link)
    path = parts.path
    marker = "/v1.0"
    if marker in path:
        path = path.split(marker, 1)[1]
    return path + (f"?{parts.query}" if parts.query else "")


def _encode(delta_link: str, ours: Mapping[str, str], horizon: str) -> str:
    raw = json.dumps({"d": delta_link, "o": dict(ours), "h": horizon}, separators=(",", ":")).encode()
    return "g1." + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str) -> dict[str, Any] | None:
    if not token.startswith("g1."):
        return None
    body = token[3:]
    try:
        loaded = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return None
    if not isinstance(loaded, dict) or not {"d", "o", "h"} <= set(loaded):
        return None
    return loaded
