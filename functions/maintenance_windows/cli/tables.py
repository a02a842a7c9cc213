"""Readable tables for people; `--json` output for scripts.

Hand-written rather than a table library: the CLI ships inside the functions' source bundle, and a
dozen lines do not justify another deployed dependency.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], empty: str = "nothing to show") -> None:
    if not rows:
        print(empty)
        return
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[index]) for line in cells)) for index, column in enumerate(columns)]
    print("  ".join(column.upper().ljust(width) for column, width in zip(columns, widths, strict=True)))
    for line in cells:
        print("  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip())


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str, sort_keys=True))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple | set):
        return ",".join(str(item) for item in value) or "-"
    return str(value)
