"""A whole product on the memory doubles: store, calendar, Fleet, task queue, template text and a clock.

Unit tests drive the real use cases and handlers through it; only the outside world is in memory.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from maintenance_windows.adapters.memory_calendar import MemoryCalendar
from maintenance_windows.adapters.memory_fleet import MemoryFleet
from maintenance_windows.adapters.memory_os_releases import MemoryOsReleases
from maintenance_windows.adapters.memory_store import MemoryStore
from maintenance_windows.adapters.memory_tasks import MemoryTaskQueue
from maintenance_windows.adapters.template_explainer import TemplateExplainer
from maintenance_windows.config.teams import TeamsConfig, parse_teams
from maintenance_windows.domain.failing_policies import FailingPoliciesWebhook
from maintenance_windows.domain.fleet_hosts import FleetHost, HostPolicy
from maintenance_windows.domain.host_cases import HostCase
from maintenance_windows.domain.rollout import Pause
from maintenance_windows.domain.windows import Window
from maintenance_windows.handlers.http import HttpRequest
from maintenance_windows.ports.fleet import DeviceEmail, FleetPolicy
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.repository import pauses as pause_records
from maintenance_windows.repository import windows as window_records
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.dispatch_context import DispatchContext
from maintenance_windows.service.ingestion import IngestionContext, ingest
from maintenance_windows.service.os_updates import OsUpdates
from maintenance_windows.service.planner import PlanOptions, PlanReport, plan_windows

#: A Monday morning, before the default working day (09:00–17:00) starts.
MONDAY = datetime(2031, 3, 3, 7, 0, tzinfo=UTC)
DOMAIN = "acme.example"
NOTIFY_URL = "https://example.test/calendar_notifications"


class Clock:
    """The one clock every part of the world reads; tests move it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@dataclass
