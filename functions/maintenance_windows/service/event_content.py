"""The event's title and description for a window: explanation (AI or template) rendered around its time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from maintenance_windows.domain.event_text import event_description_html
from maintenance_windows.domain.explanation import Explanation, ExplanationRequest, PolicyBrief
from maintenance_windows.domain.os_update_text import os_update_section_html
from maintenance_windows.domain.remediation import briefs_for
from maintenance_windows.domain.window_notes import absence_note, joined, put_off_note, rebooked_note
from maintenance_windows.domain.windows import Window
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.local_time import local_day, local_moment, local_range
from maintenance_windows.service.os_updates import HostFacts, PlannedUpdate, notices, person_platforms, window_updates

__all__ = ["explanation_request", "local_day", "local_range", "planned_updates", "render"]


def _absence_note(window: Window, language: str) -> str | None:
    """Why the window is later than usual: the person is away, or was, and the deadline waited for them."""
    if window.base_deadline is None and window.away_until is None:
        return None
    back = local_day(window.away_until, window.time_zone, language) if window.away_until else None
    return absence_note(language, deadline=local_day(window.deadline, window.time_zone, language), back=back)


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
            display_name=rules.display_name_for(policy_id, str(policies.get(policy_id, {}).get("name", ""))),
            description=str(policies.get(policy_id, {}).get("description", "")),
            resolution=str(policies.get(policy_id, {}).get("resolution", "")),
            platform=str(policies.get(policy_id, {}).get("platform", "")),
            critical=bool(policies.get(policy_id, {}).get("critical", False)),
        )
        for policy_id in window.policy_ids
    ]
    platforms = sorted({str(host.get("platform", "")) for host in hosts if host.get("platform")})
    updates = planned_updates(ctx, window, policies, hosts)
    return ExplanationRequest(
        organization=ctx.teams.organization,
        language=rules.language,
        window_local=local_range(window.start, window.end, window.time_zone, rules.language)
        if window.start and window.end
        else "",
        deadline_local=local_day(window.deadline, window.time_zone, rules.language),
        host_names=[str(host.get("display_name", "")) for host in hosts],
        platforms=platforms,
        policies=briefs,
        actions=briefs_for(briefs, platforms, rules.actions, person_platforms(updates)),
        contact=ctx.teams.contact,
        os_updates=notices(updates, window.time_zone, window.start),
    )


def planned_updates(
    ctx: PlanningContext, window: Window, policies: Mapping[int, Mapping[str, Any]], hosts: Sequence[Mapping[str, Any]]
) -> list[PlannedUpdate]:
    """The window's OS updates per host (domain/os_updates.py), from the stored host cases."""
    facts = [HostFacts.of_case(int(host["host_id"]), host) for host in hosts if host.get("host_id") is not None]
    names = {policy_id: str(policy.get("name", "")) for policy_id, policy in policies.items()}
    return window_updates(ctx.os_updates, ctx.teams.rules_for(window.team_id).actions, window, facts, names)


def render(ctx: PlanningContext, window: Window, request: ExplanationRequest) -> tuple[str, Explanation]:
    """(description html, explanation) for the window's event; the title comes from booking._event_spec."""
    explanation = ctx.explainer.explain(request)
    rules = ctx.teams.rules_for(window.team_id)
    minutes = int((window.end - window.start).total_seconds() // 60) if window.start and window.end else None
    html = os_update_section_html(request.os_updates) + event_description_html(
        explanation,
        window_local=request.window_local,
        deadline_local=request.deadline_local,
        host_names=request.host_names,
        contact=ctx.teams.contact,
        note=joined(
            rebooked_note(request.language) if window.booking > 0 else None,
            put_off_note(
                request.language, earlier=local_moment(window.put_off_start, window.time_zone, request.language)
            )
            if window.put_off_start
            else None,
            window.note,
            _absence_note(window, request.language),
        ),
        language=request.language,
        window_minutes=minutes,
        max_deletions=rules.follow.max_user_deletions,
    )
    return html, explanation
