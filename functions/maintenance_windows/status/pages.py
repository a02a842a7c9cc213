"""HTML of the status page, from the Jinja2 templates beside this module, autoescaped (every stored value is
escaped). No JavaScript: the page is a report that reloads, and its charts are inline SVG (charts.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from maintenance_windows.domain import compliance
from maintenance_windows.status import charts
from maintenance_windows.status.view import History, Overview

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def _common(base: str, user: str, now: str, title: str) -> dict[str, Any]:
    return {
        "base": base,
        "user": user,
        "now": now,
        "title": title,
        "share": compliance.share_text,
        "hours": compliance.hours_text,
        "seconds": compliance.seconds_text,
        "q": lambda text: quote(str(text), safe="@"),
    }


def overview_page(overview: Overview, base: str, user: str) -> str:
    context = _common(base, user, overview.now.strftime("%Y-%m-%d %H:%M UTC"), "Status")
    figures = overview.figures
    context.update(
        o=overview,
        f=figures,
        # Safe to mark: charts.py draws from numbers and escapes every piece of text it writes.
        fix_chart=Markup(charts.time_to_fix_chart(figures.fix_hours)),  # noqa: S704
        day_chart=Markup(charts.windows_per_day_chart(overview.per_day)),  # noqa: S704
    )
    return _ENVIRONMENT.get_template("overview.html").render(context)


def history_page(history: History, base: str, user: str, now: str) -> str:
    context = _common(base, user, now, history.title)
    context.update(h=history)
    return _ENVIRONMENT.get_template("history.html").render(context)


def message_page(title: str, text: str) -> str:
    return _ENVIRONMENT.get_template("message.html").render(title=title, text=text)
