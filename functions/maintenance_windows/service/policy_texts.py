"""Fleet's own text of each policy an event describes, read from Fleet's API and kept briefly in `policies`.

A webhook's policy fields are whatever its sender wrote, so event texts never use them: the planner asks
Fleet (GET /global/policies/:id, or /teams/:id/policies/:id for a team's own policy) and stores the answer
with `fetched_at`. A stored text older than TEXT_TTL is read again before it is used, so an admin's edit
reaches new and re-written events within minutes. calendar_notifications holds no Fleet credential and
reads the stored texts only (repository/hosts.policies_by_id).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

from maintenance_windows.domain.windows import Window
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.fleet import FleetError, FleetNotFound, FleetPolicy, FleetUnavailable, PolicyCatalog
from maintenance_windows.ports.store import Document, Write
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.service.context import PlanningContext

logger = get_logger(__name__)

TEXT_TTL = timedelta(minutes=10)


def refreshed_policies(ctx: PlanningContext, windows: Sequence[Window]) -> dict[int, Document]:
    """Fleet's text of every policy the windows fix, by id; policies Fleet does not know are left out.

    A Fleet outage falls back to the last text Fleet gave; with none stored, FleetUnavailable is raised
    (the planner's run answers 503 and the next run books the window)."""
    teams: dict[int, set[int]] = {}
    for window in windows:
        for policy_id in window.policy_ids:
            found = teams.setdefault(policy_id, set())
            if window.team_id is not None:
                found.add(window.team_id)
    stored = host_records.policies_by_id(ctx.store, list(teams))
    if ctx.catalog is None:
        return stored
    now = ctx.clock()
    writes: list[Write] = []
    for policy_id in sorted(teams):
        current = stored.get(policy_id)
        if current is not None and now - current["fetched_at"] < TEXT_TTL:
            continue
        try:
            policy = _fetch(ctx.catalog, policy_id, teams[policy_id])
        except FleetError as problem:
            if current is None and isinstance(problem, FleetUnavailable):
                raise
            logger.warning(
                "could not read a policy from Fleet; using its last known text",
                event="policy_text_stale",
                policy_id=policy_id,
                known=current is not None,
                error=str(problem),
            )
            continue
        if policy is None:
            continue  # reconcile closes cases of a policy Fleet no longer has
        document = {**policy_document(policy), "fetched_at": now}
        stored[policy_id] = document
        writes.append(Write("set", host_records.POLICIES, str(policy_id), document))
    ctx.store.commit(writes)
    return stored


def policy_document(policy: FleetPolicy) -> Document:
    return {
        "policy_id": policy.policy_id,
        "name": policy.name,
        "description": policy.description,
        "resolution": policy.resolution,
        "platform": policy.platform,
        "critical": policy.critical,
        "team_id": policy.team_id,
        "calendar_events_enabled": policy.calendar_events_enabled,
    }


def _fetch(catalog: PolicyCatalog, policy_id: int, teams: Iterable[int]) -> FleetPolicy | None:
    """A global policy, else the own policy of one of the teams whose windows fix it."""
    for team_id in (None, *sorted(teams)):
        try:
            return catalog.get_policy(policy_id, team_id)
        except FleetNotFound:
            continue
    logger.warning("Fleet does not know a failing policy", event="policy_unknown", policy_id=policy_id)
    return None
