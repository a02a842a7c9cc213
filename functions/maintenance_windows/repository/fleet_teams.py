"""The `fleet_teams` collection: the last OS-update settings read from Fleet, per team.

plan_windows and dispatch_window read Fleet and keep this copy; calendar_notifications, which holds no
Fleet token, writes its event texts from it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from maintenance_windows.ports.fleet import AppleOSUpdates, TeamOSUpdates, WindowsOSUpdates
from maintenance_windows.ports.store import Document, DocumentStore, Write

FLEET_TEAMS = "fleet_teams"


def settings_to_document(settings: TeamOSUpdates, read_at: datetime) -> Document:
    def apple(value: AppleOSUpdates) -> dict[str, str]:
        return {"minimum_version": value.minimum_version, "deadline": value.deadline}

    return {
        "team_id": settings.team_id,
        "macos": apple(settings.macos),
        "ios": apple(settings.ios),
        "ipados": apple(settings.ipados),
        "windows": {
            "deadline_days": settings.windows.deadline_days,
            "grace_period_days": settings.windows.grace_period_days,
        },
        "read_at": read_at,
    }


def settings_from_document(document: Document) -> TeamOSUpdates:
    def apple(value: Any) -> AppleOSUpdates:
        value = value or {}
        return AppleOSUpdates(str(value.get("minimum_version") or ""), str(value.get("deadline") or ""))

    windows = document.get("windows") or {}
    return TeamOSUpdates(
        team_id=int(document["team_id"]),
        macos=apple(document.get("macos")),
        ios=apple(document.get("ios")),
        ipados=apple(document.get("ipados")),
        windows=WindowsOSUpdates(windows.get("deadline_days"), windows.get("grace_period_days")),
    )


def load(store: DocumentStore, team_id: int) -> tuple[TeamOSUpdates, datetime] | None:
    document = store.get(FLEET_TEAMS, str(team_id))
    if not document:
        return None
    return settings_from_document(document), document["read_at"]


def save(store: DocumentStore, settings: TeamOSUpdates, read_at: datetime) -> None:
    store.commit([Write("set", FLEET_TEAMS, str(settings.team_id), settings_to_document(settings, read_at))])
