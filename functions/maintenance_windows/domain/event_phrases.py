"""The fixed words of an event, per language: headings, the time and duration sentences, what moving and
deleting the event do, how the window ended. English and German; any other language falls back to English.

Dates, times and zone names are not here: they come formatted, from CLDR (service/event_content.py).
Pure: plain data and small functions of their arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class Phrases:
    title: str  # "{sender}: device maintenance"
    fallback_title: str
    please_note: str
    why_it_matters: str
    what_will_happen: str
    what_you_need_to_do: str
    when: str
    device: str
    devices: str
    your_devices: str
    and_more: str  # "and {count} more"
    takes_about: str  # "It takes about {minutes} minutes."
    may_take_longer: str  # the estimate exceeds the booked window
    different_time: str
    move_it: str  # "{deadline}"
    delete_rebooks: str  # "{deletions}", "{contact}"
    delete_stops: str  # "{contact}"
    questions: str
    contact_line: str  # "{contact}"
    ai_note: str
    done_heading: str
    done_one: str  # "{devices}": one name
    done_many: str  # "{devices}": several names, or the word for devices
    failed_heading: str
    failed_rebook: str  # "{when}"
    failed_escalated: str  # "{contact}"
    withheld_why: str  # "{who}": the text written for the window failed the checks; this says only what needs no source
    withheld_what: str
    withheld_todo: str


_ENGLISH = Phrases(
    title="{sender}: device maintenance",
    fallback_title="Device maintenance",
    please_note="Please note:",
    why_it_matters="Why it matters",
    what_will_happen="What will happen",
    what_you_need_to_do="What you need to do",
    when="When",
    device="Device",
    devices="Devices",
    your_devices="your devices",
    and_more="and {count} more",
    takes_about="It takes about {minutes} minutes.",
    may_take_longer="The work may take longer than the {minutes} minutes booked: leave your device on until it "
    "has finished.",
    different_time="Need a different time?",
    move_it="Drag this event to a time that suits you better, before {deadline}. The work follows the event: it "
    "starts when the event starts.",
    delete_rebooks="If you delete this event, we'll offer you another time. After {deletions} deletions we stop, "
    "and {contact} will be in touch.",
    delete_stops="If you delete this event, we won't book another time, and {contact} will be in touch.",
    questions="Questions?",
    contact_line="Contact {contact}.",
    ai_note="This summary was written with AI from your IT team's policy descriptions.",
    done_heading="Done — thank you",
    done_one="The maintenance worked: {devices} meets the requirements now. Nothing else is needed from you.",
    done_many="The maintenance worked: {devices} meet the requirements now. Nothing else is needed from you.",
    failed_heading="This didn't work; we'll find another time",
    failed_rebook="A new time will be booked in your calendar, no sooner than {when}, and its event will say "
    "what happens next.",
    failed_escalated="{contact} will look into it and be in touch.",
    withheld_why="This device needs maintenance that {who} asks of every device.",
    withheld_what="This time is set aside for that maintenance.",
    withheld_todo="Please contact your IT team (see below) before this time; they will tell you what to do.",
)

_GERMAN = Phrases(
    title="{sender}: Gerätewartung",
    fallback_title="Gerätewartung",
    please_note="Bitte beachten:",
    why_it_matters="Warum es wichtig ist",
    what_will_happen="Was passiert",
    what_you_need_to_do="Was Sie tun müssen",
    when="Wann",
    device="Gerät",
    devices="Geräte",
    your_devices="Ihre Geräte",
    and_more="und {count} weitere",
    takes_about="Es dauert etwa {minutes} Minuten.",
    may_take_longer="Die Arbeit kann länger dauern als die gebuchten {minutes} Minuten: Lassen Sie Ihr Gerät "
    "eingeschaltet, bis sie abgeschlossen ist.",
    different_time="Passt Ihnen die Zeit nicht?",
    move_it="Ziehen Sie diesen Termin vor {deadline} auf eine Zeit, die Ihnen besser passt. Die Arbeit folgt dem "
    "Termin: Sie beginnt, wenn der Termin beginnt.",
    delete_rebooks="Wenn Sie diesen Termin löschen, bieten wir Ihnen eine andere Zeit an. Nach {deletions} "
    "Löschungen hören wir auf, und {contact} meldet sich bei Ihnen.",
    delete_stops="Wenn Sie diesen Termin löschen, buchen wir keine neue Zeit, und {contact} meldet sich bei Ihnen.",
    questions="Fragen?",
    contact_line="Wenden Sie sich an {contact}.",
    ai_note="Diese Zusammenfassung wurde mit KI aus den Richtlinienbeschreibungen Ihrer IT geschrieben.",
    done_heading="Erledigt – vielen Dank",
    done_one="Die Wartung hat funktioniert: {devices} erfüllt die Anforderungen jetzt. Sie müssen nichts weiter tun.",
    done_many="Die Wartung hat funktioniert: {devices} erfüllen die Anforderungen jetzt. Sie müssen nichts weiter tun.",
    failed_heading="Das hat nicht geklappt; wir suchen eine neue Zeit",
    failed_rebook="Eine neue Zeit wird in Ihrem Kalender gebucht, frühestens {when}, und ihr Termin sagt, wie es "
    "weitergeht.",
    failed_escalated="{contact} kümmert sich darum und meldet sich bei Ihnen.",
    withheld_why="Dieses Gerät braucht eine Wartung, die {who} für jedes Gerät verlangt.",
    withheld_what="Diese Zeit ist für diese Wartung reserviert.",
    withheld_todo="Bitte wenden Sie sich vorher an Ihr IT-Team (siehe unten); es sagt Ihnen, was zu tun ist.",
)

_BY_LANGUAGE = {"en": _ENGLISH, "de": _GERMAN}
#: Languages the fixed text and the template explanation exist in.
LANGUAGES = frozenset(_BY_LANGUAGE)


def base_language(language: str) -> str:
    """'de-AT' → 'de'."""
    return language.lower().replace("_", "-").split("-")[0]


def phrases(language: str) -> Phrases:
    return _BY_LANGUAGE.get(base_language(language), _BY_LANGUAGE[DEFAULT_LANGUAGE])


def has_language(language: str) -> bool:
    return base_language(language) in LANGUAGES


def deletion_text(language: str, max_deletions: int, contact: str) -> str:
    """What deleting the event does: the window is rebooked until the max_deletions-th removal."""
    words = phrases(language)
    if max_deletions <= 1:
        return words.delete_stops.format(contact=contact)
    return words.delete_rebooks.format(deletions=max_deletions, contact=contact)
