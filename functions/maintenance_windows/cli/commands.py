"""The `mw` subcommands. Each returns a process exit code.

Reads go to the deployed project's Firestore with `--project` (or MW_PROJECT), using Application Default
Credentials (or FIRESTORE_EMULATOR_HOST when set); without either, to the local stack's emulator.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from maintenance_windows.cli.stack_info import StackNotRunning, load_stack, use_stack_environment
from maintenance_windows.cli.tables import print_detail, print_json, print_table

EXTRA_COMMANDS: list[Callable[[Any], None]] = []


@dataclass
class Target:
    """Which Firestore `mw` reads: a project named on the command line or in MW_PROJECT, else the stack."""

    project: str | None = None
    database: str = "(default)"


TARGET = Target()


def choose_target(project: str | None, database: str | None) -> None:
    """--project wins, then MW_PROJECT; once the stack's environment is applied, MW_PROJECT is the stack's
    project and FIRESTORE_EMULATOR_HOST its emulator, so either way the same store is read."""
    TARGET.project = project or os.environ.get("MW_PROJECT")
    TARGET.database = database or os.environ.get("MW_FIRESTORE_DATABASE", "(default)")
    store_from_stack.cache_clear()


@functools.cache
def store_from_stack() -> Any:
    """One client per process: the demo polls window_rows() twice a second."""
    from maintenance_windows.adapters.firestore_store import FirestoreStore

    if TARGET.project:
        return FirestoreStore.connect(TARGET.project, TARGET.database)
    from maintenance_windows.config.settings import Settings

    use_stack_environment(load_stack())
    settings = Settings.from_env()
    return FirestoreStore.connect(settings.project, settings.firestore_database)


def register(sub: Any) -> None:
    hosts_parser = sub.add_parser("hosts", help="stored hosts: failing policies, user, window or why none")
    add_filters(hosts_parser, states="host status (failing, closed) or window state (none, planned, ...)")
    hosts_parser.set_defaults(run=hosts)

    host_parser = sub.add_parser("host", help="one host's full history, across windows")
    host_parser.add_argument("host_id", type=int)
    host_parser.add_argument("--json", action="store_true")
    host_parser.set_defaults(run=host)

    user_parser = sub.add_parser("user", help="one person's hosts and windows")
    user_parser.add_argument("email")
    user_parser.add_argument("--json", action="store_true")
    user_parser.set_defaults(run=user)

    replay_parser = sub.add_parser("replay", help="POST a Fleet webhook payload to fleet_webhook")
    replay_parser.add_argument(
        "file", help="a JSON payload, e.g. ../shared/fixtures/fleet/failing_policies_webhook.json"
    )
    replay_parser.add_argument("--url", help="webhook URL (default: the local stack's); asks before a deployed one")
    replay_parser.add_argument("--yes", action="store_true", help="do not ask for confirmation (scripts)")
    replay_parser.add_argument("--json", action="store_true")
    replay_parser.set_defaults(run=replay)


def add_filters(parser: argparse.ArgumentParser, states: str) -> None:
    parser.add_argument("--user", help="only this person (email)")
    parser.add_argument("--host", type=int, help="only this host id")
    parser.add_argument("--team", type=int, help="only this Fleet team id")
    parser.add_argument("--state", action="append", help=f"only these ({states}); repeatable")
    parser.add_argument("--since", type=_instant, help="only what changed since (YYYY-MM-DD or RFC 3339)")
    parser.add_argument("--json", action="store_true")


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def host_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    from maintenance_windows.cli.host_view import host_row, read_snapshot

    snapshot = read_snapshot(store_from_stack())
    rows = [host_row(case, snapshot) for case in sorted(snapshot.hosts, key=lambda c: c.host_id)]
    return [row for row in rows if _host_matches(row, args)]


def _host_matches(row: dict[str, Any], args: argparse.Namespace) -> bool:
    return (
        (args.user is None or (row["user"] or "").lower() == args.user.lower())
        and (args.host is None or row["host_id"] == args.host)
        and (args.team is None or row["team_id"] == args.team)
        and (not args.state or bool({row["status"], row["window"]} & set(args.state)))
        and (args.since is None or _instant(row["last_seen"]) >= args.since)
    )


def hosts(args: argparse.Namespace) -> int:
    rows = host_rows(args)
    if args.json:
        print_json(rows)
    else:
        print_pauses()
        print_table(
            rows,
            ["host_id", "display_name", "status", "failing_policies", "user", "window", "why"],
            empty="no hosts match",
        )
    return 0


def host(args: argparse.Namespace) -> int:
    from maintenance_windows.cli.host_view import host_row, read_snapshot, window_row

    snapshot = read_snapshot(store_from_stack())
    case = next((c for c in snapshot.hosts if c.host_id == args.host_id), None)
    if case is None:
        return fail(f"no host {args.host_id} is stored (Fleet has not reported it failing)")
    detail = {**host_row(case, snapshot), "windows": [window_row(w) for w in snapshot.windows_of(case.host_id)]}
    if args.json:
        print_json(detail)
        return 0
    for key in (
        "host_id",
        "display_name",
        "status",
        "failing_policies",
        "team_id",
        "user",
        "window",
        "why",
        "first_seen",
        "last_seen",
    ):
        print_detail(key, detail[key])
    for key, value in detail["details"].items():
        print_detail(key, value)
    print_history(detail["windows"])
    return 0


def user(args: argparse.Namespace) -> int:
    from maintenance_windows.cli.host_view import host_row, read_snapshot, window_row

    snapshot = read_snapshot(store_from_stack())
    email = args.email.lower()
    rows = [host_row(c, snapshot) for c in snapshot.hosts if (c.extra.get("user_email") or "").lower() == email]
    windows = [
        window_row(w) for w in sorted(snapshot.windows, key=lambda w: w.created_at) if w.user_email.lower() == email
    ]
    if not rows and not windows:
        return fail(f"nothing stored for {args.email}")
    if args.json:
        print_json({"user": args.email, "hosts": rows, "windows": windows})
        return 0
    print_pauses()
    print_table(rows, ["host_id", "display_name", "status", "failing_policies", "window", "why"], empty="no hosts")
    print_history(windows)
    return 0


def print_pauses() -> None:
    """The pauses in force, above a listing: a paused rollout must not look like a quiet one."""
    from maintenance_windows.repository.pauses import active_pauses

    for pause in active_pauses(store_from_stack()):
        print(f"PAUSED {pause.describe()}")


def print_history(windows: list[dict[str, Any]]) -> None:
    for window in windows:
        print()
        print_detail(
            "window " + window["window_id"],
            f"{window['state']} {window['start_local'] or '-'} "
            f"{window['time_zone']} hosts {','.join(str(h) for h in window['hosts'])}",
            0,
        )
        for entry in window["history"]:
            print_detail(f"{entry['at'][:19]}  {entry['kind']:12}", entry["detail"], 0, "  ")


def replay(args: argparse.Namespace) -> int:
    import requests

    try:
        stack: dict[str, Any] | None = load_stack()
    except StackNotRunning:
        stack = None
    local_url = stack["urls"]["fleet_webhook"] if stack else None
    url = args.url or local_url
    if url is None:
        return fail("no local stack: give the deployed webhook's --url (and MW_WEBHOOK_SECRET)")
    secret = stack["secrets"]["webhook"] if stack and url == local_url else os.environ.get("MW_WEBHOOK_SECRET")
    if not secret:
        return fail("set MW_WEBHOOK_SECRET to the webhook secret of the deployed function")
    if url != local_url and not confirm(f"POST {args.file} to {url}?", args.yes):
        return fail("not sent")
    response = requests.post(
        url,
        data=Path(args.file).read_bytes(),
        headers={"Content-Type": "application/json"},
        auth=("fleet", secret),
        timeout=120,
    )
    try:
        answer: Any = response.json()
    except json.JSONDecodeError:
        answer = {"body": response.text}
    if args.json:
        print_json({"status": response.status_code, "response": answer})
    else:
        print(f"{response.status_code} {json.dumps(answer)}")
    return 0 if response.ok else 1


def confirm(question: str, assume_yes: bool) -> bool:
    """Writes to a deployed project ask first; --yes answers for scripts, and no terminal means no."""
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        print(f"mw: {question} (not a terminal: pass --yes to confirm)", file=sys.stderr)
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def fail(message: str) -> int:
    print(f"mw: {message}", file=sys.stderr)
    return 1


EXTRA_COMMANDS.append(register)
