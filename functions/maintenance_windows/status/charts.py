"""The page's two charts as inline SVG, drawn on the server.

Hand-written rather than a plotting library: two bar charts are some forty lines of SVG, while matplotlib or
plotly would add tens of megabytes and seconds of import to the status function's cold start, and a
JavaScript charting library would need the page to run scripts. The SVG carries its numbers as text and
`<title>` tooltips, so it reads without a mouse too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from html import escape

#: (label, upper bound in hours) for the time-to-fix histogram; the last bucket is open-ended.
FIX_BUCKETS = (
    ("< 1 d", 24.0),
    ("1–2 d", 48.0),
    ("2–3 d", 72.0),
    ("3–7 d", 168.0),
    ("7–14 d", 336.0),
    ("> 14 d", float("inf")),
)
STATE_COLOURS = {
    "verified": "#2e7d32",
    "scheduled": "#1565c0",
    "planned": "#64b5f6",
    "new": "#b0bec5",
    "dispatched": "#6a1b9a",
    "failed": "#c62828",
    "declined": "#ef6c00",
    "cancelled": "#9e9e9e",
}
_WIDTH, _HEIGHT, _LEFT, _BOTTOM, _TOP = 660, 220, 36, 40, 16


def fix_buckets(hours: Sequence[float]) -> list[tuple[str, int]]:
    counts = [0] * len(FIX_BUCKETS)
    for value in hours:
        counts[next(i for i, (_, bound) in enumerate(FIX_BUCKETS) if value < bound)] += 1
    return [(label, count) for (label, _), count in zip(FIX_BUCKETS, counts, strict=True)]


def time_to_fix_chart(hours: Sequence[float]) -> str:
    buckets = fix_buckets(hours)
    top = max([count for _, count in buckets] + [1])
    plot_height = _HEIGHT - _BOTTOM - _TOP
    slot = (_WIDTH - _LEFT) / len(buckets)
    parts = [_open("time-to-fix", "Hosts by time from first failing to verified, last 30 days")]
    for index, (label, count) in enumerate(buckets):
        height = plot_height * count / top
        x = _LEFT + index * slot + slot * 0.15
        y = _TOP + plot_height - height
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{height:.1f}" '
            f'fill="#1565c0"><title>{escape(label)}: {count} hosts</title></rect>'
        )
        parts.append(_text(x + slot * 0.35, y - 4, str(count)))
        parts.append(_text(x + slot * 0.35, _HEIGHT - _BOTTOM + 16, label))
    parts.append(_axis())
    parts.append("</svg>")
    return "".join(parts)


def windows_per_day_chart(days: Sequence[tuple[str, Counter[str]]]) -> str:
    top = max([sum(counts.values()) for _, counts in days] + [1])
    plot_height = _HEIGHT - _BOTTOM - _TOP
    slot = (_WIDTH - _LEFT) / max(len(days), 1)
    parts = [_open("windows-per-day", "Windows per day by state, last 30 days")]
    for index, (day, counts) in enumerate(days):
        x = _LEFT + index * slot + slot * 0.1
        y = float(_TOP + plot_height)
        for state, colour in STATE_COLOURS.items():
            if not counts.get(state):
                continue
            height = plot_height * counts[state] / top
            y -= height
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.8:.1f}" height="{height:.1f}" '
                f'fill="{colour}"><title>{day}: {counts[state]} {state}</title></rect>'
            )
        if index % 5 == 0 or index == len(days) - 1:
            last = index == len(days) - 1
            parts.append(
                _text(
                    x + slot * 0.8 if last else x + slot * 0.4,
                    _HEIGHT - _BOTTOM + 16,
                    day[5:],
                    anchor="end" if last else "middle",
                )
            )
    parts.append(_text(_LEFT - 6, _TOP + 4, str(top), anchor="end"))
    parts.append(_axis())
    for index, (state, colour) in enumerate(STATE_COLOURS.items()):
        lx = _LEFT + index * 76
        parts.append(f'<rect x="{lx}" y="{_HEIGHT - 14}" width="10" height="10" fill="{colour}"/>')
        parts.append(_text(lx + 14, _HEIGHT - 5, state, anchor="start"))
    parts.append("</svg>")
    return "".join(parts)


def _open(identifier: str, title: str) -> str:
    return (
        f'<svg id="{identifier}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {_HEIGHT}" '
        f'width="{_WIDTH}" height="{_HEIGHT}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    )


def _axis() -> str:
    y = _HEIGHT - _BOTTOM
    return f'<line x1="{_LEFT}" y1="{y}" x2="{_WIDTH}" y2="{y}" stroke="#455a64"/>'


def _text(x: float, y: float, text: str, anchor: str = "middle") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="11" text-anchor="{anchor}" fill="#263238">{escape(text)}</text>'
