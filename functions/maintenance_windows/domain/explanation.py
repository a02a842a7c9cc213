"""What the event text is made from, and what it says."""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from maintenance_windows.domain.os_update_text import OsUpdateNotice


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PolicyBrief(Frozen):
    policy_id: int
    name: str
    #: The team's plain name for the policy (TeamRules.policies), "" when none is configured.
    display_name: str = ""
    description: str = ""
    resolution: str = ""
    platform: str = ""
    critical: bool = False


class ActionBrief(Frozen):
    """One action that will run, in words a person understands (e.g. 'restart the computer')."""

    kind: str
    summary: str
    restarts_device: bool = False
    #: The summary is the team's own words (`summary:` in the file), not the built-in English default.
    configured: bool = False


class ExplanationRequest(Frozen):
    """Everything the text may use. Deliberately holds no email or other user data."""

    organization: str
    language: str = "en"
    window_local: str  # e.g. "Tuesday 2 December, 12:00–12:30 (Europe/Berlin)"
    deadline_local: str  # e.g. "Monday 8 December"
    host_names: list[str] = Field(default_factory=list)
    platforms: list[str] = Field(default_factory=list)
    policies: list[PolicyBrief] = Field(default_factory=list)
    actions: list[ActionBrief] = Field(default_factory=list)
    contact: str = ""
    #: The only web addresses event text may contain (and those under them): the team file's help_links.
    help_links: list[str] = Field(default_factory=list)
    #: Updates the person starts themselves, rendered in their own section (domain/os_update_text.py);
    #: per team and per person, so never part of model_facts.
    os_updates: list[OsUpdateNotice] = Field(default_factory=list)


class ExplanationSource(StrEnum):
    AI = "ai"
    TEMPLATE = "template"


class Explanation(Frozen):
    why_it_matters: str
    what_will_happen: str
    what_you_need_to_do: str
    expected_duration_minutes: int = Field(ge=1, le=480)
    source: ExplanationSource = ExplanationSource.TEMPLATE
    #: Why the template was used instead of AI: FallbackReason codes, ';'-joined. None when AI wrote it, or
    #: when the template is the configured explainer and wrote English as asked.
    fallback_reason: str | None = None


#: Version of the text contract: the prompt, the response schema and the validation rules. Bump it when any
#: of them changes so that cached explanations written under the old contract are not served again.
PROMPT_VERSION = "event-text-v2"


class FallbackReason(StrEnum):
    """Operator-facing codes for `Explanation.fallback_reason` (never user data)."""

    AI_DISABLED = "ai_disabled"
    CIRCUIT_OPEN = "ai_circuit_open"
    TIMEOUT = "ai_timeout"
    API_ERROR = "ai_api_error"
    TRANSPORT_ERROR = "ai_transport_error"
    BLOCKED = "ai_blocked_or_empty"
    #: The answer stopped at max_output_tokens (on Gemini 3 thinking shares that budget).
    MAX_TOKENS = "ai_max_tokens"
    #: The answer stopped because it recited protected text (finish reason RECITATION).
    RECITATION = "ai_recitation"
    #: Any other finish reason than STOP; the reason itself is logged.
    UNFINISHED = "ai_unfinished"
    MALFORMED_JSON = "ai_malformed_json"
    SCHEMA_VIOLATION = "ai_schema_violation"
    VALIDATION_FAILED = "ai_validation_failed"
    #: The template has English text only; added to the reason when another language was asked for.
    ENGLISH_ONLY = "template_english_only"
    #: The text written for the window failed domain/event_text.text_problems when rendered; a minimal
    #: text that names no source was shown instead.
    TEXT_WITHHELD = "text_withheld"


def model_facts(request: ExplanationRequest) -> dict[str, object]:
    """The only part of a request that may reach the model, in a canonical order.

    Window time, deadline, host names and contact are left out on purpose (only whether there are one or
    several devices is kept): event_text renders them around
    the explanation, so every user with the same policies and actions shares one model answer (and one
    cache entry). Policies are sorted because their order carries no meaning; actions keep their order
    because it is the order in which they run.
    """
    return {
        "organization": request.organization,
        "language": request.language,
        # One device or several (2 stands for any number above one): the text's grammar depends on it, and two
        # buckets keep one cache entry per policy set for nearly everyone.
        "device_count": 2 if len(request.host_names) > 1 else 1,
        "platforms": sorted({platform.lower() for platform in request.platforms}),
        "policies": [policy.model_dump(mode="json") for policy in sorted(request.policies, key=lambda p: p.policy_id)],
        "actions": [action.model_dump(mode="json") for action in request.actions],
    }


def explanation_cache_key(request: ExplanationRequest, *, model_id: str, prompt_version: str = PROMPT_VERSION) -> str:
    """sha256 over everything that shapes a model answer, and nothing else (see model_facts)."""
    material = {"prompt_version": prompt_version, "model_id": model_id, "facts": model_facts(request)}
    canonical = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


#: Minutes an action of a kind usually takes, matched by keyword against ActionBrief.kind (first match wins).
#: Keywords rather than exact kinds so that new action kinds get a sensible figure without a code change.
_ACTION_MINUTES: tuple[tuple[str, int], ...] = (
    ("update", 30),
    ("upgrade", 30),
    ("restart", 10),
    ("reboot", 10),
    ("install", 15),
    ("software", 15),
    ("script", 5),
    ("command", 5),
    ("refetch", 2),
)
_DEFAULT_ACTION_MINUTES = 10
_RESTART_MINUTES = 10
#: No automatic action: the person fixes it themselves, guided by the policy's resolution.
_MANUAL_FIX_MINUTES = 15
MIN_DURATION_MINUTES = 5
MAX_DURATION_MINUTES = 480


def _action_minutes(action: ActionBrief) -> int:
    kind = action.kind.lower()
    minutes = next((value for keyword, value in _ACTION_MINUTES if keyword in kind), _DEFAULT_ACTION_MINUTES)
    restart_is_the_action = "restart" in kind or "reboot" in kind
    return minutes + (_RESTART_MINUTES if action.restarts_device and not restart_is_the_action else 0)


def estimate_duration_minutes(actions: list[ActionBrief]) -> int:
    """How long the window's work takes, from the actions alone (the template's figure, AI's yardstick)."""
    total = sum(_action_minutes(action) for action in actions) if actions else _MANUAL_FIX_MINUTES
    return max(MIN_DURATION_MINUTES, min(MAX_DURATION_MINUTES, total))


def device_restarts(actions: list[ActionBrief]) -> bool:
    """True when any action restarts the device, by its flag or by its own words."""
    return any(
        action.restarts_device
        or any(word in f"{action.kind} {action.summary}".lower() for word in ("restart", "reboot"))
        for action in actions
    )
