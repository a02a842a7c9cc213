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
    slot.add_argument("--busy", required=True, help='JSON list of {"start": RFC 3339, "end": RFC 3339}')
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
                "unplaced_reason": window.unplaced_reason,
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
        # A window the planner could not place says why instead (no slot, calendar access refused, ...).
        row["why"] = f"not placed: {row['unplaced_reason']}" if row["unplaced_reason"] else row["reason"]
    print_table(
        shown,
        ["state", "user", "hosts", "policies", "local_time", "revision", "text_source", "why", "history_kinds"],
        empty="no open windows (use --all to include closed ones)",
    )
    return 0


def preview_slot(args: argparse.Namespace) -> int:
    from maintenance_windows.config.settings import ConfigurationError
    from maintenance_windows.config.teams import TeamsConfig, load_teams
    from maintenance_windows.domain.intervals import Interval, parse_rfc3339
    from maintenance_windows.domain.slots import NoSlot, find_slot

    try:
        teams = load_teams(args.config) if args.config else TeamsConfig()
        raw = json.loads(Path(args.busy).read_text())
        busy = [Interval(parse_rfc3339(item["start"]), parse_rfc3339(item["end"])) for item in raw]
        now = parse_rfc3339(args.now) if args.now else datetime.now(UTC)
        ZoneInfo(args.tz)
    except (ConfigurationError, OSError, ValueError, KeyError, TypeError) as problem:
        return fail(f"cannot preview: {problem}")
    choice = find_slot(busy, args.tz, now, teams.rules_for(args.team).slots)
    if isinstance(choice, NoSlot):
        if args.json:
            print_json({"slot": None, "reason": choice.reason})
        else:
            print(f"no slot: {choice.reason}")
        return 0
    result = {
        "start": choice.start.isoformat().replace("+00:00", "Z"),
        "end": choice.end.isoformat().replace("+00:00", "Z"),
        "local_start": choice.local_start.isoformat(),
        "score": round(choice.score, 3),
        "reason": choice.reason,
        "fallback": choice.fallback.value if choice.fallback else None,
    }
    if args.json:
        print_json(result)
    else:
        print(f"{choice.local_start:%A %d %B %H:%M} ({args.tz}) — {choice.reason} (score {result['score']})")
    return 0


EXTRA_COMMANDS.append(register)
