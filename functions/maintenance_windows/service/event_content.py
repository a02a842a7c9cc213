"""The event's title and description for a window: explanation (AI or template) rendered around its time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from maintenance_windows.domain.event_text import event_description_html
from maintenance_windows.domain.explanation import Explanation, ExplanationRequest, PolicyBrief
from maintenance_windows.domain.remediation import briefs_for
from maintenance_windows.domain.windows import Window
from maintenance_windows.service.context import PlanningContext


def local_range(start: datetime, end: datetime, zone: str) -> str:
    tz = ZoneInfo(zone)
    first, last = start.astimezone(tz), end.astimezone(tz)
    return f"{first:%A %-d %B, %H:%M}–{last:%H:%M} ({zone})"


def local_day(moment: datetime, zone: str) -> str:
    return f"{moment.astimezone(ZoneInfo(zone)):%A %-d %B}"


def explanation_request(
    ctx: PlanningContext,
    window: Window,
    policies: Mapping[int, Mapping[str, Any]],
    hosts: Sequence[Mapping[str, Any]],
) -> ExplanationRequest:
    rules = ctx.teams.rules_for(window.team_id)
    briefs = [
        PolicyBrief(
            policy_id=policy_id,
            name=str(policies.get(policy_id, {}).get("name", f"policy {policy_id}")),
            description=str(policies.get(policy_id, {}).get("description", "")),
            resolution=str(policies.get(policy_id, {}).get("resolution", "")),
            platform=str(policies.get(policy_id, {}).get("platform", "")),
            critical=bool(policies.get(policy_id, {}).get("critical", False)),
        )
        for policy_id in window.policy_ids
    ]
    platforms = sorted({str(host.get("platform", "")) for host in hosts if host.get("platform")})
    return ExplanationRequest(
        organization=ctx.teams.organization,
        language=rules.language,
        window_local=local_range(window.start, window.end, window.time_zone) if window.start and window.end else "",
        deadline_local=local_day(window.deadline, window.time_zone),
        host_names=[str(host.get("display_name", "")) for host in hosts],
        platforms=platforms,
        policies=briefs,
        actions=briefs_for(briefs, platforms, rules.actions),
        contact=ctx.teams.contact,
    )


def render(ctx: PlanningContext, window: Window, request: ExplanationRequest) -> tuple[str, Explanation]:
    """(description html, explanation) for the window's event; the title comes from booking._event_spec."""
    explanation = ctx.explainer.explain(request)
    html = event_description_html(
        explanation,
        window_local=request.window_local,
        deadline_local=request.deadline_local,
        host_names=request.host_names,
        contact=ctx.teams.contact,
        note=window.note,
    )
    return html, explanation
