"""Team rules: how and when a team's windows may be booked, and what runs in them.

These are pydantic models because they double as the schema of the team configuration file
(config/teams.py loads the YAML); they hold no I/O.
"""

from __future__ import annotations

from datetime import date, time
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from maintenance_windows.domain.caldav_server import CalDavServer
from maintenance_windows.domain.calendar_providers import CalendarProvider
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
    sooner: float = Field(default=6.0, ge=0)
    #: Used instead of ``sooner`` for a window with a policy Fleet marks critical.
    sooner_critical: float = Field(default=12.0, ge=0)


#: What a calendar reports when its owner never chose a zone (Google answers Etc/GMT); with a team's
#: `fallback_time_zone` set, these count as "no zone".
UNSET_ZONES = frozenset({"Etc/GMT", "Etc/UTC", "UTC", "GMT"})


def _known_zone(zone: str) -> str:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{zone!r} is not an IANA time zone (e.g. 'Europe/Berlin')") from None
    return zone


class RegionRules(StrictModel):
    """The rules for those of a team who work in some zones: their day, their lunch, their holidays."""

    name: str = ""
    #: IANA zones, or patterns of them: "Asia/Kolkata", "Europe/*". The first region that matches applies.
    zones: list[str] = Field(min_length=1)
    working_hours: dict[Weekday, DailyHours] | None = None
    lunch: DailyHours | None = None
    #: Added to the team's holidays (the person's local date).
    holidays: list[date] = Field(default_factory=list)

    @field_validator("zones")
    @classmethod
    def _zones_exist(cls, zones: list[str]) -> list[str]:
        return [zone if any(mark in zone for mark in "*?[") else _known_zone(zone) for zone in zones]

    def matches(self, zone: str) -> bool:
        return any(fnmatchcase(zone, pattern) for pattern in self.zones)


class SlotRules(StrictModel):
    working_hours: dict[Weekday, DailyHours] = Field(default_factory=_office_hours)
    holidays: list[date] = Field(default_factory=list)
    slot_minutes: int = Field(default=30, ge=5, le=480)
    buffer_minutes: int = Field(default=10, ge=0, le=120)
    min_lead_minutes: int = Field(default=120, ge=0, le=7 * 24 * 60)
    deadline_days: int = Field(default=7, ge=1, le=60)
    lunch: DailyHours = Field(default_factory=lambda: DailyHours(start=time(12), end=time(13, 30)))
    preferences: Preferences = Field(default_factory=Preferences)
    capacity_per_slot: int = Field(default=50, ge=1)
    fallback: Fallback = Fallback.DOUBLE_BOOK
    #: Estimate each user's day from the last 4 weeks of accepted events, bounded by working_hours.
    infer_working_hours: bool = False
    #: Working hours after an out-of-office period in which nothing is booked (domain/absence.py).
    return_grace_hours: float = Field(default=4.0, ge=0, le=40)
    #: Per-zone differences inside the team; the first region whose zones match the person's applies.
    regions: list[RegionRules] = Field(default_factory=list)
    #: The zone of a person whose calendar has none (or only Google's unset Etc/GMT); unset: UTC.
    fallback_time_zone: str | None = None

    @field_validator("fallback_time_zone")
    @classmethod
    def _fallback_zone_exists(cls, zone: str | None) -> str | None:
        return None if zone is None else _known_zone(zone)

    def zone_of(self, calendar_zone: str | None) -> str:
        """The zone to book a person in: their calendar's, else the team's fallback, else UTC."""
        if calendar_zone and (self.fallback_time_zone is None or calendar_zone not in UNSET_ZONES):
            return calendar_zone
        return self.fallback_time_zone or "UTC"

    def for_zone(self, zone: str) -> SlotRules:
        """These rules as they apply to a person in ``zone``: the first matching region's day, lunch and
        holidays laid over the team's."""
        region = next((region for region in self.regions if region.matches(zone)), None)
        if region is None:
            return self
        return self.model_copy(
            update={
                "working_hours": region.working_hours if region.working_hours is not None else self.working_hours,
                "lunch": region.lunch or self.lunch,
                "holidays": sorted({*self.holidays, *region.holidays}),
            }
        )


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


