"""Microsoft Graph change notifications, on the calendar_notifications URL beside Google's pushes.

Graph calls the URL in three ways (https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks):
- the validation handshake: `POST ?validationToken=...`, answered 200 with the token as text/plain (within
  10 s), both when a subscription is created and for its lifecycle URL;
- change notifications: a JSON `{"value": [...]}`, each item naming its subscription and carrying our
  clientState, `<channel id>.<channel token>` (adapters/microsoft_graph);
- lifecycle notifications (https://learn.microsoft.com/en-us/graph/change-notifications-lifecycle-events):
  the same shape with `lifecycleEvent`: `missed` resyncs, `reauthorizationRequired` and
  `subscriptionRemoved` retire the channel so the next planning run opens a fresh subscription (renewal
  continues from the same sync position), and resync now.

Every item is authenticated before any is acted on: an unknown channel or subscription is 401, a wrong
clientState 403 (the token is compared with its stored digest in constant time), and then nothing changes.
A duplicate delivery maps to the same message number (a digest of what it says), so it is recorded once.
"""

from __future__ import annotations

import hashlib
from typing import Any

from maintenance_windows.handlers.http import BadRequest, HttpRequest, HttpResponse, error, parse_json_body
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.calendar import CalendarError, CalendarUnavailable
from maintenance_windows.service import channels, follow
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.errors import Forbidden, NotAuthenticated

logger = get_logger(__name__)
#: Graph's tokens are a sentence and a request id; anything much longer is not Graph's.
MAX_VALIDATION_TOKEN = 1024
MAX_ITEMS = 1000
_CHANGES = frozenset({"created", "updated", "deleted"})
_LIFECYCLE = frozenset({"missed", "reauthorizationRequired", "subscriptionRemoved"})


def is_graph_call(request: HttpRequest) -> bool:
    """Graph's calls carry a validationToken or a JSON body, never Google's channel headers."""
    if "validationToken" in request.query:
        return True
    return request.header("X-Goog-Channel-ID") is None and request.content_type.startswith("application/json")


def handle_graph_notifications(request: HttpRequest, ctx: PlanningContext) -> HttpResponse:
    token = request.query.get("validationToken")
    if token is not None:
        if not token or len(token) > MAX_VALIDATION_TOKEN:
            return error(400, f"validationToken must be 1 to {MAX_VALIDATION_TOKEN} characters")
        return HttpResponse(
            200, {}, {"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"}, text=token
        )
    try:
        items = _items(parse_json_body(request.body))
    except BadRequest as bad:
        return bad.response()
    try:
        # The subscription id stands where Google's resource id does: a token for another subscription is refused.
        authenticated = [(item, channels.authenticate(ctx, *_credentials(item))) for item in items]
    except NotAuthenticated as unknown:
        return error(401, unknown.problem)
    except Forbidden as refused:
        return error(403, refused.problem)
    statuses: list[str] = []
    for item, channel in authenticated:
        lifecycle = item.get("lifecycleEvent")
        if lifecycle in ("reauthorizationRequired", "subscriptionRemoved"):
            channels.retire_channel(ctx, channel, ctx.clock())
            logger.info(
                "graph subscription retired for renewal",
                event="graph_lifecycle",
                lifecycle=lifecycle,
                channel_id=channel.channel_id,
            )
        try:
            outcome = follow.on_notification(ctx, channel, _message_number(item))
        except CalendarUnavailable:
            # The message stays pending; Graph delivers again after a 5xx (with backoff, for up to 4 hours).
            return error(503, "the calendar is unavailable; retry later")
        except CalendarError as problem:
            logger.error(
                "calendar sync failed",
                event="follow_failed",
                user_key=channel.user_key,
                status=problem.status,
                reason=problem.reason,
            )
            statuses.append("failed")
            continue
        statuses.append(outcome.status)
    # Graph wants an answer within 3 seconds; 202 says "taken", whatever the follow-up did.
    return HttpResponse(202, {"status": "accepted", "items": len(items), "outcomes": statuses})


def _items(body: Any) -> list[dict[str, Any]]:
    values = body.get("value") if isinstance(body, dict) else None
    if not isinstance(values, list) or not values or len(values) > MAX_ITEMS:
        raise BadRequest(f"a Graph notification is an object whose 'value' holds 1 to {MAX_ITEMS} items")
    for item in values:
        if not isinstance(item, dict) or not isinstance(item.get("subscriptionId"), str):
            raise BadRequest("every notification item needs its subscriptionId")
        kind = item.get("lifecycleEvent")
        if kind is not None and kind not in _LIFECYCLE:
            raise BadRequest(f"unknown lifecycleEvent {str(kind)[:40]!r}")
        if kind is None and item.get("changeType") not in _CHANGES:
            raise BadRequest(f"unknown changeType {str(item.get('changeType'))[:40]!r}")
        channel_id = _credentials_or_none(item)[0]
        if channel_id and not channels.is_channel_id(channel_id):
            raise BadRequest(
                "clientState does not start with a channel id of ours (1 to 64 letters, digits, '-' or '_')"
            )
    return values


def _credentials_or_none(item: dict[str, Any]) -> tuple[str, str]:
    """(channel id, channel token) as the item's clientState states them; empty where it does not."""
    state = item.get("clientState")
    channel_id, _, token = state.partition(".") if isinstance(state, str) else ("", "", "")
    return channel_id, token


def _credentials(item: dict[str, Any]) -> tuple[str, str, str]:
    """(channel id, channel token, subscription id); the channel id was checked by _items."""
    channel_id, token = _credentials_or_none(item)
    if not channel_id or not token:
        raise NotAuthenticated("no clientState of ours")
    return channel_id, token, str(item["subscriptionId"])[:200]


def _message_number(item: dict[str, Any]) -> int:
    found = item.get("resourceData")
    data = found if isinstance(found, dict) else {}
    said = "|".join(
        str(part)
        for part in (
            item.get("subscriptionId"),
            item.get("changeType"),
            item.get("resource"),
            item.get("lifecycleEvent"),
            data.get("@odata.etag"),
        )
    )
    # 48 bits: exact as a JavaScript number too (the local Firestore emulator stores integers as doubles).
    return int.from_bytes(hashlib.sha256(said.encode()).digest()[:6], "big") + 1
