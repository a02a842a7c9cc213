"""The `pauses` collection: an admin's pause of every team (`pauses/all`) or of one (`pauses/team-3`).

One document per scope, written whole by `mw pause` and deleted by `mw resume`: nothing reads and
rewrites a shared field, so two admins pausing at once simply leave the later reason. The planner and the
dispatcher read the collection on every run; other readers (a status page, alerts) call active_pauses().
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from maintenance_windows.domain.rollout import Pause, pause_for
from maintenance_windows.ports.store import Document, DocumentStore, Write

PAUSES = "pauses"
_EVERY_TEAM = "all"


def pause_id(team_id: int | None) -> str:
    return _EVERY_TEAM if team_id is None else f"team-{int(team_id)}"


def pause_to_document(pause: Pause) -> Document:
    return {
        "scope": pause.scope,
        "team_id": pause.team_id,
        "reason": pause.reason,
        "paused_at": pause.paused_at,
        "paused_by": pause.paused_by,
    }


def pause_from_document(document: Document) -> Pause:
    team = document.get("team_id")
    return Pause(
        team_id=None if team is None else int(team),
        reason=str(document.get("reason") or ""),
        paused_at=document["paused_at"],
        paused_by=str(document.get("paused_by") or ""),
    )


def pause_write(pause: Pause) -> Write:
    return Write("set", PAUSES, pause_id(pause.team_id), pause_to_document(pause))


def resume_write(team_id: int | None) -> Write:
    return Write("delete", PAUSES, pause_id(team_id))


def active_pauses(store: DocumentStore) -> list[Pause]:
    """Every pause in force, every-team pause first, then by team id."""
    pauses = [pause_from_document(document) for _, document in store.query(PAUSES) if document.get("paused_at")]
    return sorted(pauses, key=lambda pause: (pause.team_id is not None, pause.team_id or 0))


def pause_of(store: DocumentStore, team_id: int | None) -> Pause | None:
    """The pause that holds the team now, if any (two reads at most)."""
    found = store.get_many(PAUSES, [pause_id(None)] + ([pause_id(team_id)] if team_id is not None else []))
    return pause_for([pause_from_document(document) for document in found.values()], team_id)


def status(store: DocumentStore) -> list[dict[str, Any]]:
    """The pauses as plain values, for a status page or `mw pauses --json`."""
    return [
        {**pause_to_document(pause), "paused_at": _iso(pause.paused_at), "describe": pause.describe()}
        for pause in active_pauses(store)
    ]


def _iso(moment: datetime) -> str:
    return moment.isoformat()
