"""Readable tables for people; `--json` output for scripts.

Hand-written rather than a table library: the CLI ships inside the functions' source bundle, and a
dozen lines do not justify another deployed dependency.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from typing import Any

#: Tables fit a 120-column terminal; a longer value is cut with "…" (the full value is in --json and in
#: the detail commands, `mw host ID` and `mw window ID`).
MAX_WIDTH = 120
_GAP = "  "
_MIN_COLUMN = 6


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], empty: str = "nothing to show") -> None:
    for line in render_table(rows, columns, empty):
        print(line)


def render_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], empty: str = "nothing to show", width: int = MAX_WIDTH
) -> list[str]:
    if not rows:
        return [empty]
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[index]) for line in cells)) for index, column in enumerate(columns)]
    _shrink(widths, width - len(_GAP) * (len(columns) - 1))
    lines = [_GAP.join(_fit(column.upper(), size) for column, size in zip(columns, widths, strict=True)).rstrip()]
    for line in cells:
        lines.append(_GAP.join(_fit(value, size) for value, size in zip(line, widths, strict=True)).rstrip())
    return lines


def _shrink(widths: list[int], budget: int) -> None:
    """Narrow the widest column, one character at a time, until the table fits."""
    while sum(widths) > budget:
        widest = max(range(len(widths)), key=lambda index: widths[index])
        if widths[widest] <= _MIN_COLUMN:
            return
        widths[widest] -= 1


def _fit(value: str, size: int) -> str:
    return (value[: size - 1] + "…" if len(value) > size else value).ljust(size)


def print_detail(label: str, value: Any, label_width: int = 17, indent: str = "") -> None:
    """`label  value`, the value wrapped under itself so that no line passes MAX_WIDTH."""
    head = f"{indent}{label:{label_width}} "
    text = _cell(value)
    lines = textwrap.wrap(text, MAX_WIDTH - len(head), break_long_words=True, break_on_hyphens=False) or ["-"]
    print(head + lines[0])
    for line in lines[1:]:
        print(" " * len(head) + line)


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str, sort_keys=True))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple | set):
        return ",".join(str(item) for item in value) or "-"
    return " ".join(str(value).split())
