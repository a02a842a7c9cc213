"""The deterministic explainer: plain English built from the policies and actions. It cannot fail.

It is the text people get when AI is off, and the text every AI failure falls back to. It only ever
repeats what the policy records and actions say, so it cannot promise work that will not happen; when no
action runs automatically it says so plainly, because Fleet users found "What we'll do" misleading when
they had to act themselves. What an admin wrote in a policy (description, resolution) is shown quoted and
attributed to the policy, never as the product's own instruction.
"""

from __future__ import annotations

import re

from maintenance_windows.domain.event_text import truncate_section
from maintenance_windows.domain.explanation import (
    ActionBrief,
    Explanation,
    ExplanationRequest,
    ExplanationSource,
    FallbackReason,
    PolicyBrief,
    device_restarts,
    estimate_duration_minutes,
)
from maintenance_windows.domain.os_updates import is_person_brief

#: Fleet platform names (and a few spellings people configure) to the word a person uses for the device.
_DEVICE_NOUNS: dict[str, str] = {
    "darwin": "Mac",
    "macos": "Mac",
    "windows": "Windows PC",
    "linux": "Linux computer",
    "ubuntu": "Linux computer",
    "debian": "Linux computer",
    "rhel": "Linux computer",
    "fedora": "Linux computer",
    "chrome": "Chromebook",
    "chromeos": "Chromebook",
    "ios": "iPhone",
    "ipados": "iPad",
}
_GENERIC_DEVICE = "device"
_MAX_POLICIES_DESCRIBED = 3
_MAX_DESCRIPTION_CHARS = 260
_MAX_DESCRIPTION_SENTENCES = 2
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class TemplateExplainer:
    """Explainer port, without AI."""

    def explain(self, request: ExplanationRequest) -> Explanation:
        return self._build(request, reason=None)

    def fallback(self, request: ExplanationRequest, reason: str) -> Explanation:
        """The same text, recording why AI text was not used (for an adapter that failed)."""
        return self._build(request, reason=reason)

    def _build(self, request: ExplanationRequest, reason: str | None) -> Explanation:
        device = _device_noun(request)
        return Explanation(
            why_it_matters=truncate_section(_why_it_matters(request, device)),
            what_will_happen=truncate_section(_what_will_happen(request.actions, device)),
            what_you_need_to_do=truncate_section(_what_you_need_to_do(request, device)),
            expected_duration_minutes=estimate_duration_minutes(request.actions),
            source=ExplanationSource.TEMPLATE,
            fallback_reason=_reason_with_language(reason, request.language),
        )


def _reason_with_language(reason: str | None, language: str) -> str | None:
    if language.lower().split("-")[0] == "en":
        return reason
    return f"{reason};{FallbackReason.ENGLISH_ONLY}" if reason else str(FallbackReason.ENGLISH_ONLY)


def _device_noun(request: ExplanationRequest) -> str:
    platforms = {p.strip().lower() for p in request.platforms if p.strip()}
    if not platforms:
        # A Fleet policy's platform may list several ("darwin,windows"); only a single one names the device.
        platforms = {p.strip().lower() for policy in request.policies for p in policy.platform.split(",") if p}
    nouns = {_DEVICE_NOUNS.get(platform, _GENERIC_DEVICE) for platform in platforms}
    return nouns.pop() if len(nouns) == 1 else _GENERIC_DEVICE


# --- Why it matters ----------------------------------------------------------------------------------------


def _why_it_matters(request: ExplanationRequest, device: str) -> str:
    policies = sorted(request.policies, key=lambda p: p.policy_id)
    if not policies:
        return f"Your {device} needs maintenance that {_organization(request)} requires for every device."
    names = _join([f"“{policy.name}”" for policy in policies])
    opening = (
        f"Your {device} does not pass the check {names}."
        if len(policies) == 1
        else f"Your {device} does not pass {len(policies)} checks: {names}."
    )
    details = [_policy_detail(policy, several=len(policies) > 1) for policy in policies[:_MAX_POLICIES_DESCRIBED]]
    closing = f"{_organization(request)} requires these checks to keep company data and your {device} safe."
    return " ".join([opening, *filter(None, details), closing])


