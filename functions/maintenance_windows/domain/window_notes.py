"""The "Please note" sentences a window's event may open with, in the team's language.

Kept apart from the explanation: they are about this person's booking (their time away, a moved deadline),
not about the policies, so they are never sent to the model and never cached with its answer.
"""

from __future__ import annotations

from collections.abc import Mapping

from maintenance_windows.domain.event_phrases import base_language

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


_REBOOKED: Mapping[str, str] = {
    "en": "This is a new time: the previous event for this maintenance was deleted.",
    "de": "Dies ist eine neue Zeit: Der vorherige Termin für diese Wartung wurde gelöscht.",
}


_PUT_OFF: Mapping[str, str] = {
    "en": "This is a new time: maintenance was paused at the time first booked ({earlier}), so nothing ran then.",
    "de": "Dies ist eine neue Zeit: Zur zuerst gebuchten Zeit ({earlier}) war die Wartung angehalten, deshalb "
    "lief damals nichts.",
}


_ENFORCED: Mapping[str, str] = {
    "en": "This window was moved back before the deadline ({deadline}): {wanted} is too late to fix your device "
    "in time. If this time does not suit you, drag it to another time before the deadline.",
    "de": "Dieses Zeitfenster wurde vor die Frist ({deadline}) zurückverschoben: {wanted} ist zu spät, um Ihr "
    "Gerät rechtzeitig zu reparieren. Wenn Ihnen die Zeit nicht passt, ziehen Sie den Termin auf eine andere "
    "Zeit vor der Frist.",
}


def enforced_note(language: str, *, wanted: str, deadline: str) -> str:
    """A move past the deadline was undone (follow.deadline_behaviour: enforce)."""
    return _ENFORCED.get(base_language(language), _ENFORCED["en"]).format(wanted=wanted, deadline=deadline)


def rebooked_note(language: str) -> str:
    """A rebooked window's event says it is a new time, so nobody thinks the old one came back."""
    return _REBOOKED.get(base_language(language), _REBOOKED["en"])


def put_off_note(language: str, *, earlier: str) -> str:
    """The window was due while maintenance was paused, and is booked again now."""
    return _PUT_OFF.get(base_language(language), _PUT_OFF["en"]).format(earlier=earlier)


def absence_note(language: str, *, deadline: str, back: str | None) -> str:
    """Why the window is later than it would have been; ``back`` is the return day, when it is still ahead."""
    table = _AWAY if back else _PAUSED
    return table.get(base_language(language), table["en"]).format(back=back, deadline=deadline)


def joined(*notes: str | None) -> str | None:
    text = " ".join(note for note in notes if note)
    return text or None
