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