def _policy_detail(policy: PolicyBrief, *, several: bool) -> str:
    about = _first_sentences(policy.description)
    subject = f"The policy “{policy.name}”" if several else "The policy"
    parts = [f"{subject} says: “{about}”" if about else ""]
    if policy.critical:
        subject = f"“{policy.name}”" if several else "This check"
        parts.append(f"{subject} is marked critical, so it must be fixed before the deadline.")
    return " ".join(part for part in parts if part)


def _first_sentences(text: str) -> str:
    """The opening of a policy description: enough to say what it is about, short enough to read."""
    text = " ".join(text.split())
    if not text:
        return ""
    kept = ""
    for sentence in _SENTENCE_END.split(text)[:_MAX_DESCRIPTION_SENTENCES]:
        if kept and len(kept) + len(sentence) > _MAX_DESCRIPTION_CHARS:
            break
        kept = f"{kept} {sentence}".strip()
    if len(kept) > _MAX_DESCRIPTION_CHARS:
        kept = kept[: _MAX_DESCRIPTION_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return kept if kept.endswith((".", "!", "?", "…")) else f"{kept}."


# --- What will happen --------------------------------------------------------------------------------------


def _what_will_happen(actions: list[ActionBrief], device: str) -> str:
    automatic = [action for action in actions if not is_person_brief(action)]
    by_person = len(automatic) < len(actions)
    if not actions:
        return (
            "Nothing is installed or changed automatically in this window. It is time set aside for you to "
            "fix this yourself, with the steps below."
        )
    if not automatic:
        return (
            "Nothing is installed automatically when this window starts: it is time set aside for you to "
            "install the update yourself, with the steps under “Your update”."
        )
    steps = [_verb_phrase(action.summary or action.kind.replace("_", " ")) for action in automatic]
    mentions_restart = any(word in " ".join(steps).lower() for word in ("restart", "reboot"))
    if device_restarts(automatic) and not mentions_restart:
        steps.append("restart")
    text = f"When the window starts, your {device} will {_join(steps, conjunction='then')}."
    return f"{text} You start the update yourself (see “Your update”)." if by_person else text


def _verb_phrase(summary: str) -> str:
    """'Install the macOS update.' -> 'install the macOS update' (keeps 'macOS', 'OS' and the like)."""
    phrase = " ".join(summary.split()).rstrip(".!;:, ")
    if len(phrase) > 1 and phrase[0].isupper() and phrase[1].islower():
        phrase = phrase[0].lower() + phrase[1:]
    return phrase


# --- What you need to do -----------------------------------------------------------------------------------


def _what_you_need_to_do(request: ExplanationRequest, device: str) -> str:
    if not request.actions:
        return _manual_steps(request.policies)
    keep_on = f"Leave your {device} switched on, plugged in and connected to the internet during the window."
    if any(is_person_brief(action) for action in request.actions):
        return (
            f"{keep_on} During the window, start the update with the steps under “Your update”. Save your work "
            f"and close your apps first, because your {device} restarts to finish it."
        )
    if device_restarts(request.actions):
        return (
            f"{keep_on} Save your work and close your apps before it starts, because your {device} will "
            "restart. Nothing else is needed from you."
        )
    return f"{keep_on} You can keep working while it runs; nothing else is needed from you."


def _manual_steps(policies: list[PolicyBrief]) -> str:
    with_steps = [policy for policy in sorted(policies, key=lambda p: p.policy_id) if policy.resolution.strip()]
    if not with_steps:
        return (
            "Your IT team has not written the steps for this yet. Please contact them (see below) before "
            "the window so they can help you fix it."
        )
    if len(with_steps) == 1:
        return (
            "During the window, please follow the steps your IT team gives in the policy: "
            f"“{_as_sentence(with_steps[0].resolution)}”"
        )
    steps = " ".join(f"For “{policy.name}”: “{_as_sentence(policy.resolution)}”" for policy in with_steps)
    return f"During the window, please follow the steps your IT team gives in each policy. {steps}"


def _as_sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else f"{text}."


# --- Shared ------------------------------------------------------------------------------------------------


def _organization(request: ExplanationRequest) -> str:
    return request.organization.strip() or "Your IT team"


def _join(items: list[str], conjunction: str = "and") -> str:
    """'a and b', 'a, b and c'; with 'then', each step follows the last: 'a, then b, then c'."""
    if len(items) <= 1:
        return "".join(items)
    if conjunction == "then":
        return ", then ".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"
