"""The calendar event's words: its title, its HTML description, and the checks AI-written text must pass.

Pure: every function here is a function of its arguments. The description is rendered around an
Explanation, so the parts that differ per person (window time, deadline, devices, contact, note) never
reach the model and one cached explanation serves every person with the same policies and actions.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping

from maintenance_windows.domain.event_phrases import DEFAULT_LANGUAGE, Phrases, deletion_text, phrases
from maintenance_windows.domain.explanation import (
    MAX_DURATION_MINUTES,
    ActionBrief,
    Explanation,
    ExplanationRequest,
    ExplanationSource,
    FallbackReason,
    device_restarts,
    estimate_duration_minutes,
)
from maintenance_windows.domain.os_updates import is_person_brief

#: Google Calendar accepts far longer descriptions, but a description people read stays short; 8 KB also
#: keeps the events.insert body small when thousands are written in one planning run.
MAX_DESCRIPTION_BYTES = 8 * 1024
MAX_TITLE_CHARS = 200  # the team configuration's EventStyle.title limit
MIN_SECTION_CHARS = 10
MAX_SECTION_CHARS = 700
MAX_HOSTS_LISTED = 10

SECTION_NAMES = ("why_it_matters", "what_will_happen", "what_you_need_to_do")

_ELLIPSIS = "…"
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_WHITESPACE_RUN = re.compile(r"[ \t]+")


# --- Title -------------------------------------------------------------------------------------------------


def event_title(organization: str, title_override: str | None, language: str = DEFAULT_LANGUAGE) -> str:
    """The event's summary: the team's own title when set, else one naming the organisation."""
    override = _single_line(title_override or "")
    if override:
        return _truncate(override, MAX_TITLE_CHARS)
    words = phrases(language)
    organization = _single_line(organization)
    if not organization:
        return words.fallback_title
    # "Acme IT" is how people usually name the sender; don't write "Acme IT IT".
    sender = organization if re.search(r"\bIT$", organization) else f"{organization} IT"
    return _truncate(words.title.format(sender=sender), MAX_TITLE_CHARS)


# --- Description -------------------------------------------------------------------------------------------

#: Per-field character limits at scale 1.0. The description is rendered at shrinking scales until it fits
#: MAX_DESCRIPTION_BYTES (escaping and multi-byte text can grow a character to six bytes).
_LIMITS: Mapping[str, int] = {
    "section": MAX_SECTION_CHARS,
    "note": 400,
    "window": 160,
    "deadline": 120,
    "host": 100,
    "contact": 200,
}
_SCALES = (1.0, 0.6, 0.4, 0.25, 0.15)


def event_description_html(
    explanation: Explanation,
    *,
    window_local: str,
    deadline_local: str,
    host_names: Iterable[str],
    contact: str,
    note: str | None = None,
    language: str = DEFAULT_LANGUAGE,
    window_minutes: int | None = None,
    max_deletions: int | None = None,
) -> str:
    """HTML that Google Calendar renders (<b>, <i>, <br>, <ul><li>); every dynamic string is escaped.

    The fixed words are in ``language`` (event_phrases). The duration never contradicts the booked
    ``window_minutes``; with ``max_deletions`` the text says what deleting the event does."""
    hosts = [name for name in (_single_line(host) for host in host_names) if name]
    words = phrases(language)

    def render(scale: float) -> str:
        def limit(field: str) -> Callable[[str], str]:
            size = max(20, int(_LIMITS[field] * scale))
            return lambda text: _escape(_truncate(_clean(text), size))

        return "".join(
            _description_blocks(
                explanation,
                words,
                section=limit("section"),
                note=note and limit("note")(note),
                window=limit("window")(window_local),
                deadline=limit("deadline")(deadline_local),
                hosts=[limit("host")(host) for host in hosts],
                contact=limit("contact")(contact),
                window_minutes=window_minutes,
                deleting=limit("note")(deletion_text(language, max_deletions, contact or "your IT team"))
                if max_deletions
                else None,
            )
        )

    for scale in _SCALES:
        description = render(scale)
        if len(description.encode("utf-8")) <= MAX_DESCRIPTION_BYTES:
            return description
    raise AssertionError("the smallest scale always fits")  # pragma: no cover - sizes above make it so


def _description_blocks(
    explanation: Explanation,
    words: Phrases,
    *,
    section: Callable[[str], str],
    note: str | None,
    window: str,
    deadline: str,
    hosts: list[str],
    contact: str,
    window_minutes: int | None,
    deleting: str | None,
) -> Iterable[str]:
    if note:
        yield f"<b>{words.please_note}</b> {note}<br><br>"
    yield _block(words.why_it_matters, section(explanation.why_it_matters))
    yield _block(words.what_will_happen, section(explanation.what_will_happen))
    yield _block(words.what_you_need_to_do, section(explanation.what_you_need_to_do))
    yield _block(words.when, f"{window}. {_duration(words, explanation.expected_duration_minutes, window_minutes)}")
    if hosts:
        yield f"<b>{words.device if len(hosts) == 1 else words.devices}</b>{_host_list(hosts, words)}"
    moving = _escape(words.move_it.format(deadline=deadline))
    yield _block(words.different_time, f"{moving} {deleting}" if deleting else moving)
    if contact:
        yield _block(words.questions, _escape(words.contact_line.format(contact=contact)))
    if explanation.source is ExplanationSource.AI:
        yield f"<i>{_escape(words.ai_note)}</i>"


def _duration(words: Phrases, estimate: int, window_minutes: int | None) -> str:
    """The work's length in words, never longer than the window the calendar shows."""
    if window_minutes is not None and estimate > window_minutes:
        return _escape(words.may_take_longer.format(minutes=window_minutes))
    return _escape(words.takes_about.format(minutes=estimate))


