"""Rollout controls: who may be booked now, and why someone is held back.

A person is held back, in this order of precedence, when they are
- excluded (team rule `exclude:`, by email or by a Fleet label of the host): never booked;
- not in the pilot (team rule `pilot:` set, and neither their email nor a label of the host is in it);
- paused (an admin's `mw pause`, for every team or for the host's team): nothing booked, nothing dispatched;
- in preview (team rule `mode: preview`): nothing booked; each planning run reports what it would book.

The first two are about who, the last two about when, so a person both excluded and paused reads
"excluded": that is the reason that outlasts the pause.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from maintenance_windows.domain.rules import Audience, RolloutMode, TeamRules


class HoldKind(StrEnum):
    EXCLUDED = "excluded"
    NOT_IN_PILOT = "not_in_pilot"
    PAUSED = "paused"
    PREVIEW = "preview"


#: Holds that say a person is not to be booked at all, whatever the time: their open windows are cancelled.
WHO_HOLDS = frozenset({HoldKind.EXCLUDED, HoldKind.NOT_IN_PILOT})
_LABELS = {
    HoldKind.EXCLUDED: "excluded",
    HoldKind.NOT_IN_PILOT: "not in pilot",
    HoldKind.PAUSED: "paused",
    HoldKind.PREVIEW: "preview",
}


@dataclass(frozen=True)
class Hold:
    kind: HoldKind
    detail: str

    def describe(self) -> str:
        return f"{_LABELS[self.kind]}: {self.detail}" if self.detail else _LABELS[self.kind]


@dataclass(frozen=True)
class Pause:
    """An admin's pause: of every team (team_id None) or of one Fleet team."""

    team_id: int | None
    reason: str
    paused_at: datetime
    paused_by: str = ""

    @property
    def scope(self) -> str:
        return "all teams" if self.team_id is None else f"team {self.team_id}"

    def describe(self) -> str:
        return f"{self.scope} since {self.paused_at:%Y-%m-%d %H:%M}Z: {self.reason}"


def pause_for(pauses: Iterable[Pause], team_id: int | None) -> Pause | None:
    """The pause that holds a team: a pause of every team first, then the team's own."""
    listed = list(pauses)
    every = next((pause for pause in listed if pause.team_id is None), None)
    if every is not None:
        return every
    if team_id is None:
        return None
    return next((pause for pause in listed if pause.team_id == team_id), None)


def matched(audience: Audience, email: str, labels: Sequence[str]) -> str | None:
    """What puts the person in the audience ("email x", "label y"), or None. Both compared case-blind."""
    if email.strip().lower() in audience.emails:
        return f"email {email}"
    host_labels = {label.casefold() for label in labels}
    label = next((name for name in audience.labels if name.casefold() in host_labels), None)
    return f"label {label}" if label is not None else None


def audience_hold(rules: TeamRules, email: str, labels: Sequence[str]) -> Hold | None:
    """Excluded, or not in the pilot, by the team's rules; None when the person may be booked."""
    excluded_by = matched(rules.exclude, email, labels)
    if excluded_by:
        return Hold(HoldKind.EXCLUDED, f"by {excluded_by}")
    if rules.pilot is not None and matched(rules.pilot, email, labels) is None:
        return Hold(HoldKind.NOT_IN_PILOT, f"the {rules.name} pilot names neither this email nor a label of the host")
    return None


def hold_for(
    rules: TeamRules, team_id: int | None, email: str, labels: Sequence[str], pauses: Iterable[Pause]
) -> Hold | None:
    """Why this person, on a host of this team, is not booked now; None when they may be."""
    held = audience_hold(rules, email, labels)
    if held is not None:
        return held
    pause = pause_for(pauses, team_id)
    if pause is not None:
        return Hold(HoldKind.PAUSED, pause.describe())
    if rules.mode is RolloutMode.PREVIEW:
        return Hold(HoldKind.PREVIEW, f"{rules.name} runs in preview: nothing is booked")
    return None


def window_hold(rules: TeamRules, team_id: int | None, pauses: Iterable[Pause]) -> Hold | None:
    """Why a team's open windows are not booked now (a pause, or preview mode); None when they may be."""
    pause = pause_for(pauses, team_id)
    if pause is not None:
        return Hold(HoldKind.PAUSED, pause.describe())
    if rules.mode is RolloutMode.PREVIEW:
        return Hold(HoldKind.PREVIEW, f"{rules.name} runs in preview: nothing is booked")
    return None
