"""`mw channels`: the Calendar watch channels that follow users' calendars."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from maintenance_windows.cli.commands import EXTRA_COMMANDS, store_from_stack
from maintenance_windows.cli.tables import print_json, print_table
from maintenance_windows.repository.channels import ChannelRecord, all_channels

_STATE_LABELS = {"current": "current", "retired": "old-overlap", "creating": "creating"}


def register(sub: Any) -> None:
    channels = sub.add_parser("channels", help="watch channels: user, expiry, last message, sync state")
    channels.add_argument("--json", action="store_true")
    channels.set_defaults(run=list_channels)


def channel_rows(records: Sequence[ChannelRecord], now: datetime) -> list[dict[str, Any]]:
    rows = []
    for record in sorted(records, key=lambda r: (r.user_email, r.created_at)):
        expires_in = record.expiration - now if record.expiration else None
        rows.append(
            {
                "user": record.user_email,
                "channel_id": record.channel_id,
                "state": _STATE_LABELS.get(record.state.value, record.state.value),
                "expiration": record.expiration.astimezone(UTC).isoformat() if record.expiration else None,
                "expires_in_hours": round(expires_in.total_seconds() / 3600, 1) if expires_in else None,
                "last_message_number": record.last_message_number,
                "sync_token": record.sync_token is not None,
                "created_at": record.created_at.astimezone(UTC).isoformat(),
                "retired_at": record.retired_at.astimezone(UTC).isoformat() if record.retired_at else None,
            }
        )
    return rows


def list_channels(args: argparse.Namespace) -> int:
    rows = channel_rows(all_channels(store_from_stack()), datetime.now(UTC))
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        row["expires_in_h"], row["last_msg"] = row["expires_in_hours"], row["last_message_number"]
    print_table(
        rows,
        ["user", "state", "expires_in_h", "last_msg", "sync_token", "channel_id"],
        empty="no watch channels (they open when a user has a booked window)",
    )
    return 0


EXTRA_COMMANDS.append(register)
