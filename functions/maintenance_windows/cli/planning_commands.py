"""`mw plan`, `mw windows` and `mw slot`."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from maintenance_windows.cli.commands import EXTRA_COMMANDS, fail, store_from_stack
from maintenance_windows.cli.stack_info import load_stack
from maintenance_windows.cli.tables import print_json, print_table


def register(sub: Any) -> None:
    plan = sub.add_parser("plan", help="run plan_windows now, as Cloud Scheduler would")
    plan.add_argument("--lead-minutes", type=int, help="local only: book windows this many minutes ahead")
    plan.add_argument("--json", action="store_true")
    plan.set_defaults(run=plan_now)

    windows = sub.add_parser("windows", help="windows with their state, time, reason and history")
    windows.add_argument("--json", action="store_true")
    windows.add_argument("--all", action="store_true", help="include closed windows in the table")
    windows.set_defaults(run=list_windows)

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

    rows = []
    for window in sorted(all_windows(store_from_stack()), key=lambda w: (w.user_email, w.window_id)):
        if not include_closed and not window.is_open:
            continue
        zone = ZoneInfo(window.time_zone)
        rows.append(
            {
                "window_id": window.window_id,
                "state": window.state.value,
                "user": window.user_email,
                "hosts": list(window.host_ids),
                "policies": list(window.policy_ids),
                "start_utc": window.start.astimezone(UTC).isoformat() if window.start else None,
                "end_utc": window.end.astimezone(UTC).isoformat() if window.end else None,
                "start_local": window.start.astimezone(zone).isoformat() if window.start else None,
                "end_local": window.end.astimezone(zone).isoformat() if window.end else None,
                "time_zone": window.time_zone,
                "revision": window.revision,
                "event_id": window.event_id,
                "task": window.task_name,
                "reason": window.reason,
                "late": window.late,
                "deletions": window.deletions,
                "text_source": window.explanation_source,
                "event_text": window.event_html,
                "history": [
                    {"at": entry.at.isoformat(), "kind": entry.kind, "detail": entry.detail} for entry in window.history
                ],
            }
        )
    return rows


def list_windows(args: argparse.Namespace) -> int:
    rows = window_rows()
    if args.json:
        print_json(rows)
        return 0
    shown = [row for row in rows if args.all or row["state"] not in ("verified", "cancelled", "failed", "declined")]
    for row in shown:
        local = row["start_local"][:16].replace("T", " ") if row["start_local"] else "-"
        row["local_time"] = f"{local} {row['time_zone']}"
        row["history_kinds"] = " → ".join(entry["kind"] for entry in row["history"])
    print_table(
        shown,
        ["state", "user", "hosts", "policies", "local_time", "revision", "text_source", "reason", "history_kinds"],
        empty="no open windows (use --all to include closed ones)",
    )
    return 0


#: The Calendar API's event types (Events resource, `eventType`); birthdays and Gmail events never reach free/busy.
EVENT_TYPES = ("default", "outOfOffice", "focusTime", "workingLocation")


def preview_slot(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from maintenance_windows.config.settings import ConfigurationError
    from maintenance_windows.config.teams import TeamsConfig, load_teams
    from maintenance_windows.domain.absence import plan_absences
    from maintenance_windows.domain.slots import NoSlot, find_slot

    try:
        teams = load_teams(args.config) if args.config else TeamsConfig()
        busy, away = _busy_file(Path(args.busy))
        now = _instant(args.now) if args.now else datetime.now(UTC)
        ZoneInfo(args.tz)
    except (ConfigurationError, OSError, ValueError, KeyError, TypeError) as problem:
        return fail(f"cannot preview: {problem}")
    rules = teams.slot_rules_for(args.team, args.tz)
    absences = plan_absences(away, now, now + timedelta(days=rules.deadline_days), args.tz, rules.working_hours,
                             rules.holidays, return_grace_hours=rules.return_grace_hours)  # fmt: skip
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
