"""The deterministic explainer: plain words built from the policies and actions, in English or German.

It is the text people get when AI is off, and the text every AI failure falls back to. It only ever
repeats what the policy records and actions say, so it cannot promise work that will not happen; when no
action runs automatically it says so plainly, because Fleet users found "What we'll do" misleading when
they had to act themselves. What an admin wrote in a policy (description, resolution) is shown quoted and
attributed to the policy, never as the product's own instruction.

Written for a reader who is not technical: a policy is named by the team's `display_name` for it, or by
its Fleet name when that reads as words, never by an identifier such as "policy1"; "critical" becomes
"urgent"; and a person with several devices reads about each of them, by name. Other languages than
English and German get English, and the fallback reason says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from maintenance_windows.domain.event_phrases import base_language, has_language
from maintenance_windows.domain.event_text import looks_like_identifier, truncate_section
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

_MAX_POLICIES_DESCRIBED = 3
_MAX_NAMED_DEVICES = 3
_MAX_DESCRIPTION_CHARS = 260
_MAX_DESCRIPTION_SENTENCES = 2
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class _Noun:
    one: str
    many: str


#: Fleet platform names (and a few spellings people configure) to the word a person uses for the device.
_PLATFORMS: dict[str, str] = {
    "darwin": "mac",
    "macos": "mac",
    "windows": "windows",
    "linux": "linux",
    "ubuntu": "linux",
    "debian": "linux",
    "rhel": "linux",
    "fedora": "linux",
    "chrome": "chromebook",
    "chromeos": "chromebook",
    "ios": "iphone",
    "ipados": "ipad",
}
_NOUNS: dict[str, dict[str, _Noun]] = {
    "en": {
        "mac": _Noun("Mac", "Macs"),
        "windows": _Noun("Windows PC", "Windows PCs"),
        "linux": _Noun("Linux computer", "Linux computers"),
        "chromebook": _Noun("Chromebook", "Chromebooks"),
        "iphone": _Noun("iPhone", "iPhones"),
        "ipad": _Noun("iPad", "iPads"),
        "device": _Noun("device", "devices"),
    },
    "de": {
        "mac": _Noun("Mac", "Macs"),
        "windows": _Noun("Windows-PC", "Windows-PCs"),
        "linux": _Noun("Linux-Computer", "Linux-Computer"),
        "chromebook": _Noun("Chromebook", "Chromebooks"),
        "iphone": _Noun("iPhone", "iPhones"),
        "ipad": _Noun("iPad", "iPads"),
        "device": _Noun("Gerät", "Geräte"),
    },
}
#: German words for what an action does, by kind, for actions without a summary of the team's own.
_GERMAN_ACTIONS: tuple[tuple[str, str], ...] = (
    ("os_update", "das Betriebssystem-Update installieren"),
    ("software", "die benötigte Software installieren"),
    ("script", "eine Korrektur Ihrer IT ausführen"),
    ("refetch", "die Einstellungen erneut an die IT melden"),
    ("mdm", "eine Einstellung Ihrer IT übernehmen"),
)


class TemplateExplainer:
    """Explainer port, without AI."""

    def explain(self, request: ExplanationRequest) -> Explanation:
        return self._build(request, reason=None)

    def fallback(self, request: ExplanationRequest, reason: str) -> Explanation:
        """The same text, recording why AI text was not used (for an adapter that failed)."""
        return self._build(request, reason=reason)

    def _build(self, request: ExplanationRequest, reason: str | None) -> Explanation:
        writer = _German(request) if base_language(request.language) == "de" else _English(request)
        return Explanation(
            why_it_matters=truncate_section(writer.why_it_matters()),
            what_will_happen=truncate_section(writer.what_will_happen()),
            what_you_need_to_do=truncate_section(writer.what_you_need_to_do()),
            expected_duration_minutes=estimate_duration_minutes(request.actions),
            source=ExplanationSource.TEMPLATE,
            fallback_reason=_reason_with_language(reason, request.language),
        )


def _reason_with_language(reason: str | None, language: str) -> str | None:
    if has_language(language):
        return reason
    return f"{reason};{FallbackReason.ENGLISH_ONLY}" if reason else str(FallbackReason.ENGLISH_ONLY)


# --- Shared ------------------------------------------------------------------------------------------------


class _Writer:
    """What both languages need: the devices, the policies' plain names, the organisation."""

    language = "en"
    quotes = ("“", "”")
    and_word = "and"
    then_word = ", then "

    def __init__(self, request: ExplanationRequest) -> None:
        self.request = request
        self.policies = sorted(request.policies, key=lambda p: p.policy_id)
        self.names = [name for name in (" ".join(h.split()) for h in request.host_names) if name]
        self.noun = _NOUNS[self.language][_device_kind(request)]
        self.several = len(self.names) > 1

    def devices(self, possessive: str) -> str:
        """'Your Mac'; 'your Macs “A” and “B”' for several, each named."""
        if not self.several:
            return f"{possessive} {self.noun.one}"
        shown = [self.quoted(name) for name in self.names[:_MAX_NAMED_DEVICES]]
        hidden = len(self.names) - len(shown)
        named = self.join(shown + ([self.more(hidden)] if hidden else []))
        return f"{possessive} {self.noun.many} {named}"

    def more(self, count: int) -> str:
        return f"{count} more"

    def label(self, policy: PolicyBrief) -> str | None:
        """The policy in words a person reads: its display name, or its name when that is not an identifier."""
        if policy.display_name.strip():
            return self.quoted(" ".join(policy.display_name.split()))
        name = " ".join(policy.name.split())
        return None if looks_like_identifier(name) else self.quoted(name)

    def quoted(self, text: str) -> str:
        return f"{self.quotes[0]}{text}{self.quotes[1]}"

    def organization(self, fallback: str) -> str:
        return self.request.organization.strip() or fallback

    def join(self, items: Sequence[str]) -> str:
        if len(items) <= 1:
            return "".join(items)
        return f"{', '.join(items[:-1])} {self.and_word} {items[-1]}"

    def steps(self, actions: Sequence[ActionBrief]) -> list[str]:
        return [_verb_phrase(action.summary or action.kind.replace("_", " ")) for action in actions]


