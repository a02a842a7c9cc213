"""The event's title and description for a window: explanation (AI or template) rendered around its time.

Every text that reaches the event passes domain/event_text.text_problems, whoever wrote it: each policy
text from Fleet and each device name before anything is written from them (a text that fails is left
out), and the finished explanation once more before it is rendered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from maintenance_windows.domain.event_text import (
    event_description_html,
    explanation_problems,
    text_problems,
    withheld_explanation,
)
from maintenance_windows.domain.explanation import Explanation, ExplanationRequest, PolicyBrief
from maintenance_windows.domain.os_update_text import os_update_section_html
from maintenance_windows.domain.remediation import briefs_for
from maintenance_windows.domain.rules import TeamRules
from maintenance_windows.domain.window_notes import absence_note, joined, put_off_note, rebooked_note
from maintenance_windows.domain.windows import Window
from maintenance_windows.observability import get_logger
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.local_time import local_day, local_moment, local_range
from maintenance_windows.service.os_updates import HostFacts, PlannedUpdate, notices, person_platforms, window_updates

__all__ = ["explanation_request", "local_day", "local_range", "planned_updates", "render"]

logger = get_logger(__name__)


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
    """What the text may use. `policies`: Fleet's texts by id (service/policy_texts.py); `hosts`: the hosts'
    documents, whose `fleet_display_name` is Fleet's."""
    rules = ctx.teams.rules_for(window.team_id)
    platforms = sorted({str(host.get("platform", "")) for host in hosts if host.get("platform")})
    raw = [_brief(policy_id, policies.get(policy_id, {}), rules) for policy_id in window.policy_ids]
    updates = planned_updates(ctx, window, policies, hosts)
    request = ExplanationRequest(
        organization=ctx.teams.organization,
        language=rules.language,
        window_local=local_range(window.start, window.end, window.time_zone, rules.language)
        if window.start and window.end
        else "",
        deadline_local=local_day(window.deadline, window.time_zone, rules.language),
        platforms=platforms,
        policies=raw,
        actions=briefs_for(raw, platforms, rules.actions, person_platforms(updates)),
        contact=ctx.teams.contact,
        help_links=list(ctx.teams.help_links),
    )
    checked = [_checked_brief(brief, request) for brief in raw]
    names = [_checked_host_name(host, host_id, request) for host, host_id in zip(hosts, window.host_ids, strict=True)]
    # The OS-update section names the policies too: with the names that passed the check.
    shown = planned_updates(ctx, window, {brief.policy_id: {"name": brief.name} for brief in checked}, hosts)
    return request.model_copy(
        update={"policies": checked, "host_names": names, "os_updates": notices(shown, window.time_zone, window.start)}
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
    problems = explanation_problems(explanation, request)
    if problems:
        logger.warning(
            "event text refused; a minimal text is used",
            event="event_text_refused",
            window_id=window.window_id,
            source=explanation.source.value,
            problems=list(problems),
        )
        explanation = withheld_explanation(request)
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


def _brief(policy_id: int, policy: Mapping[str, Any], rules: TeamRules) -> PolicyBrief:
    return PolicyBrief(
        policy_id=policy_id,
        name=str(policy.get("name") or f"policy {policy_id}"),
        display_name=rules.display_name_for(policy_id, str(policy.get("name") or "")),
        description=str(policy.get("description", "")),
        resolution=str(policy.get("resolution", "")),
        platform=str(policy.get("platform", "")),
        critical=bool(policy.get("critical", False)),
    )


def _checked_brief(brief: PolicyBrief, request: ExplanationRequest) -> PolicyBrief:
    """The brief with each admin-written text that fails the checks left out (the name becomes neutral)."""
    withheld = {field: _withheld(getattr(brief, field), request) for field in ("name", "description", "resolution")}
    if not any(withheld.values()):
        return brief
    logger.warning(
        "policy text from Fleet cannot be shown in events; left out",
        event="policy_text_withheld",
        policy_id=brief.policy_id,
        problems={field: problems for field, problems in withheld.items() if problems},
    )
    return brief.model_copy(
        update={
            "name": f"policy {brief.policy_id}" if withheld["name"] else brief.name,
            "description": "" if withheld["description"] else brief.description,
            "resolution": "" if withheld["resolution"] else brief.resolution,
        }
    )


def _checked_host_name(host: Mapping[str, Any], host_id: int, request: ExplanationRequest) -> str:
    name = str(host.get("fleet_display_name") or "").strip()
    if name and not _withheld(name, request):
        return name
    return f"host {host_id}"


def _withheld(text: str, request: ExplanationRequest) -> list[str]:
    return text_problems(text, request) if text else []
