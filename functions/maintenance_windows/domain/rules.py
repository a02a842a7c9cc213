"""Team rules: how and when a team's windows may be booked, and what runs in them.

These are pydantic models because they double as the schema of the team configuration file
(config/teams.py loads the YAML); they hold no I/O.
"""

from __future__ import annotations

from datetime import date, time
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from maintenance_windows.domain.remediation import PolicyActions

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DailyHours(StrictModel):
    """A local time range within one day, start inclusive, end exclusive."""

    start: time
    end: time

    @field_validator("start", "end", mode="before")
    @classmethod
    def _quoted_time(cls, value: object) -> object:
        # YAML 1.1 reads an unquoted 12:00 as the number 720 (sexagesimal), which would become 00:12.
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError("write clock times in quotes, e.g. '12:00' (unquoted, YAML reads 12:00 as a number)")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> DailyHours:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self


def _office_hours() -> dict[Weekday, DailyHours]:
    hours = DailyHours(start=time(9), end=time(17))
    return {day: hours for day in ("mon", "tue", "wed", "thu", "fri")}


class Fallback(StrEnum):
    """What to do when no free slot exists before the deadline."""

    #: Book the last slot of the deadline day even though the calendar is busy (what Fleet does at 16:30).
    DOUBLE_BOOK = "double_book"
    #: Book the first free slot after the deadline.
    AFTER_DEADLINE = "after_deadline"
    #: Book nothing; the window waits for the next planning run and is reported.
    SKIP = "skip"


class DeadlineBehaviour(StrEnum):
    """What happens when the user moves the event past the deadline."""

    KEEP = "keep"
    ENFORCE = "enforce"


class Preferences(StrictModel):
    """Weights (0 switches a preference off) for what makes a slot less disruptive."""

    lunch: float = Field(default=3.0, ge=0)
    day_start: float = Field(default=2.0, ge=0)
    day_end: float = Field(default=2.0, ge=0)
    lighter_days: float = Field(default=1.5, ge=0)
    sooner: float = Field(default=1.0, ge=0)


class SlotRules(StrictModel):
    working_hours: dict[Weekday, DailyHours] = Field(default_factory=_office_hours)
    holidays: list[date] = Field(default_factory=list)
    slot_minutes: int = Field(default=30, ge=5, le=480)
    buffer_minutes: int = Field(default=10, ge=0, le=120)
    min_lead_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    deadline_days: int = Field(default=7, ge=1, le=60)
    lunch: DailyHours = Field(default_factory=lambda: DailyHours(start=time(12), end=time(13, 30)))
    preferences: Preferences = Field(default_factory=Preferences)
    capacity_per_slot: int = Field(default=50, ge=1)
    fallback: Fallback = Fallback.DOUBLE_BOOK
    #: Estimate each user's day from the last 4 weeks of accepted events, bounded by working_hours.
    infer_working_hours: bool = False


class EventStyle(StrictModel):
    title: str | None = Field(default=None, max_length=200)
    #: Google Calendar's event colours are "1" to "11".
    color_id: str | None = Field(default="11", pattern=r"^([1-9]|1[01])$")
    popup_reminders_minutes: list[Annotated[int, Field(ge=0, le=40320)]] = Field(
        default_factory=lambda: [10], max_length=5
    )


class FollowRules(StrictModel):
    deadline_behaviour: DeadlineBehaviour = DeadlineBehaviour.KEEP
    max_user_deletions: int = Field(default=2, ge=1, le=20)
    channel_ttl_days: float = Field(default=7, gt=0, le=30)


class VerifyRules(StrictModel):
    grace_minutes: int = Field(default=15, ge=0, le=24 * 60)
    rebook_after_hours: float = Field(default=24, ge=0, le=24 * 14)
    escalate_after_failed_windows: int = Field(default=3, ge=1, le=20)
    #: An online host without a fresh result, or still failing, is looked at again this much later...
    recheck_minutes: int = Field(default=5, ge=1, le=24 * 60)
    #: ...at most this many times.
    max_rechecks: int = Field(default=2, ge=0, le=20)
    #: An offline host is waited for this long after the first look before the window is decided.
    offline_wait_hours: float = Field(default=72, ge=0, le=24 * 7)
    #: How often an offline host is looked for while the window waits for it.
    offline_recheck_minutes: int = Field(default=60, ge=15, le=24 * 60)


class OsUpdateRole(StrEnum):
    """What the service may do with the team's OS-update settings in Fleet (mdm.macos_updates & co)."""

    #: Read them, never change them; windows are booked before Fleet's deadline.
    OBSERVE = "observe"
    #: Set minimum_version and deadline so that Fleet enforces after the team's last open OS-update window.
    MANAGE = "manage"


class OsUpdateRules(StrictModel):
    role: OsUpdateRole = OsUpdateRole.OBSERVE
    #: manage: days between the day of the team's last open OS-update window and the deadline set in Fleet.
    deadline_margin_days: int = Field(default=1, ge=0, le=30)


class TeamRules(StrictModel):
    """Everything a team decides. Unset fields take the configuration's defaults, then these defaults."""

    name: str = "Default"
    domains: list[str] = Field(default_factory=list)
    language: str = Field(default="en", pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
    slots: SlotRules = Field(default_factory=SlotRules)
    event: EventStyle = Field(default_factory=EventStyle)
    follow: FollowRules = Field(default_factory=FollowRules)
    verify: VerifyRules = Field(default_factory=VerifyRules)
    os_updates: OsUpdateRules = Field(default_factory=OsUpdateRules)
    actions: list[PolicyActions] = Field(default_factory=list)
    #: POSTs Fleet's own calendar-webhook payload here at window start, for flows built on it.
    compatible_webhook_url: str | None = Field(default=None, pattern=r"^https?://")

    @field_validator("domains")
    @classmethod
    def _lower_domains(cls, value: list[str]) -> list[str]:
        return [domain.strip().lower().lstrip("@") for domain in value]
