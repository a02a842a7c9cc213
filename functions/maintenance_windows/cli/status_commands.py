"""`mw status`: the compliance figures of the status page, and where the page is."""

from __future__ import annotations

import argparse
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from maintenance_windows.cli.commands import EXTRA_COMMANDS, store_from_stack
from maintenance_windows.cli.stack_info import StackNotRunning, load_stack
from maintenance_windows.cli.tables import print_json
from maintenance_windows.domain import compliance
from maintenance_windows.repository.hosts import policy_cases
from maintenance_windows.repository.windows import all_windows


def register(sub: Any) -> None:
    status = sub.add_parser("status", help="compliance figures over the last 30 days, as the status page shows")
    status.add_argument("--days", type=int, default=30, help="the period, in days (default 30)")
    status.add_argument("--json", action="store_true")
    status.set_defaults(run=show_status)


def figures(days: int = 30, now: datetime | None = None) -> compliance.Figures:
    store = store_from_stack()
    windows = all_windows(store)
    cases = policy_cases(store, {h for w in windows for h in w.host_ids}, {p for w in windows for p in w.policy_ids})
    return compliance.compute(windows, cases, now or datetime.now(UTC), timedelta(days=days))


def status_url() -> str | None:
    """The local stack's status page (through its local Identity-Aware Proxy); None for a deployed project,
    whose URL is Terraform's output `status_page_url`."""
    with contextlib.suppress(StackNotRunning, KeyError):
        url: str = load_stack()["urls"]["status"]
        return url
    return None


def show_status(args: argparse.Namespace) -> int:
    result = figures(args.days)
    url = status_url()
    if args.json:
        print_json({**result.as_dict(), "status_url": url})
        return 0
    print(f"compliance, last {args.days} days:")
    for line in result.summary_lines():
        print(f"  {line}")
    if url:
        print(f"status page: {url}")
    return 0


EXTRA_COMMANDS.append(register)
