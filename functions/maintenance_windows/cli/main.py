"""`mw`: the admin command line for maintenance windows.

Every listing prints a readable table, or JSON with --json for scripts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from maintenance_windows.cli import (  # noqa: F401  (registers subcommands)
    channel_commands,
    check_commands,
    commands,
    planning_commands,
)
from maintenance_windows.cli.stack_info import StackNotRunning


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mw", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    hosts = sub.add_parser("hosts", help="stored hosts with their failing policies")
    hosts.add_argument("--json", action="store_true")
    hosts.set_defaults(run=commands.hosts)

    replay = sub.add_parser("replay", help="POST a Fleet webhook payload to the running fleet_webhook")
    replay.add_argument("file", help="a JSON payload, e.g. ../shared/fixtures/fleet/failing_policies_webhook.json")
    replay.add_argument("--url", help="webhook URL (default: the local stack's)")
    replay.add_argument("--json", action="store_true")
    replay.set_defaults(run=commands.replay)

    for register in commands.EXTRA_COMMANDS:
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except StackNotRunning as problem:
        print(f"mw: {problem}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
