"""`mw`: the admin command line for maintenance windows.

Reads the deployed project's Firestore with --project (or MW_PROJECT) and Application Default
Credentials, else the local stack. Every listing prints a table that fits 120 columns, or complete JSON
with --json for scripts.
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
    rollout_commands,
    status_commands,
)
from maintenance_windows.cli.stack_info import StackNotRunning


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mw", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--project", help="the deployed Google Cloud project (default: MW_PROJECT, else the stack)")
    parser.add_argument("--database", help="its Firestore database (default: MW_FIRESTORE_DATABASE or (default))")
    sub = parser.add_subparsers(dest="command", required=True)
    for register in commands.EXTRA_COMMANDS:
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commands.choose_target(args.project, args.database)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except StackNotRunning as problem:
        print(f"mw: {problem}; or read a deployed project with --project PROJECT", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
