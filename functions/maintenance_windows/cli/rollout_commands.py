"""`mw pause`, `mw resume`, `mw pauses` and `mw previews`: the rollout controls an admin steers with.

A pause is one document per scope (repository/pauses.py), written whole and deleted on resume, so these
commands never read and rewrite anything; they ask before writing unless --yes is given.
"""

from __future__ import annotations

import argparse
import getpass
from datetime import UTC, datetime
from typing import Any

from maintenance_windows.cli.commands import EXTRA_COMMANDS, confirm, fail, store_from_stack
from maintenance_windows.cli.tables import print_json, print_table


def register(sub: Any) -> None:
    pause = sub.add_parser("pause", help="pause booking and dispatch, for every team or one (asks first)")
    pause.add_argument("--team", type=int, help="only this Fleet team id (default: every team)")
    pause.add_argument("--reason", required=True, help="why: shown in mw, on the status page and in the logs")
    pause.add_argument("--yes", action="store_true", help="do not ask for confirmation (scripts)")
    pause.add_argument("--json", action="store_true")
    pause.set_defaults(run=pause_now)

    resume = sub.add_parser("resume", help="end a pause (asks first); put-off windows are booked again")
    resume.add_argument("--team", type=int, help="the team whose pause ends (default: the every-team pause)")
    resume.add_argument("--yes", action="store_true", help="do not ask for confirmation (scripts)")
    resume.add_argument("--json", action="store_true")
    resume.set_defaults(run=resume_now)

    pauses = sub.add_parser("pauses", help="the pauses in force")
    pauses.add_argument("--json", action="store_true")
    pauses.set_defaults(run=list_pauses)

    previews = sub.add_parser("previews", help="what preview teams' last planning run would have booked")
    previews.add_argument("--team", type=int, help="only this Fleet team id")
    previews.add_argument("--json", action="store_true")
    previews.set_defaults(run=list_previews)


def _scope(team: int | None) -> str:
    return "every team" if team is None else f"team {team}"


def pause_now(args: argparse.Namespace) -> int:
    from maintenance_windows.domain.rollout import Pause
    from maintenance_windows.repository.pauses import pause_write

    reason = " ".join(args.reason.split())
    if not reason:
        return fail("--reason must say why")
    if not confirm(f"pause booking and dispatch for {_scope(args.team)} ({reason})?", args.yes):
        return fail("not paused")
    pause = Pause(args.team, reason[:300], datetime.now(UTC), getpass.getuser())
    store_from_stack().commit([pause_write(pause)])
    if args.json:
        print_json({"paused": pause.scope, "reason": pause.reason, "paused_at": pause.paused_at.isoformat()})
    else:
        print(f"paused {pause.describe()}")
        print("nothing new is booked and windows due now are put off; `mw resume` ends it")
    return 0


def resume_now(args: argparse.Namespace) -> int:
    from maintenance_windows.repository.pauses import active_pauses, resume_write

    store = store_from_stack()
    current = [pause for pause in active_pauses(store) if pause.team_id == args.team]
    if not current:
        return fail(f"{_scope(args.team)} is not paused")
    if not confirm(f"resume booking and dispatch for {_scope(args.team)}?", args.yes):
        return fail("not resumed")
    store.commit([resume_write(args.team)])
    left = [pause.describe() for pause in active_pauses(store)]
    if args.json:
        print_json({"resumed": current[0].scope, "still_paused": left})
    else:
        print(f"resumed {current[0].scope}; the next planning run books what was held back")
        for line in left:
            print(f"still paused: {line}")
    return 0


def list_pauses(args: argparse.Namespace) -> int:
    from maintenance_windows.repository.pauses import status

    rows = status(store_from_stack())
    if args.json:
        print_json(rows)
        return 0
    print_table(rows, ["scope", "paused_at", "paused_by", "reason"], empty="nothing is paused")
    return 0


def list_previews(args: argparse.Namespace) -> int:
    from maintenance_windows.service.rollout import previews

    reports = [r for r in previews(store_from_stack()) if args.team is None or r.get("team_id") == args.team]
    if args.json:
        print_json(reports)
        return 0
    if not reports:
        print("no preview reports (no team runs in `mode: preview`, or no planning run since)")
        return 0
    for report in sorted(reports, key=lambda r: (r.get("team_id") is not None, r.get("team_id") or 0)):
        at = report["at"].isoformat() if isinstance(report.get("at"), datetime) else report.get("at")
        print(
            f"{report['team_name']} (team {report['team_id']}), run at {at}: would book "
            f"{report['would_book_count']}, could not place {report['unplaced_count']}"
        )
        rows = [{**entry, "status": "would book"} for entry in report["would_book"]]
        rows += [{**entry, "status": "unplaced"} for entry in report["unplaced"]]
        print_table(rows, ["status", "user", "hosts", "start", "time_zone", "reason"], empty="  nobody to book")
        print()
    return 0


EXTRA_COMMANDS.append(register)
