"""`mw plan`, `mw windows` and `mw slot`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from maintenance_windows.cli.commands import EXTRA_COMMANDS, add_filters, fail, print_pauses, store_from_stack
from maintenance_windows.cli.host_view import window_row
from maintenance_windows.cli.stack_info import load_stack
from maintenance_windows.cli.tables import print_detail, print_json, print_table

_CLOSED = ("verified", "cancelled", "failed", "declined")


def register(sub: Any) -> None:
    plan = sub.add_parser("plan", help="run plan_windows now, as Cloud Scheduler would")
    plan.add_argument("--lead-minutes", type=int, help="local only: book windows this many minutes ahead")
    plan.add_argument(
        "--dry-run",
        action="store_true",
        help="compute everything against the real calendars and Fleet, write nothing, list who "
        "would be booked when and why (runs here, as you)",
    )
    plan.add_argument("--config", help="with --dry-run: team rules to try (default: MW_TEAM_CONFIG)")
    plan.add_argument("--json", action="store_true")
    plan.set_defaults(run=plan_now)

    windows = sub.add_parser("windows", help="open windows, and who has none and why")
    add_filters(windows, states="window state: new, planned, scheduled, ..., declined; none: no window")
    windows.add_argument("--all", action="store_true", help="include closed windows")
    windows.set_defaults(run=list_windows)

    window = sub.add_parser("window", help="one window: times, reason, history and event text")
    window.add_argument("window_id")
    window.add_argument("--json", action="store_true")
    window.set_defaults(run=show_window)

    slot = sub.add_parser("slot", help="preview the slot the team rules would choose for a calendar")
    slot.add_argument(
        "--busy",
        required=True,
        help='JSON list of {"start": RFC 3339, "end": RFC 3339, "eventType": optional, e.g. "outOfOffice"}',
    )
    slot.add_argument("--tz", required=True, help="the user's IANA time zone, e.g. Europe/Berlin")
    slot.add_argument("--now", help="RFC 3339 instant to plan from (default: now)")
    slot.add_argument("--config", help="team configuration YAML (default: the documented defaults)")
    slot.add_argument("--team", type=int, help="team id whose rules apply (default: the defaults)")
    slot.add_argument("--json", action="store_true")
    slot.set_defaults(run=preview_slot)


def plan_now(args: argparse.Namespace) -> int:
    import requests

    if args.dry_run:
        from maintenance_windows.cli.dry_run import run_dry

        return run_dry(args)
    if args.config:
        return fail("--config is for --dry-run: plan_windows reads the deployed team file")

    stack = load_stack()
    minted = requests.post(
        stack["urls"]["oidc"] + "/_mint",
        json={"audience": stack["urls"]["plan_windows"], "email": stack["service_accounts"]["scheduler"]},
        timeout=10,
    )
    minted.raise_for_status()
    body = {"lead_minutes": args.lead_minutes} if args.lead_minutes is not None else {}
    response = requests.post(
        stack["urls"]["plan_windows"],
        json=body,
        headers={"Authorization": f"Bearer {minted.json()['token']}"},
        timeout=900,
    )
    answer = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
    if args.json:
        print_json({"status": response.status_code, "report": answer})
    else:
        print(f"plan_windows answered {response.status_code}")
        for key, value in answer.items():
            print(f"  {key:22} {value}")
    return 0 if response.ok else 1


def window_rows(include_closed: bool = True) -> list[dict[str, Any]]:
    from maintenance_windows.repository.windows import all_windows

    windows = sorted(all_windows(store_from_stack()), key=lambda w: (w.user_email, w.window_id))
    return [window_row(w) for w in windows if include_closed or w.is_open]


def _window_matches(row: dict[str, Any], args: argparse.Namespace) -> bool:
    changed = max([row["created_at"], *(entry["at"] for entry in row["history"])])
    return (
        (args.all or bool(args.state) or row["state"] not in _CLOSED)
        and (args.user is None or row["user"].lower() == args.user.lower())
        and (args.host is None or args.host in row["hosts"])
        and (args.team is None or row["team_id"] == args.team)
        and (not args.state or row["state"] in args.state)
        and (args.since is None or datetime.fromisoformat(changed) >= args.since)
    )


def list_windows(args: argparse.Namespace) -> int:
    """Open windows (every window with --all), then the people with a failing host and no window, and why."""
    from maintenance_windows.cli.host_view import people_without_windows, read_snapshot

    rows = [row for row in window_rows() if _window_matches(row, args)]
    snapshot = read_snapshot(store_from_stack())
    waiting = [
        {
            "user": person,
            "hosts": [h["host_id"] for h in hosts],
            "team_id": hosts[0]["team_id"],
            "why": "; ".join(dict.fromkeys(h["why"] for h in hosts)),
        }
        for person, hosts in sorted(people_without_windows(snapshot).items())
        if (args.user is None or person.lower() == args.user.lower())
        and (args.host is None or any(h["host_id"] == args.host for h in hosts))
        and (args.team is None or any(h["team_id"] == args.team for h in hosts))
        and (not args.state or "none" in args.state)
    ]
    if args.json:
        from maintenance_windows.repository.pauses import status

        print_json({"windows": rows, "without_window": waiting, "pauses": status(store_from_stack())})
        return 0
    print_pauses()
    for row in rows:
        local = row["start_local"][:16].replace("T", " ") if row["start_local"] else "-"
        row["local_time"] = f"{local} {row['time_zone']}"
        row["rev"] = row["revision"]
        row["history_kinds"] = " → ".join(entry["kind"] for entry in row["history"])
    print_table(
        rows,
        ["window_id", "state", "user", "hosts", "local_time", "rev", "text_source", "history_kinds", "why"],
        empty="no open windows (use --all to include closed ones)",
    )
    if waiting:
        print("\nno window:")
        print_table(waiting, ["user", "hosts", "why"])
    return 0


def show_window(args: argparse.Namespace) -> int:
    from maintenance_windows.repository.windows import load

    window = load(store_from_stack(), args.window_id)
    if window is None:
        return fail(f"no window {args.window_id}")
    row = window_row(window)
    if args.json:
        print_json(row)
        return 0
    for key, value in row.items():
        if key not in ("history", "event_text"):
            print_detail(key, value, 12)
    print("history:")
    for entry in row["history"]:
        print_detail(f"{entry['at'][:19]}  {entry['kind']:12}", entry["detail"], 0, "  ")
    print_detail("event text:", row["event_text"], 12)
    return 0


#: The Calendar API's event types (Events resource, `eventType`); birthdays and Gmail events never reach free/busy.
EVENT_TYPES = ("default", "outOfOffice", "focusTime", "workingLocation")


def preview_slot(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from maintenance_windows.config.check import time_zone_problem
    from maintenance_windows.config.settings import ConfigurationError
    from maintenance_windows.config.teams import TeamsConfig, load_teams
    from maintenance_windows.domain.absence import plan_absences
    from maintenance_windows.domain.slots import NoSlot, find_slot

    try:
        teams = load_teams(args.config) if args.config else TeamsConfig()
        busy, away = _busy_file(Path(args.busy))
        now = _instant(args.now) if args.now else datetime.now(UTC)
    except (ConfigurationError, OSError, ValueError, KeyError, TypeError) as problem:
        return fail(f"cannot preview: {problem}")
    zone_problem = time_zone_problem(args.tz)
    if zone_problem:
        return fail(f"cannot preview: --tz {zone_problem}")
    if args.team is not None and args.team not in teams.teams:
        print(f"mw: team {args.team} is not in the configuration; it uses the defaults", file=sys.stderr)
    rules = teams.slot_rules_for(args.team, args.tz)
    absences = plan_absences(
        away,
        now,
        now + timedelta(days=rules.deadline_days),
        args.tz,
        rules.working_hours,
        rules.holidays,
        return_grace_hours=rules.return_grace_hours,
    )
    choice = find_slot(busy, args.tz, now, rules, deadline=absences.deadline, away=absences.blocked)
    paused = (
        f"; deadline paused by time out of office, to {absences.deadline.astimezone(ZoneInfo(args.tz)):%A %d %B %H:%M}"
    )
    if isinstance(choice, NoSlot):
        if args.json:
            print_json({"slot": None, "reason": choice.reason, "deadline": _utc(absences.deadline)})
        else:
            print(f"no slot: {choice.reason}" + (paused if absences.paused else ""))
        return 0
    result = {
        "start": _utc(choice.start),
        "end": _utc(choice.end),
        "local_start": choice.local_start.isoformat(),
        "score": round(choice.score, 3),
        "reason": choice.reason,
        "fallback": choice.fallback.value if choice.fallback else None,
        "deadline": _utc(absences.deadline),
    }
    if args.json:
        print_json(result)
    else:
        line = f"{choice.local_start:%A %d %B %H:%M} ({args.tz}) — {choice.reason} (score {result['score']})"
        print(line + (paused if absences.paused else ""))
    return 0


def _busy_file(path: Path) -> tuple[list[Any], list[Any]]:
    """(busy, out of office) from a JSON list of entries; entries without an eventType are plain busy time,
    working locations are never busy (as in free/busy), out-of-office time is both busy and time away."""
    from maintenance_windows.domain.intervals import Interval

    raw = json.loads(path.read_text())
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a JSON list of busy entries")
    busy: list[Interval] = []
    away: list[Interval] = []
    for index, item in enumerate(raw):
        kind = item.get("eventType", "default")
        if kind not in EVENT_TYPES:
            raise ValueError(f"entry {index}: eventType {kind!r} is not one of {', '.join(EVENT_TYPES)}")
        interval = Interval(_instant(item["start"]), _instant(item["end"]))
        if kind == "workingLocation":
            continue
        busy.append(interval)
        if kind == "outOfOffice":
            away.append(interval)
    return busy, away


def _instant(text: str) -> datetime:
    from maintenance_windows.domain.intervals import parse_rfc3339

    return parse_rfc3339(text)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


EXTRA_COMMANDS.append(register)
