"""The `mw` subcommands. Each returns a process exit code."""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from maintenance_windows.cli.stack_info import load_stack, use_stack_environment
from maintenance_windows.cli.tables import print_json, print_table

EXTRA_COMMANDS: list[Callable[[Any], None]] = []


@functools.cache
def store_from_stack() -> Any:
    """One client per process: the demo polls window_rows() twice a second."""
    from maintenance_windows.adapters.firestore_store import FirestoreStore
    from maintenance_windows.config.settings import Settings

    use_stack_environment(load_stack())
    settings = Settings.from_env()
    return FirestoreStore.connect(settings.project, settings.firestore_database)


def hosts(args: argparse.Namespace) -> int:
    from maintenance_windows.repository.hosts import all_hosts

    rows = [
        {
            "host_id": case.host_id,
            "display_name": case.extra.get("fleet_display_name", ""),
            "status": case.status.value,
            "failing_policies": list(case.failing_policy_ids),
            "team_id": case.extra.get("team_id"),
            "user": case.extra.get("user_email"),
            "email_problem": case.extra.get("email_problem"),
            "needs_attention": bool(case.extra.get("needs_attention")),
            "first_seen": case.first_seen.isoformat(),
            "last_seen": case.last_seen.isoformat(),
        }
        for case in sorted(all_hosts(store_from_stack()), key=lambda c: c.host_id)
    ]
    if args.json:
        print_json(rows)
    else:
        print_table(
            rows,
            [
                "host_id",
                "display_name",
                "status",
                "failing_policies",
                "user",
                "email_problem",
                "needs_attention",
                "last_seen",
            ],
            empty="no hosts stored",
        )
    return 0


def replay(args: argparse.Namespace) -> int:
    import requests

    stack = load_stack()
    body = Path(args.file).read_bytes()
    url = args.url or stack["urls"]["fleet_webhook"]
    response = requests.post(
        url,
        data=body,
        headers={"Content-Type": "application/json"},
        auth=("fleet", stack["secrets"]["webhook"]),
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


def fail(message: str) -> int:
    print(f"mw: {message}", file=sys.stderr)
    return 1