def outcome_description_html(
    language: str,
    *,
    verified: bool,
    host_names: Iterable[str],
    contact: str,
    rebook_after_local: str | None = None,
    escalated: bool = False,
) -> str:
    """The event's description once the window is over: how it ended and, when it failed, what comes next."""
    words = phrases(language)
    hosts = [_escape(_truncate(name, _LIMITS["host"])) for name in (_single_line(h) for h in host_names) if name]
    device_words = _join_names(hosts, words) or _escape(words.your_devices)
    if verified:
        # The static text is escaped first; the names in it are escaped already.
        body = words.done_one if len(hosts) == 1 else words.done_many
        text = _block(words.done_heading, _escape(body).replace("{devices}", device_words))
    else:
        steps = []
        if rebook_after_local:
            steps.append(_escape(words.failed_rebook.format(when=_truncate(_clean(rebook_after_local), 120))))
        if escalated or not rebook_after_local:
            steps.append(_escape(words.failed_escalated.format(contact=_truncate(_clean(contact), 200))))
        text = _block(words.failed_heading, " ".join(steps))
    if contact:
        text += _block(words.questions, _escape(words.contact_line.format(contact=_truncate(_clean(contact), 200))))
    return text


def _join_names(names: list[str], words: Phrases) -> str:
    if not names:
        return ""
    joiner = " und " if words is phrases("de") else " and "
    quoted = [f"“{name}”" for name in names[:MAX_HOSTS_LISTED]]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])}{joiner}{quoted[-1]}"


def _block(heading: str, body: str) -> str:
    return f"<b>{heading}</b><br>{body}<br><br>"


def _host_list(hosts: list[str], words: Phrases) -> str:
    shown = hosts[:MAX_HOSTS_LISTED]
    items = "".join(f"<li>{host}</li>" for host in shown)
    hidden = len(hosts) - len(shown)
    if hidden:
        items += f"<li>{_escape(words.and_more.format(count=hidden))}</li>"
    return f"<ul>{items}</ul>"


def _escape(text: str) -> str:
    return html.escape(text, quote=True).replace("\n", "<br>")


# --- Text hygiene ------------------------------------------------------------------------------------------


