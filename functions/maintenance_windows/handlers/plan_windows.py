"""plan_windows: Cloud Scheduler's call (OIDC-authenticated) runs one planning pass."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from maintenance_windows.auth import AuthError, CallerVerifier
from maintenance_windows.domain.document_ids import InvalidDocumentId
from maintenance_windows.handlers.http import BadRequest, HttpRequest, HttpResponse, error, parse_json_body
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.calendar import CalendarDeploymentError, CalendarUnavailable
from maintenance_windows.ports.fleet import FleetUnavailable
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.planner import AfterPlanHook, PlanOptions, plan_windows
from maintenance_windows.service.polling import follow_polled

logger = get_logger(__name__)

#: The body holds at most {"lead_minutes": n} or {"follow_only": true}; anything near this size is not ours.
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class PlanSettings:
    time_budget: timedelta
    allow_short_lead: bool


def handle_plan_windows(
    request: HttpRequest,
    ctx: PlanningContext,
    verifier: CallerVerifier,
    settings: PlanSettings,
    hooks: Sequence[AfterPlanHook] = (),
) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(405, {"error": "use POST"}, {"Allow": "POST"})
    try:
        verifier.verify(request.header("Authorization"))
    except AuthError as refused:
        logger.warning("plan_windows caller refused", event="caller_refused", reason=refused.reason)
        return error(refused.status, refused.reason)
    if _follow_only(request):
        # The short schedule of calendars that cannot push (service/polling.py): no planning, no Fleet.
        return HttpResponse(200, follow_polled(ctx).as_report())
    options = _options(request, settings)
    if isinstance(options, HttpResponse):
        return options
    try:
        report = plan_windows(ctx, options, hooks)
    except CalendarDeploymentError as broken:
        # Nobody's calendar can be used until the deployment changes; the caller's input was fine, and the
        # next scheduled run tries again, so this is a 503 naming the fix, logged once per run.
        logger.error(
            "planning stopped: the calendar deployment must be fixed",
            event="calendar_deployment_error",
            problem=str(broken),
        )
        return error(503, str(broken))
    except InvalidDocumentId as invalid:  # the store guard's last line: a stored id no store can hold
        logger.error("planning refused an invalid document id", event="plan_failed", error=str(invalid))
        return error(400, str(invalid))
    except (CalendarUnavailable, FleetUnavailable) as outage:
        logger.error("planning failed; the next run retries", event="plan_failed", error=str(outage))
        return error(503, f"a dependency is unavailable: {outage}")
    return HttpResponse(200, report.as_dict())


def _follow_only(request: HttpRequest) -> bool:
    """A body that is exactly {"follow_only": true}; anything else is read (and checked) as plan options."""
    if not request.body.strip() or len(request.body) > 64:
        return False
    try:
        body = parse_json_body(request.body)
    except BadRequest:
        return False
    return bool(body == {"follow_only": True})


def _options(request: HttpRequest, settings: PlanSettings) -> PlanOptions | HttpResponse:
    if max(request.content_length or 0, len(request.body)) > MAX_BODY_BYTES:
        return error(413, f"body over {MAX_BODY_BYTES} bytes")
    if not request.body.strip():
        return PlanOptions(time_budget=settings.time_budget)
    try:
        body = parse_json_body(request.body)
    except BadRequest as refused:
        return error(400, f"body must be empty or a JSON object: {refused.problem}")
    if not isinstance(body, dict):
        return error(400, "body must be empty or a JSON object")
    if set(body) - {"lead_minutes"}:
        return error(400, "the only accepted field is lead_minutes")
    lead = body.get("lead_minutes")
    if lead is None:
        return PlanOptions(time_budget=settings.time_budget)
    if not settings.allow_short_lead:
        return error(403, "lead_minutes is for local runs only (MW_ALLOW_SHORT_LEAD)")
    if not isinstance(lead, int) or isinstance(lead, bool) or not 0 <= lead <= 24 * 60:
        return error(400, "lead_minutes must be an integer from 0 to 1440")
    return PlanOptions(time_budget=settings.time_budget, short_lead=timedelta(minutes=lead))
