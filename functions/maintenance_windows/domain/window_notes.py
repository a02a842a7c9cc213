"""The "Please note" sentences a window's event may open with, in the team's language.

Kept apart from the explanation: they are about this person's booking (their time away, a moved deadline),
not about the policies, so they are never sent to the model and never cached with its answer.
"""

from __future__ import annotations

from collections.abc import Mapping

_AWAY: Mapping[str, str] = {
    "en": "You are out of office until {back}, so this window comes after your return, not in your first hours "
    "back. Your time away does not count against the deadline: it moved to {deadline}.",
    "de": "Sie sind bis {back} abwesend. Deshalb liegt dieses Zeitfenster nach Ihrer Rückkehr, nicht in Ihren "
    "ersten Stunden zurück. Ihre Abwesenheit zählt nicht zur Frist: Sie wurde auf {deadline} verschoben.",
}
_PAUSED: Mapping[str, str] = {
    "en": "Your time out of office does not count against the deadline: it moved to {deadline}.",
    "de": "Ihre Abwesenheit zählt nicht zur Frist: Sie wurde auf {deadline} verschoben.",
}


def absence_note(language: str, *, deadline: str, back: str | None) -> str:
    """Why the window is later than it would have been; ``back`` is the return day, when it is still ahead."""
    table = _AWAY if back else _PAUSED
    return table.get(base_language(language), table["en"]).format(back=back, deadline=deadline)


def joined(*notes: str | None) -> str | None:
    text = " ".join(note for note in notes if note)
    return text or None


def base_language(language: str) -> str:
    return language.lower().split("-")[0]
