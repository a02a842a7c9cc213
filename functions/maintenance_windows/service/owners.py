"""Owners: which user each failing host belongs to, from Fleet's host record and device mapping.

The host's name in event texts is Fleet's too (`fleet_display_name`, read here with the owner), never the
name a webhook carried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from maintenance_windows.domain.emails import choose_email
from maintenance_windows.domain.host_cases import HostCase
from maintenance_windows.domain.ids import user_key
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.fleet import FleetNotFound
from maintenance_windows.ports.store import Write
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.service.context import PlanningContext

logger = get_logger(__name__)
#: A host without a usable email is looked up again after this long (someone may fix its mapping).
RECHECK_MISSING_EMAIL = timedelta(hours=6)
#: The Fleet facts stored with the owner (service/owners.py writes them, the planner reads them back).
OWNER_DETAILS = ("uuid", "platform", "hardware_serial", "os_version", "fleet_display_name", "labels")
#: With pilot or exclude rules that name Fleet labels, a known owner is looked up again after this long, so
#: a label added to (or taken from) the host counts from the next day at the latest.
RECHECK_LABELS = timedelta(hours=24)


@dataclass(frozen=True)
class Owner:
    host_id: int
    email: str | None
    team_id: int | None
    problem: str | None
    details: dict[str, Any]


def resolve_owners(ctx: PlanningContext, cases: Sequence[HostCase], deadline: datetime) -> dict[int, Owner]:
    """Owner per host. Known owners come from the store; others are asked of Fleet until `deadline`."""
    now = ctx.clock()
    owners: dict[int, Owner] = {}
    writes: list[Write] = []
    labels_used = _labels_used(ctx)
    for case in cases:
        known = _known_owner(case, now)
        stale = known is not None and labels_used and now - case.extra["owner_checked_at"] > RECHECK_LABELS
        if (known is None or stale) and ctx.clock() < deadline:
            asked = _ask_fleet(ctx, case)  # a stale owner stays known if the budget runs out first
            if asked is not None:
                known = asked
                writes.append(_owner_write(asked, now))
        if known is not None:
            owners[case.host_id] = known
    ctx.store.commit(writes)
    return owners


def _labels_used(ctx: PlanningContext) -> bool:
    rules = [ctx.teams.defaults, *ctx.teams.teams.values()]
    return any(r.exclude.labels or (r.pilot is not None and r.pilot.labels) for r in rules)


def _known_owner(case: HostCase, now: datetime) -> Owner | None:
    extra = case.extra
    # A record without Fleet's display name predates it: ask Fleet once more.
    if "owner_checked_at" not in extra or "fleet_display_name" not in extra:
        return None
    if extra.get("user_email") is None and now - extra["owner_checked_at"] > RECHECK_MISSING_EMAIL:
        return None
    return Owner(
        case.host_id,
        extra.get("user_email"),
        extra.get("team_id"),
        extra.get("email_problem"),
        {key: extra.get(key) for key in OWNER_DETAILS},
    )


def _ask_fleet(ctx: PlanningContext, case: HostCase) -> Owner | None:
    try:
        host = ctx.fleet.get_host(case.host_id)
        mappings = ctx.fleet.device_mapping(case.host_id)
    except FleetNotFound:
        return Owner(case.host_id, None, None, "host no longer exists in Fleet", {"fleet_display_name": ""})
    rules = ctx.teams.rules_for(host.team_id)
    choice = choose_email(mappings, rules.domains)
    details = {
        "uuid": host.uuid,
        "platform": host.platform,
        "hardware_serial": host.hardware_serial,
        "os_version": host.os_version,
        "fleet_display_name": host.display_name,
        "labels": list(host.labels),
    }
    if not choice.found:
        logger.warning(
            "host has no usable email; it cannot be booked",
            event="host_without_email",
            host_id=case.host_id,
            problem=choice.reason,
        )
    return Owner(case.host_id, choice.email, host.team_id, choice.reason if not choice.found else None, details)


def _owner_write(owner: Owner, now: datetime) -> Write:
    return Write(
        "merge",
        host_records.HOSTS,
        str(owner.host_id),
        {
            "host_id": owner.host_id,
            "user_email": owner.email,
            "user_key": user_key(owner.email) if owner.email else None,
            "team_id": owner.team_id,
            "email_problem": owner.problem,
            "owner_checked_at": now,
            **owner.details,
        },
    )
