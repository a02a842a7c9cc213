"""Fleet's own calendar webhook, sent as Fleet sends it, for flows (e.g. Tines) built on it.

Fleet (server/service/osquery.go processCalendarPolicies) fires it from a host's policy results: when the
host reports between the event's start and 5 minutes after its end, and some of its team's policies with
`calendar_events_enabled` fail in that report, it POSTs `{timestamp, host_id, host_display_name,
host_serial_number, failing_policies: [{id, name}]}` once (the event's webhook status goes pending → sent or
error). Results before the start or after end + 5 min mark it "error"; a 429 is retried with exponential
backoff for up to 30 minutes (cenkalti/backoff, MaxElapsedTime 30 min, intervals up to 60 s); any other
failure is final. Hosts in no team get none.

Here: at the window's start each failing host in a team is asked to refetch (dispatch calls start()), and a
"webhook" task looks every DispatchOptions.webhook_poll for each host's fresh report (docs/actions.md lists
what remains different). Each host's POST holds a claim, so it is sent at most once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from maintenance_windows.domain.fleet_hosts import FleetHost
from maintenance_windows.domain.ids import claim_id, task_name
from maintenance_windows.domain.rules import TeamRules
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.fleet import FleetError, FleetNotFound, FleetUnavailable
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.repository.claims import ClaimState
from maintenance_windows.service.dispatch_context import Claims, DispatchContext, TaskBody, current_window, no_op
from maintenance_windows.service.errors import RetryLater

logger = get_logger(__name__)
#: Fleet accepts results up to 5 minutes after the event's end ("allowedTimeRelativeToEndTime").
RESULTS_GRACE = timedelta(minutes=5)
#: Fleet's backoff gives up on 429s 30 minutes after the first attempt.
RATE_LIMIT_PATIENCE = timedelta(minutes=30)
_TOO_MANY_REQUESTS = 429


@dataclass(frozen=True)
class WebhookPolled:
    window_id: str
    sent: int
    waiting: int
    finished_without_webhook: int
    status: str = "webhook"


def payload(host: FleetHost, policy_ids: Sequence[int], now: datetime) -> dict[str, Any]:
    """Exactly the fields of Fleet's CalendarWebhookPayload (server/fleet/calendar.go)."""
    names = {policy.policy_id: policy.name for policy in host.policies}
    return {
        "timestamp": now.isoformat(),
        "host_id": host.host_id,
        "host_display_name": host.display_name,
        "host_serial_number": host.hardware_serial,
        "failing_policies": [{"id": p, "name": names.get(p, "")} for p in policy_ids],
    }


def start(ctx: DispatchContext, window: Window, rules: TeamRules, failing: Sequence[FleetHost], now: datetime) -> int:
    """At the window's start: which hosts await a webhook, their refetch, and the first look. Returns how
    many hosts await one."""
    hosts = [host for host in failing if host.team_id]
    if not rules.compatible_webhook_url or not hosts:
        return 0
    claims = Claims(ctx.store, ctx.options.claim_lease)
    claims.mark_first(
        _hosts_claim(window),
        now,
        {"kind": "webhook_hosts", "window_id": window.window_id, "host_ids": [h.host_id for h in hosts]},
    )
    for host in hosts:
        if not host.refetch_requested:
            ctx.fleet.refetch(host.host_id)
    _schedule(ctx, window, 0, now)
    return len(hosts)


def poll(ctx: DispatchContext, body: TaskBody) -> WebhookPolled:
    window = current_window(ctx, body, WindowState.DISPATCHED)
    url = ctx.teams.rules_for(window.team_id).compatible_webhook_url
    claims = Claims(ctx.store, ctx.options.claim_lease)
    awaited = claims.lookup([_hosts_claim(window)]).get(_hosts_claim(window))
    if not url or not awaited:
        raise no_op("ignored", body, "no compatible webhook awaited for this window")
    ids = {int(h): claim_id("webhook", window.window_id, window.revision, int(h)) for h in awaited["host_ids"]}
    known = claims.lookup(list(ids.values()))
    now = ctx.clock()
    counts = {"sent": 0, "waiting": 0, "finished": 0, "done": 0}
    calendar: dict[int | None, set[int]] = {}
    try:
        for host_id, claim in ids.items():
            if (known.get(claim) or {}).get("result") is not None:
                continue  # finished: a claim's head carries its result once it is done
            counts[_one_host(ctx, claims, window, url, host_id, claim, known.get(claim), calendar, now)] += 1
    except FleetUnavailable as outage:
        raise RetryLater(f"Fleet is unavailable; the retry looks again: {outage}") from outage
    if counts["waiting"]:
        _schedule(ctx, window, body.attempt + 1, now)
    return WebhookPolled(window.window_id, counts["sent"], counts["waiting"], counts["finished"])


