"""The Fleet port: read hosts, policies and device mappings; send remediation actions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from maintenance_windows.domain.fleet_hosts import FleetHost


class FleetError(Exception):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class FleetUnavailable(FleetError):
    """429 or 5xx after retries: the caller should answer non-2xx so its own retry happens."""


class FleetNotFound(FleetError):
    pass


@dataclass(frozen=True)
class DeviceEmail:
    email: str
    source: str


@dataclass(frozen=True)
class ActionReceipt:
    """What Fleet answered to an action: a command uuid, script execution id or install id."""

    kind: str
    reference: str | None
    raw: Mapping[str, Any] = field(default_factory=dict)


class FleetPort(Protocol):
    def get_host(self, host_id: int) -> FleetHost: ...

    def device_mapping(self, host_id: int) -> list[DeviceEmail]: ...

    def failing_host_ids(self, policy_id: int, team_id: int | None = None) -> set[int]:
        """All hosts currently failing the policy (pages through the list)."""
        ...

    def run_mdm_command(self, command_base64: str, host_uuids: Sequence[str]) -> ActionReceipt: ...

    def run_script(
        self,
        host_id: int,
        *,
        script_id: int | None = None,
        script_name: str | None = None,
        team_id: int | None = None,
    ) -> ActionReceipt: ...

    def install_software(self, host_id: int, software_title_id: int) -> ActionReceipt: ...

    def refetch(self, host_id: int) -> None: ...

    def post_calendar_webhook(self, url: str, payload: Mapping[str, Any]) -> None:
        """POST Fleet's own calendar-webhook payload to a compatible flow (e.g. Tines)."""
        ...


@dataclass(frozen=True)
class FleetPolicy:
    """A policy as Fleet defines it (GET /global/policies, /teams/:id/policies)."""

    policy_id: int
    name: str
    team_id: int | None
    description: str = ""
    resolution: str = ""
    critical: bool = False
    platform: str = ""
    calendar_events_enabled: bool = False


@dataclass(frozen=True)
class FleetScript:
    script_id: int
    name: str
    team_id: int | None


@dataclass(frozen=True)
class FleetTeam:
    team_id: int
    name: str


@dataclass(frozen=True)
class InstallableSoftware:
    title_id: int
    name: str
    version: str = ""
    app_store_app: bool = False


@dataclass(frozen=True)
class AppleOSUpdates:
    """A team's mdm.macos_updates / ios_updates / ipados_updates; empty strings mean "not enforced"."""

    minimum_version: str = ""
    deadline: str = ""  # YYYY-MM-DD; Fleet enforces at 12:00 device time that day

    @property
    def enforced(self) -> bool:
        return bool(self.minimum_version and self.deadline)


@dataclass(frozen=True)
class WindowsOSUpdates:
    """A team's mdm.windows_updates; None means "not enforced"."""

    deadline_days: int | None = None
    grace_period_days: int | None = None


@dataclass(frozen=True)
class TeamOSUpdates:
    team_id: int
    macos: AppleOSUpdates = AppleOSUpdates()
    ios: AppleOSUpdates = AppleOSUpdates()
    ipados: AppleOSUpdates = AppleOSUpdates()
    windows: WindowsOSUpdates = WindowsOSUpdates()


class PolicyCatalog(Protocol):
    """Fleet's policies as Fleet defines them: where event texts come from (service/policy_texts.py)."""

    def list_policies(self, team_id: int | None = None) -> list[FleetPolicy]:
        """Global policies (team_id None), or a team's own policies followed by the global ones it inherits."""
        ...

    def get_policy(self, policy_id: int, team_id: int | None = None) -> FleetPolicy:
        """A global policy (team_id None) or a team's own policy; FleetNotFound when it is not that."""
        ...


class FleetCatalogPort(PolicyCatalog, Protocol):
    """What Fleet defines (policies, scripts, installable software, a team's OS-update settings), apart from
    FleetPort so that implementations of the dispatch side need not grow with it."""

    def list_scripts(self, team_id: int | None = None) -> list[FleetScript]: ...

    def installable_software(self, team_id: int) -> list[InstallableSoftware]: ...

    def list_teams(self) -> list[FleetTeam]:
        """Every team (Fleet Premium; Free answers 402)."""
        ...

    def team_os_updates(self, team_id: int) -> TeamOSUpdates: ...

    def set_team_os_updates(
        self,
        team_id: int,
        *,
        macos: AppleOSUpdates | None = None,
        ios: AppleOSUpdates | None = None,
        ipados: AppleOSUpdates | None = None,
        windows: WindowsOSUpdates | None = None,
    ) -> TeamOSUpdates:
        """PATCH the team's settings; only the ones given are sent (Fleet keeps the others)."""
        ...