def _device_kind(request: ExplanationRequest) -> str:
    platforms = {p.strip().lower() for p in request.platforms if p.strip()}
    if not platforms:
        # A Fleet policy's platform may list several ("darwin,windows"); only a single one names the device.
        platforms = {p.strip().lower() for policy in request.policies for p in policy.platform.split(",") if p}
    kinds = {_PLATFORMS.get(platform, "device") for platform in platforms}
    return kinds.pop() if len(kinds) == 1 else "device"


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


def _verb_phrase(summary: str) -> str:
    """'Install the macOS update.' -> 'install the macOS update' (keeps 'macOS', 'OS' and the like)."""
    phrase = " ".join(summary.split()).rstrip(".!;:, ")
    if len(phrase) > 1 and phrase[0].isupper() and phrase[1].islower():
        phrase = phrase[0].lower() + phrase[1:]
    return phrase


def _as_sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else f"{text}."


# --- English -----------------------------------------------------------------------------------------------


class _English(_Writer):
    def why_it_matters(self) -> str:
        subject = self.devices("Your")
        need = "need" if self.several else "needs"
        organization = self.organization("your IT team")
        if not self.policies:
            return f"{subject} {need} maintenance that {organization} requires for every device."
        labels = [self.label(policy) for policy in self.policies]
        named = [label for label in labels if label]
        unnamed = len(labels) - len(named)
        if unnamed:
            named.append("one more setting" if unnamed == 1 else f"{unnamed} more settings")
        rules = f"the security rules of {organization}"
        if len(self.policies) == 1:
            opening = f"{subject} {need} a fix to meet {rules}" + (f": {named[0]}." if labels[0] else ".")
        else:
            opening = f"{subject} {need} {len(self.policies)} fixes to meet {rules}: {self.join(named)}."
        return " ".join([opening, *self._details(labels), self._urgency(labels), self._closing()]).replace("  ", " ")

    def _details(self, labels: list[str | None]) -> list[str]:
        details = []
        for policy, label in list(zip(self.policies, labels, strict=True))[:_MAX_POLICIES_DESCRIBED]:
            about = _first_sentences(policy.description)
            if about:
                subject = f"The policy {label}" if len(self.policies) > 1 and label else "The policy"
                details.append(f"{subject} says: {self.quoted(about)}")
        return details

    def _urgency(self, labels: list[str | None]) -> str:
        urgent = [
            label or "One of them" for policy, label in zip(self.policies, labels, strict=True) if policy.critical
        ]
        if not urgent:
            return ""
        if len(self.policies) == 1:
            return "This fix is urgent, so please keep this time or move it only a little."
        return f"{self.join(urgent)} {'are' if len(urgent) > 1 else 'is'} urgent, so please keep this time."

    def _closing(self) -> str:
        return f"These rules keep company data and your {self.noun.many if self.several else self.noun.one} safe."

    def what_will_happen(self) -> str:
        actions = self.request.actions
        if not actions:
            return (
                "Nothing is installed or changed automatically in this window. It is time set aside for you to "
                "fix this yourself, with the steps below."
            )
        automatic = [action for action in actions if not is_person_brief(action)]
        if not automatic:
            return (
                "Nothing is installed automatically when this window starts: it is time set aside for you to "
                "install the update yourself, with the steps under “Your update”."
            )
        steps = self.steps(automatic)
        mentions_restart = any(word in " ".join(steps).lower() for word in ("restart", "reboot"))
        if device_restarts(automatic) and not mentions_restart:
            steps.append("restart")
        subject = f"each of your {self.noun.many}" if self.several else f"your {self.noun.one}"
        text = f"When the window starts, {subject} will {self.then_word.join(steps)}."
        by_person = len(automatic) < len(actions)
        return f"{text} You start the update yourself (see “Your update”)." if by_person else text

    def what_you_need_to_do(self) -> str:
        actions = self.request.actions
        if not actions:
            return self._manual_steps()
        yours = f"your {self.noun.many}" if self.several else f"your {self.noun.one}"
        keep_on = f"Leave {yours} switched on, plugged in and connected to the internet during the window."
        if any(is_person_brief(action) for action in actions):
            restarts = "restart" if self.several else "restarts"
            return (
                f"{keep_on} During the window, start the update with the steps under “Your update”. Save your work "
                f"and close your apps first, because {yours} {restarts} to finish it."
            )
        if device_restarts(actions):
            return (
                f"{keep_on} Save your work and close your apps before it starts, because {yours} will restart. "
                "Nothing else is needed from you."
            )
        return f"{keep_on} You can keep working while it runs; nothing else is needed from you."

    def _manual_steps(self) -> str:
        with_steps = [policy for policy in self.policies if policy.resolution.strip()]
        if not with_steps:
            return (
                "Your IT team has not written the steps for this yet. Please contact them (see below) before "
                "the window so they can help you fix it."
            )
        if len(with_steps) == 1:
            return (
                "During the window, please follow the steps your IT team gives in the policy: "
                f"{self.quoted(_as_sentence(with_steps[0].resolution))}"
            )
        steps = " ".join(
            f"For {self.label(policy) or 'the next fix'}: {self.quoted(_as_sentence(policy.resolution))}"
            for policy in with_steps
        )
        return f"During the window, please follow the steps your IT team gives in each policy. {steps}"