def _one_host(
    ctx: DispatchContext,
    claims: Claims,
    window: Window,
    url: str,
    host_id: int,
    claim: str,
    known: Mapping[str, Any] | None,
    calendar: dict[int | None, set[int]],
    now: datetime,
) -> str:
    """sent, waiting (no report yet, or a 429 to retry) or finished (no webhook: Fleet would send none)."""
    fields = {"kind": "webhook", "window_id": window.window_id, "host_id": host_id}
    try:
        host = ctx.fleet.get_host(host_id)
    except FleetNotFound:
        return _finish_without(claims, claim, now, fields, known, "the host is no longer in Fleet")
    assert window.start is not None and window.end is not None
    if not host.reported_since(window.start):
        if now <= window.end + RESULTS_GRACE:
            return "waiting"
        return _finish_without(claims, claim, now, fields, known, "no policy results during the window")
    if host.policy_updated_at and host.policy_updated_at > window.end + RESULTS_GRACE:
        return _finish_without(claims, claim, now, fields, known, "results came after the window (+5 min)")
    if host.team_id not in calendar:
        calendar[host.team_id] = calendar_policy_ids(ctx, host.team_id)
    failing = sorted(host.failing_policy_ids() & calendar[host.team_id])
    if not failing:
        return _finish_without(claims, claim, now, fields, known, "no failing calendar policy in the report")
    taken = claims.acquire(claim, now, fields, known)
    if taken.state is ClaimState.FINISHED:
        return "done"
    if taken.state is ClaimState.BUSY:
        return "waiting"
    return _post(ctx, claims, window, url, host, failing, now)


def _post(
    ctx: DispatchContext, claims: Claims, window: Window, url: str, host: FleetHost, failing: list[int], now: datetime
) -> str:
    claim = claim_id("webhook", window.window_id, window.revision, host.host_id)
    try:
        ctx.fleet.post_calendar_webhook(url, payload(host, failing, now))
    except FleetError as refused:
        # Fleet's first attempt is at the report itself: its 30 minutes run from the report.
        first = host.policy_updated_at or now
        if refused.status == _TOO_MANY_REQUESTS and now - first < RATE_LIMIT_PATIENCE:
            claims.release(claim, ctx.clock(), str(refused))
            return "waiting"
        claims.finish(claim, "failed", problem=str(refused)[:300], failed_at=ctx.clock())
        logger.error(
            "calendar webhook refused",
            event="dispatch_failed",
            window_id=window.window_id,
            host_id=host.host_id,
            retrying=False,
            status=refused.status,
        )
        return "finished"
    claims.finish(claim, "sent", sent_at=ctx.clock(), failing_policies=failing)
    logger.info(
        "calendar webhook sent",
        event="webhook_sent",
        window_id=window.window_id,
        host_id=host.host_id,
        policies=failing,
    )
    return "sent"


def _finish_without(
    claims: Claims, claim: str, now: datetime, fields: Mapping[str, Any], known: Mapping[str, Any] | None, why: str
) -> str:
    taken = claims.acquire(claim, now, fields, known)
    if taken.state is ClaimState.ACQUIRED:
        claims.finish(claim, "done", finished_at=now, webhook=None, why=why)
        return "finished"
    return "waiting" if taken.state is ClaimState.BUSY else "done"


def calendar_policy_ids(ctx: DispatchContext, team_id: int | None) -> set[int]:
    """The team's policies with calendar_events_enabled: Fleet's definitions, else the planner's stored copies
    of them (repository/hosts.policies_by_id)."""
    if ctx.catalog is not None:
        try:
            return {p.policy_id for p in ctx.catalog.list_policies(team_id) if p.calendar_events_enabled}
        except FleetUnavailable as outage:
            raise RetryLater(f"Fleet is unavailable: {outage}") from outage
        except FleetError:
            pass  # e.g. a team deleted since: fall back to what Fleet told the planner
    stored = ctx.store.query(host_records.POLICIES)
    return {int(doc["policy_id"]) for _, doc in stored if doc.get("fetched_at") and doc.get("calendar_events_enabled")}


def _hosts_claim(window: Window) -> str:
    return claim_id("webhook_hosts", window.window_id, window.revision)


def _schedule(ctx: DispatchContext, window: Window, attempt: int, now: datetime) -> None:
    name = task_name(window.window_id, window.revision, f"webhook{attempt}")
    body = {"window_id": window.window_id, "revision": window.revision, "purpose": "webhook", "attempt": attempt}
    ctx.tasks.schedule(name, now + ctx.options.webhook_poll, body)
