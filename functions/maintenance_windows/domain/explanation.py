"""What the event text is made from, and what it says."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PolicyBrief(Frozen):
    policy_id: int
    name: str
    description: str = ""
    resolution: str = ""
    platform: str = ""
    critical: bool = False


class ActionBrief(Frozen):
    """One action that will run, in words a person understands (e.g. 'restart the computer')."""

    kind: str
    summary: str
    restarts_device: bool = False


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


class ExplanationSource(StrEnum):
    AI = "ai"
    TEMPLATE = "template"


class Explanation(Frozen):
    why_it_matters: str
    what_will_happen: str
    what_you_need_to_do: str
    expected_duration_minutes: int = Field(ge=1, le=480)
    source: ExplanationSource = ExplanationSource.TEMPLATE
    #: Why the template was used instead of AI (None when AI wrote it, or AI is off).
    fallback_reason: str | None = None
