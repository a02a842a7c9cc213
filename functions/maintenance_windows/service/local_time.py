"""Dates, times and zone names as people read them, in the team's language, from CLDR (Babel).

"Wednesday, December 2, 12:00 – 12:30 PM, Berlin Time" in English, "Mittwoch, 2. Dezember, 12:00–12:30 Uhr,
Berlin (Ortszeit)" in German: day and month names, their order, 12- or 24-hour clocks, the range dash and
the way a zone is named all come from the locale's CLDR data, never from tables of our own. Babel is
imported on first use: only functions that write event text pay for loading it.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from babel import Locale

FALLBACK_LOCALE = "en"


@functools.cache
def locale_of(language: str) -> Locale:
    """The CLDR locale for a team language tag ('de', 'pt-BR'); English when CLDR does not know it."""
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(FALLBACK_LOCALE)


def local_day(moment: datetime, zone: str, language: str = FALLBACK_LOCALE) -> str:
    """E.g. 'Wednesday, December 2' (en), 'Mittwoch, 2. Dezember' (de)."""
    from babel.dates import format_datetime

    locale = locale_of(language)
    return format_datetime(moment.astimezone(ZoneInfo(zone)), _day_pattern(locale), locale=locale)


def local_moment(moment: datetime, zone: str, language: str = FALLBACK_LOCALE) -> str:
    """A day and a time, e.g. 'Wednesday, December 2, 2:30 PM, Berlin Time'."""
    from babel.dates import format_time

    locale = locale_of(language)
    local = moment.astimezone(ZoneInfo(zone))
    clock = format_time(local, "short", tzinfo=ZoneInfo(zone), locale=locale)
    return f"{_date_and_time(locale, local_day(moment, zone, language), clock)}, {zone_name(zone, language)}"


def local_range(start: datetime, end: datetime, zone: str, language: str = FALLBACK_LOCALE) -> str:
    """A window as people read it: 'Wednesday, December 2, 12:00 – 12:30 PM, Berlin Time'."""
    from babel.dates import format_interval

    locale = locale_of(language)
    tz = ZoneInfo(zone)
    skeleton = "hm" if "h" in locale.time_formats["short"].pattern else "Hm"
    clocks = format_interval(start.astimezone(tz), end.astimezone(tz), skeleton, tzinfo=tz, locale=locale)
    return f"{_date_and_time(locale, local_day(start, zone, language), clocks)}, {zone_name(zone, language)}"


@functools.cache
def zone_name(zone: str, language: str = FALLBACK_LOCALE) -> str:
    """The zone by its city, in the locale's words: 'Berlin Time', 'Berlin (Ortszeit)', 'Kalkutta (Ortszeit)'.

    CLDR's exemplar city in the locale's region format; a zone without a city (Etc/GMT, UTC) by its offset."""
    from babel.dates import get_timezone, get_timezone_gmt, get_timezone_location

    locale = locale_of(language)
    if not zone.startswith("Etc/") and "/" in zone:
        city = get_timezone_location(get_timezone(zone), locale=locale, return_city=True)
        return str(locale.zone_formats["region"] % city)
    # A fixed offset (Etc/GMT-5, UTC): any instant names it.
    return str(get_timezone_gmt(datetime(2000, 1, 1, tzinfo=ZoneInfo(zone)), "long", locale=locale))


def _day_pattern(locale: Locale) -> str:
    """CLDR's own pattern for weekday, day and month (skeleton MMMMEd), with the weekday written out."""
    pattern = str(locale.datetime_skeletons["MMMMEd"].pattern)
    return re.sub(r"E+", "EEEE", pattern)


def _date_and_time(locale: Locale, day: str, clock: str) -> str:
    """The locale's way of joining a date and a time ('{1}, {0}' in English and German)."""
    joined: str = str(locale.datetime_formats["medium"]).replace("{1}", day).replace("{0}", clock)
    return joined