# --- German ------------------------------------------------------------------------------------------------


class _German(_Writer):
    language = "de"
    quotes = ("„", "“")
    and_word = "und"

    def more(self, count: int) -> str:
        return f"{count} weitere"

    def why_it_matters(self) -> str:
        subject = self.devices("Ihre" if self.several else "Ihr")
        need = "brauchen" if self.several else "braucht"
        organization = self.organization("Ihre IT")
        if not self.policies:
            return f"{subject} {need} eine Wartung, die {organization} für jedes Gerät vorschreibt."
        labels = [self.label(policy) for policy in self.policies]
        named = [label for label in labels if label]
        unnamed = len(labels) - len(named)
        if unnamed:
            named.append("eine weitere Einstellung" if unnamed == 1 else f"{unnamed} weitere Einstellungen")
        rules = f"um die Sicherheitsregeln von {organization} zu erfüllen"
        if len(self.policies) == 1:
            opening = f"{subject} {need} eine Korrektur, {rules}" + (f": {named[0]}." if labels[0] else ".")
        else:
            opening = f"{subject} {need} {len(self.policies)} Korrekturen, {rules}: {self.join(named)}."
        details = []
        for policy, label in list(zip(self.policies, labels, strict=True))[:_MAX_POLICIES_DESCRIBED]:
            about = _first_sentences(policy.description)
            if about:
                subject = f"In der Richtlinie {label}" if len(self.policies) > 1 and label else "In der Richtlinie"
                details.append(f"{subject} steht: {self.quoted(about)}")
        urgent = any(policy.critical for policy in self.policies)
        urgency = (
            "Das ist dringend: Bitte behalten Sie diese Zeit oder verschieben Sie sie nur wenig." if urgent else ""
        )
        closing = "Diese Regeln schützen Firmendaten und Ihre Geräte."
        return " ".join(part for part in [opening, *details, urgency, closing] if part)

    def what_will_happen(self) -> str:
        actions = self.request.actions
        if not actions:
            return (
                "In diesem Zeitfenster wird nichts automatisch installiert oder geändert. Es ist Zeit, die für "
                "Sie reserviert ist, um das Problem mit den Schritten unten selbst zu beheben."
            )
        automatic = [action for action in actions if not is_person_brief(action)]
        if not automatic:
            return (
                "Wenn dieses Zeitfenster beginnt, wird nichts automatisch installiert: Es ist Zeit, die für Sie "
                "reserviert ist, um das Update selbst zu installieren, mit den Schritten unter „Your update“."
            )
        steps = [self._german_step(action) for action in automatic]
        if device_restarts(automatic) and not any("neu starten" in step for step in steps):
            steps.append("neu starten")
        subject = f"werden Ihre {self.noun.many}" if self.several else f"wird Ihr {self.noun.one}"
        done = steps[0] if len(steps) == 1 else f"{', '.join(steps[:-1])} und dann {steps[-1]}"
        text = f"Wenn das Zeitfenster beginnt, {subject} {done}."
        by_person = len(automatic) < len(actions)
        return f"{text} Das Update starten Sie selbst (siehe „Your update“)." if by_person else text

    def _german_step(self, action: ActionBrief) -> str:
        if action.configured:
            return _verb_phrase(action.summary)
        kind = action.kind.lower()
        if "restart" in kind or "reboot" in kind or "restart" in action.summary.lower():
            return "neu starten"
        return next((words for key, words in _GERMAN_ACTIONS if key in kind), "eine Korrektur Ihrer IT ausführen")

    def what_you_need_to_do(self) -> str:
        actions = self.request.actions
        if not actions:
            return self._manual_steps()
        yours = "Ihre Geräte" if self.several else "Ihr Gerät"
        keep_on = f"Lassen Sie {yours} während des Zeitfensters eingeschaltet, am Strom und mit dem Internet verbunden."
        restarts = "starten neu" if self.several else "startet neu"
        if any(is_person_brief(action) for action in actions):
            return (
                f"{keep_on} Starten Sie im Zeitfenster das Update mit den Schritten unter „Your update“. Speichern "
                f"Sie vorher Ihre Arbeit und schließen Sie Ihre Apps, denn {yours} {restarts}, um es abzuschließen."
            )
        if device_restarts(actions):
            return (
                f"{keep_on} Speichern Sie Ihre Arbeit und schließen Sie Ihre Apps vorher, denn {yours} {restarts}. "
                "Sonst müssen Sie nichts tun."
            )
        return f"{keep_on} Sie können währenddessen weiterarbeiten; sonst müssen Sie nichts tun."

    def _manual_steps(self) -> str:
        with_steps = [policy for policy in self.policies if policy.resolution.strip()]
        if not with_steps:
            return (
                "Ihre IT hat die Schritte dafür noch nicht beschrieben. Bitte wenden Sie sich vor dem Zeitfenster "
                "an sie (siehe unten), damit sie Ihnen helfen kann."
            )
        if len(with_steps) == 1:
            return (
                "Bitte folgen Sie im Zeitfenster den Schritten, die Ihre IT in der Richtlinie angibt: "
                f"{self.quoted(_as_sentence(with_steps[0].resolution))}"
            )
        steps = " ".join(
            f"Für {self.label(policy) or 'die nächste Korrektur'}: {self.quoted(_as_sentence(policy.resolution))}"
            for policy in with_steps
        )
        return f"Bitte folgen Sie im Zeitfenster den Schritten, die Ihre IT in jeder Richtlinie angibt. {steps}"