class PolicyWording(StrictModel):
    """How the event names a policy: the words a person understands, instead of its name in Fleet."""

    policy_id: int | None = Field(default=None, gt=0)
    policy_name_pattern: str | None = Field(default=None, min_length=1, max_length=300)
    #: E.g. "disk encryption (FileVault) is off"; used in the event text and given to the explanation writer.
    display_name: str = Field(min_length=1, max_length=120)

    @model_validator(mode="after")
    def _one_selector(self) -> PolicyWording:
        if (self.policy_id is None) == (self.policy_name_pattern is None):
            raise ValueError("give exactly one of policy_id and policy_name_pattern")
        return self

    def selects(self, policy_id: int, policy_name: str) -> bool:
        if self.policy_id is not None:
            return self.policy_id == policy_id
        return fnmatchcase(policy_name.casefold(), (self.policy_name_pattern or "").casefold())


class RolloutMode(StrEnum):
    """Whether a team's windows are booked, or only reported."""

    #: Windows are booked and fixes sent.
    LIVE = "live"
    #: Nothing is booked: each planning run reports who it would book, and when (service/rollout.py).
    PREVIEW = "preview"


class Audience(StrictModel):
    """People chosen by email, by a Fleet label of their host, or both (domain/rollout.py matches them)."""

    emails: list[str] = Field(default_factory=list)
    #: Fleet label names as Fleet shows them (GET /api/v1/fleet/hosts/:id, `labels[].name`).
    labels: list[str] = Field(default_factory=list)

    @field_validator("emails")
    @classmethod
    def _plain_emails(cls, emails: list[str]) -> list[str]:
        for email in emails:
            if email.count("@") != 1 or not all(email.split("@")):
                raise ValueError(f"{email!r} is not an email address")
        return [email.strip().lower() for email in emails]

    @property
    def empty(self) -> bool:
        return not self.emails and not self.labels


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
    #: Plain names for policies in the event text (an id entry beats a pattern entry, as for actions).
    policies: list[PolicyWording] = Field(default_factory=list)
    #: POSTs Fleet's own calendar-webhook payload here at window start, for flows built on it.
    compatible_webhook_url: str | None = Field(default=None, pattern=r"^https?://")
    #: Where the calendars of this team's `domains` live (domain/calendar_providers.py).
    calendar: CalendarProvider = "google"
    #: Email domain → provider, for a domain whose provider differs from its team's (or has no team).
    calendar_domains: dict[str, CalendarProvider] = Field(default_factory=dict)
    #: The CalDAV server of this team's people, when `calendar: caldav` (domain/caldav_server.py).
    caldav: CalDavServer | None = None
    #: live books windows; preview books nothing and reports what it would book on every planning run.
    mode: RolloutMode = RolloutMode.LIVE
    #: When set, only these people are booked; the others are listed as "not in pilot".
    pilot: Audience | None = None
    #: Never booked, and listed as excluded.
    exclude: Audience = Field(default_factory=Audience)

    @field_validator("pilot")
    @classmethod
    def _pilot_names_someone(cls, pilot: Audience | None) -> Audience | None:
        if pilot is not None and pilot.empty:
            raise ValueError("a pilot with no emails and no labels books nobody; remove `pilot:` to book everyone")
        return pilot

    def display_name_for(self, policy_id: int, policy_name: str) -> str:
        """The configured plain name of a policy, or "" when there is none."""
        by_id = [entry for entry in self.policies if entry.policy_id is not None and entry.selects(policy_id, "")]
        by_name = [entry for entry in self.policies if entry.policy_id is None and entry.selects(0, policy_name)]
        chosen = next(iter([*by_id, *by_name]), None)
        return chosen.display_name if chosen else ""

    @field_validator("domains")
    @classmethod
    def _lower_domains(cls, value: list[str]) -> list[str]:
        return [domain.strip().lower().lstrip("@") for domain in value]