class World:
    teams: TeamsConfig = field(default_factory=lambda: parse_teams({"defaults": {"domains": [DOMAIN]}}))
    clock: Clock = field(default_factory=lambda: Clock(MONDAY))
    store: MemoryStore = field(default_factory=MemoryStore)
    fleet: MemoryFleet = field(default_factory=MemoryFleet)
    tasks: MemoryTaskQueue = field(default_factory=MemoryTaskQueue)
    #: The public release feed ("latest"): macOS 27.1, iOS and iPadOS 27.1 unless a test says otherwise.
    releases: MemoryOsReleases = field(default_factory=lambda: MemoryOsReleases({"darwin": "27.1", "ios": "27.1"}))
    calendar: MemoryCalendar = field(init=False)
    ctx: PlanningContext = field(init=False)
    os_updates: OsUpdates = field(init=False)

    def __post_init__(self) -> None:
        self.calendar = MemoryCalendar(self.clock)
        # Hosts check in every 10 s, as Fleet's osquery does by default.
        self.fleet.follow_clock(self.clock, timedelta(seconds=10))
        self.os_updates = OsUpdates(self.store, self.fleet, self.releases, self.clock)
        self.ctx = PlanningContext(
            store=self.store,
            calendar=self.calendar,
            fleet=self.fleet,
            tasks=self.tasks,
            explainer=TemplateExplainer(),
            teams=self.teams,
            clock=self.clock,
            notifications_url=NOTIFY_URL,
            os_updates=self.os_updates,
            catalog=self.fleet,
        )

    @property
    def ingestion(self) -> IngestionContext:
        return IngestionContext(self.store, self.tasks, self.clock)

    @property
    def dispatch_ctx(self) -> DispatchContext:
        return DispatchContext(
            self.store, self.fleet, self.tasks, self.teams, self.clock, os_updates=self.os_updates, catalog=self.fleet
        )

    # ---- Fleet's side ------------------------------------------------------------------------------

    def host(
        self,
        host_id: int,
        email: str | None,
        failing: Sequence[int] = (1,),
        *,
        team_id: int | None = None,
        platform: str = "darwin",
        source: str = "mdm_idp_accounts",
        os_version: str = "macOS 15.3",
        status: str = "online",
        labels: Sequence[str] = (),
    ) -> FleetHost:
        """A host in Fleet that fails `failing`, mapped to `email`, and the webhook that reports it. It last
        ran its policies ten minutes ago."""
        for policy in failing:
            if policy not in self.fleet.policies:
                self.fleet.add_policy(fleet_policy(policy, team_id))
        policies = tuple(HostPolicy(policy, f"Policy {policy}", "fail") for policy in failing)
        host = FleetHost(
            host_id,
            f"uuid-{host_id}",
            f"SN{host_id}",
            platform,
            team_id,
            f"Mac {host_id}",
            policies,
            os_version=os_version,
            status=status,
            labels=tuple(labels),
            policy_updated_at=self.clock() - timedelta(minutes=10),
        )
        self.fleet.add_host(host, [DeviceEmail(email, source)] if email else [])
        for policy in failing:
            self.report(policy, [host_id], team_id=team_id)
        return host

    def report(self, policy_id: int, host_ids: Sequence[int], *, team_id: int | None = None) -> None:
        """Fleet's failing-policies webhook for the policy, at the world's time."""
        payload = FailingPoliciesWebhook.model_validate(
            webhook_payload(policy_id, host_ids, self.clock(), team_id=team_id)
        )
        ingest(self.ingestion, payload)

    def passes(self, host_id: int, *policy_ids: int) -> None:
        for policy in policy_ids:
            self.fleet.set_policy(host_id, policy, "pass")

    # ---- our side ----------------------------------------------------------------------------------

    def plan(self, options: PlanOptions | None = None) -> PlanReport:
        return plan_windows(self.ctx, options or PlanOptions(time_budget=timedelta(minutes=5)))

    def pause(self, reason: str, team_id: int | None = None) -> Pause:
        """What `mw pause` writes."""
        pause = Pause(team_id, reason, self.clock(), "admin")
        self.store.commit([pause_records.pause_write(pause)])
        return pause

    def resume(self, team_id: int | None = None) -> None:
        self.store.commit([pause_records.resume_write(team_id)])

    def windows(self) -> list[Window]:
        return sorted(window_records.open_windows(self.store), key=lambda window: window.window_id)

    def window(self, window_id: str) -> Window:
        found = window_records.load(self.store, window_id)
        assert found is not None, f"no window {window_id}"
        return found

    def host_case(self, host_id: int) -> dict[str, Any]:
        document = self.store.get(host_records.HOSTS, str(host_id))
        assert document is not None, f"no case for host {host_id}"
        return document

    def stored_case(self, host_id: int) -> HostCase:
        """The host's case as the store holds it (derived from its policy cases)."""
        (case,) = [case for case in host_records.all_hosts(self.store) if case.host_id == host_id]
        return case


def fleet_policy(policy_id: int, team_id: int | None = None) -> FleetPolicy:
    """The policy as the Fleet admin defined it (what event texts are made from)."""
    return FleetPolicy(
        policy_id,
        f"Policy {policy_id}",
        team_id,
        description=f"Policy {policy_id} description",
        resolution=f"Policy {policy_id} resolution",
        platform="darwin",
    )


def webhook_payload(
    policy_id: int, host_ids: Sequence[int], at: datetime, *, team_id: int | None = None
) -> dict[str, Any]:
    """Fleet's failing-policies webhook body (the shape of shared/fixtures/fleet/failing_policies_webhook.json)."""
    return {
        "timestamp": at.isoformat().replace("+00:00", "Z"),
        "policy": {
            "id": policy_id,
            "name": f"Policy {policy_id}",
            "query": "select 1",
            "description": f"Policy {policy_id} description",
            "resolution": f"Policy {policy_id} resolution",
            "platform": "darwin",
            "team_id": team_id,
            "critical": False,
        },
        "hosts": [
            {
                "id": h,
                "hostname": f"host{h}.example",
                "display_name": f"Mac {h}",
                "url": f"https://fleet.example/hosts/{h}",
            }
            for h in host_ids
        ],
    }


def json_request(
    body: Any, *, method: str = "POST", headers: dict[str, str] | None = None, content_type: str = "application/json"
) -> HttpRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpRequest(method, dict(headers or {}), {}, raw, content_type, len(raw))