def _clean(text: str) -> str:
    """Drops control and bidi-override characters, keeps line breaks, squeezes blank lines."""
    text = _CONTROL_CHARS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [_WHITESPACE_RUN.sub(" ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _single_line(text: str) -> str:
    return " ".join(_clean(text).split())


def _truncate(text: str, max_chars: int) -> str:
    """Cuts at a word boundary when one is near, and says it was cut."""
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    space = cut.rfind(" ")
    if space >= max_chars * 0.7:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + _ELLIPSIS


def truncate_section(text: str) -> str:
    """A section cleaned and cut to MAX_SECTION_CHARS (the template's text obeys the AI's limits too)."""
    return _truncate(_clean(text), MAX_SECTION_CHARS)


# --- Checks on AI-written text -----------------------------------------------------------------------------

_MARKUP = re.compile(
    r"<\s*/?\s*[a-z!?][^>]*>"  # HTML/XML tags
    r"|&(?:#\d+|#x[0-9a-f]+|[a-z]+);"  # entities
    r"|\[[^\]]*\]\([^)]*\)"  # markdown links
    r"|\*\*|__|`"  # markdown emphasis and code
    r"|^\s*#{1,6}\s",  # markdown headings
    re.IGNORECASE | re.MULTILINE,
)
#: A web address: a scheme, or www., up to the next space or bracket. "data:" or "mailto:" followed by a
#: space is prose ("Protect your data: turn on FileVault"), not an address.
_ADDRESS = re.compile(
    r"\b(?:(?:https?|ftp|file|smb):/|(?:mailto|javascript|data):(?=\S)|www\.)[^\s<>\"'()\[\]]*", re.IGNORECASE
)
_DOMAIN_LIKE = re.compile(
    r"\b[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|io|co|ru|cn|xyz|info|biz|me|app|dev|ly|tk|top|site|online|sh|"
    r"gg|link|zip|mov|exe|pkg|dmg|msi|ps1|bat|cmd)\b",
    re.IGNORECASE,
)
_INJECTION_MARKERS = re.compile(
    r"ignore (?:all |any )?(?:the )?(?:previous|prior|above)|previous instructions|system prompt|"
    r"as an ai\b|language model",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9][a-z0-9'’\-]*", re.IGNORECASE)
_RESTART_WORDS = frozenset(
    {"restart", "restarts", "restarted", "restarting", "reboot", "reboots", "rebooted", "rebooting"}
)
_NEGATIONS = frozenset(
    {
        "no",
        "not",
        "never",
        "without",
        "won't",
        "doesn't",
        "don't",
        "isn't",
        "needn't",
        "nor",
        "cannot",
        "can't",
    }
)
#: Verbs that tell a person (or the device) to install or run something; their objects must come from the
#: actions or the policies' resolutions, the only texts that may ask anyone to install or run anything.
_INSTRUCTION_VERBS = frozenset(
    {
        "install",
        "installs",
        "installing",
        "reinstall",
        "uninstall",
        "uninstalls",
        "uninstalling",
        "download",
        "downloads",
        "downloading",
        "run",
        "runs",
        "running",
        "execute",
        "executes",
        "executing",
        "launch",
        "launches",
        "launching",
        "open",
        "opens",
        "visit",
        "paste",
    }
)
_OBJECT_BOUNDARIES = frozenset(
    {
        "and",
        "or",
        "then",
        "while",
        "when",
        "before",
        "after",
        "so",
        "because",
        "if",
        "during",
        "which",
        "that",
        "to",
        "until",
        "once",
        "as",
        "at",
        "in",
        "on",
        "by",
        "for",
        "with",
        "from",
        "into",
        "will",
    }
)
_OBJECT_FILLER = frozenset(
    {
        "the",
        "a",
        "an",
        "any",
        "all",
        "your",
        "this",
        "these",
        "those",
        "its",
        "it",
        "them",
        "some",
        "latest",
        "required",
        "pending",
        "needed",
        "new",
        "now",
        "automatically",
        "again",
        "also",
        "just",
        "quickly",
        "fully",
        "available",
        "current",
        "recent",
        "most",
        "few",
        "minutes",
        "minute",
        # Harmless objects of "open"/"running" in advice such as "close any open apps".
        "apps",
        "applications",
        "programs",
        "files",
        "documents",
        "tabs",
        "work",
    }
)
#: Tools and commands that never belong in event text unless the actions or resolutions name them.
_TOOL_WORDS = frozenset(
    {
        "sudo",
        "curl",
        "wget",
        "bash",
        "zsh",
        "powershell",
        "terminal",
        "cmd",
        "chmod",
        "pip",
        "brew",
        "npm",
        "apt",
        "regedit",
        "registry",
        "shell",
        "command",
        "commands",
        "script",
        "scripts",
        "extension",
        "plugin",
        "browser",
    }
)
#: With no action, nothing happens by itself; text saying the device "will install…" misleads (Fleet #26690).
_AUTOMATIC_CLAIM = re.compile(
    r"\b(?:will|is going to|are going to) (?:be )?(?:automatically )?"
    r"(?:install|update|upgrade|fix|repair|restart|reboot|run|apply|patch|change)",
    re.IGNORECASE,
)
_MAX_OBJECT_WORDS = 5


#: Codes a whole text earns, not one section of it (ai_text_problems reports them without a section name).
_WHOLE_TEXT_CODES = frozenset({"link", "injection_marker"})


def text_problems(text: str, request: ExplanationRequest) -> list[str]:
    """Why a text may not appear in an event, whoever wrote it: the model, the template, an admin's policy
    text in Fleet, a device's name. Codes only: safe to log.

    No markup (Calendar renders HTML and turns Markdown links into links), no control or bidi characters,
    no web address other than the configured help links, no file or domain name that neither the actions
    nor the policies' resolutions name, no prompt-injection phrasing, and at most MAX_SECTION_CHARS.
    """
    problems = ["too_long"] if len(text.strip()) > MAX_SECTION_CHARS else []
    if _MARKUP.search(text):
        problems.append("markup")
    if _CONTROL_CHARS.search(text):
        problems.append("control_characters")
    problems.extend(_link_problems(text, _allowed_vocabulary(request), request.help_links))
    if _INJECTION_MARKERS.search(text):
        problems.append("injection_marker")
    return problems


def ai_text_problems(
    sections: Mapping[str, str], duration_minutes: int, request: ExplanationRequest
) -> tuple[str, ...]:
    """Why AI-written text may not be shown (empty when it may). Codes only: safe to log.

    Every section must pass text_problems, the check all event text passes, and the checks that hold the
    model to the actions: no restart it contradicts, no instruction or tool the actions and resolutions do
    not name, no automatic fix promised when nothing runs, a plausible duration."""
    problems: list[str] = []
    texts = [sections.get(name, "") for name in SECTION_NAMES]
    for name, text in zip(SECTION_NAMES, texts, strict=True):
        if len(text.strip()) < MIN_SECTION_CHARS:
            problems.append(f"{name}:empty")
            continue
        problems.extend(
            code if code in _WHOLE_TEXT_CODES else f"{name}:{code}" for code in text_problems(text, request)
        )
    everything = "\n".join(texts)
    allowed = _allowed_vocabulary(request)
    problems.extend(_restart_problems(everything, request.actions, english=_is_english(request.language)))
    problems.extend(_instruction_problems(everything, allowed))
    automatic = [action for action in request.actions if not is_person_brief(action)]
    if not automatic and _AUTOMATIC_CLAIM.search(sections.get("what_will_happen", "")):
        problems.append("claims_automatic_fix")
    problems.extend(_jargon_problems(everything, request))
    if not _duration_in_bounds(duration_minutes, request.actions):
        problems.append("duration_out_of_bounds")
    return tuple(dict.fromkeys(problems))


#: Admin words a person should not read: Fleet's verdict and flag, said plainly instead ("needs a fix", "urgent").
_JARGON = re.compile(r"\b(?:critical|(?:does|do)(?:n't| not) pass)\b", re.IGNORECASE)
_IDENTIFIER = re.compile(r"^[\w.:-]+$")


def looks_like_identifier(name: str) -> bool:
    """A policy name written for machines ("policy1", "disk_encryption"), never shown to a person."""
    name = " ".join(name.split())
    return not name or bool(_IDENTIFIER.fullmatch(name)) or not re.search(r"[^\W\d_]{3}", name)


def _jargon_problems(text: str, request: ExplanationRequest) -> list[str]:
    problems = ["jargon"] if _is_english(request.language) and _JARGON.search(text) else []
    for policy in request.policies:
        name = " ".join(policy.name.split())
        if name and looks_like_identifier(name) and re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text):
            problems.append("raw_policy_name")
    return problems


def explanation_problems(explanation: Explanation, request: ExplanationRequest) -> tuple[str, ...]:
    """text_problems of each section of an explanation, AI-written or not (codes prefixed by section)."""
    return tuple(
        f"{name}:{code}" for name in SECTION_NAMES for code in text_problems(getattr(explanation, name), request)
    )


def withheld_explanation(request: ExplanationRequest) -> Explanation:
    """Text that says only what needs no source: used when the text written for a window fails the checks."""
    words = phrases(request.language)
    who = request.organization.strip() or "your IT team"
    return Explanation(
        why_it_matters=words.withheld_why.format(who=who),
        what_will_happen=words.withheld_what,
        what_you_need_to_do=words.withheld_todo,
        expected_duration_minutes=estimate_duration_minutes(request.actions),
        source=ExplanationSource.TEMPLATE,
        fallback_reason=FallbackReason.TEXT_WITHHELD.value,
    )


def _link_problems(text: str, allowed: frozenset[str], help_links: Iterable[str] = ()) -> list[str]:
    addresses = [match.group(0).rstrip(".,;:!?") for match in _ADDRESS.finditer(text)]
    if any(not _is_help_link(address, help_links) for address in addresses):
        return ["link"]
    # A file or domain name that the resolution itself names ("Self Service.app") may be repeated.
    rest = _ADDRESS.sub(" ", text)
    if any(match.group(0).lower() not in allowed for match in _DOMAIN_LIKE.finditer(rest)):
        return ["link"]
    return []


def _is_help_link(address: str, help_links: Iterable[str]) -> bool:
    """The address is one of the configured help links or lies under one (same scheme, host and path)."""
    address = address.lower()
    for link in help_links:
        base = link.lower().rstrip("/")
        if address == base or (address.startswith(base) and address[len(base)] in "/?#"):
            return True
    return False


def _is_english(language: str) -> bool:
    return language.lower().split("-")[0] == "en"


def _restart_problems(text: str, actions: list[ActionBrief], *, english: bool) -> list[str]:
    words = _words(text)
    positive = negated = False
    for index, word in enumerate(words):
        if word in _RESTART_WORDS:
            if _NEGATIONS.intersection(words[max(0, index - 4) : index]):
                negated = True
            else:
                positive = True
    if device_restarts(actions):
        # Only English text can be required to say "restart"; other languages have their own word for it.
        return ["restart_contradiction"] if negated or (english and not positive) else []
    return ["restart_contradiction"] if positive else []


def _instruction_problems(text: str, allowed: frozenset[str]) -> list[str]:
    problems: list[str] = []
    for clause in re.split(r"[.,;:!?()\n\"“”]", text):
        words = _words(clause)
        for index, word in enumerate(words):
            if word in _INSTRUCTION_VERBS and _unknown(_object_of(words, index), allowed):
                problems.append("unknown_instruction")
            if word in _TOOL_WORDS and word not in allowed:
                problems.append("unknown_tool")
    return problems


def _object_of(words: list[str], verb_index: int) -> list[str]:
    obj: list[str] = []
    for word in words[verb_index + 1 : verb_index + 1 + _MAX_OBJECT_WORDS]:
        if word in _OBJECT_BOUNDARIES:
            break
        obj.append(word)
    return obj


def _unknown(words: list[str], allowed: frozenset[str]) -> bool:
    return any(word not in _OBJECT_FILLER and not {word, word.rstrip("s"), f"{word}s"} & allowed for word in words)


def _allowed_vocabulary(request: ExplanationRequest) -> frozenset[str]:
    """Words the text may use as objects of install/run: the actions' and the resolutions' own words."""
    sources = [f"{action.kind.replace('_', ' ')} {action.summary}" for action in request.actions]
    sources += [policy.resolution for policy in request.policies]
    sources += request.platforms + [policy.platform for policy in request.policies]
    joined = " ".join(sources)
    domain_like = {match.group(0).lower() for match in _DOMAIN_LIKE.finditer(joined)}
    return frozenset(_words(joined)) | frozenset(domain_like)


def _words(text: str) -> list[str]:
    return [word.lower().replace("’", "'") for word in _WORD.findall(text)]


def _duration_in_bounds(minutes: int, actions: list[ActionBrief]) -> bool:
    """Within a factor of three of the action-based estimate: a model saying 2 or 300 minutes is guessing."""
    estimate = estimate_duration_minutes(actions)
    return max(1, estimate // 3) <= minutes <= min(MAX_DURATION_MINUTES, estimate * 3)
