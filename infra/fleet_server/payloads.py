"""Response bodies in the shapes of Fleet's documented examples (/work/shared/fixtures/fleet/api).

The host carries every top-level key of get_host_response.json so a client written against the docs
meets the same object here; values the simulation does not model are plausible constants.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from infra.fleet_server.clock import iso
from infra.fleet_server.devices import Command, CommandResult, Device, ScriptExecution
from infra.fleet_server.seed import SeedPolicy, SeedScript, SeedSoftwareTitle, SeedTeam

EPOCH = "2024-01-01T00:00:00Z"
#: Fleet shows custom sources ("custom_installer", "custom_override") as "custom".
_CUSTOM_PREFIX = "custom_"
#: Keys the list endpoint leaves out (Fleet fills them only on the single-host endpoint).
_DETAIL_ONLY = ("policies", "labels", "packs", "software", "users", "batteries", "maintenance_window")
#: HostScriptResult.UserMessage for a script that has not reported yet (server/fleet/scripts.go).
SCRIPT_PENDING_MESSAGE = "Script is running or will run when the host comes online."
_NO_FAILING_POLICIES_WEBHOOK = {
    "enable_failing_policies_webhook": False,
    "destination_url": "",
    "policy_ids": None,
    "host_batch_size": 0,
}


def host_policy(policy: SeedPolicy, response: str) -> dict[str, Any]:
    return {
        "id": policy.id,
        "name": policy.name,
        "query": policy.query,
        "description": policy.description,
        "resolution": policy.resolution,
        "platform": policy.platform,
        "response": response,
        "critical": policy.critical,
    }


def host_detail(
    device: Device, policies: list[dict[str, Any]], *, team_name: str | None, now: datetime
) -> dict[str, Any]:
    host = device.seed
    failing = sum(1 for p in policies if p["response"] == "fail")
    interval = max(1, round(device.interval.total_seconds()))
    seen = iso(device.seen_time(now))
    return {
        "created_at": EPOCH,
        "updated_at": seen,
        "id": host.id,
        "detail_updated_at": iso(device.detail_updated_at),
        "last_restarted_at": EPOCH,
        "software_updated_at": EPOCH,
        "label_updated_at": iso(device.detail_updated_at),
        "policy_updated_at": iso(device.policy_updated_at),
        "last_enrolled_at": EPOCH,
        "seen_time": seen,
        "refetch_requested": device.refetch_requested,
        "hostname": host.hostname or host.name,
        "uuid": host.uuid,
        "platform": host.platform,
        "osquery_version": "5.12.0" if device.platform not in ("ios", "ipados") else "",
        "orbit_version": "1.38.0" if device.fleetd else None,
        "fleet_desktop_version": "1.38.0" if device.fleetd else None,
        "scripts_enabled": device.scripts_enabled if device.fleetd else None,
        "os_version": device.os_version,
        "build": "",
        "platform_like": host.platform,
        "code_name": "",
        "uptime": 210671000000000,
        "memory": 17179869184,
        "cpu_type": "arm64e" if host.platform == "darwin" else "x86_64",
        "cpu_subtype": "",
        "cpu_brand": "",
        "cpu_physical_cores": 8,
        "cpu_logical_cores": 8,
        "hardware_vendor": "",
        "hardware_model": "",
        "hardware_version": "",
        "hardware_serial": host.hardware_serial,
        "computer_name": host.name,
        "display_name": host.name,
        "public_ip": "",
        "primary_ip": "10.0.0.1",
        "primary_mac": "02:42:ac:1b:00:06",
        "distributed_interval": interval,
        "config_tls_refresh": interval,
        "logger_tls_period": interval,
        "team_id": host.team_id,
        "pack_stats": None,
        "team_name": team_name,
        "additional": {},
        "gigs_disk_space_available": 46.1,
        "percent_disk_space_available": 74,
        "gigs_total_disk_space": 160,
        "disk_encryption_enabled": True,
        "status": "online" if device.online else "offline",
        "display_text": host.name,
        "issues": {
            "failing_policies_count": failing,
            "critical_vulnerabilities_count": 0,
            "total_issues_count": failing,
        },
        "batteries": [],
        "geolocation": None,
        "maintenance_window": None,
        "users": [],
        "labels": host_labels(host.labels),
        "packs": [],
        "policies": policies,
        "software": [],
        "mdm": _mdm(device),
    }


def host_labels(names: Sequence[str]) -> list[dict[str, Any]]:
    """HostDetail.Labels (server/fleet/hosts.go: "the list of labels the host is a member of"), each in the
    shape of get_host_response.json: Fleet's builtin "All Hosts" (id 6 there) and the host's manual labels."""
    builtin = _label(6, "All Hosts", "All hosts which have enrolled in Fleet", "builtin", "dynamic")
    manual = [_label(1000 + zlib.crc32(name.encode()) % 100000, name, "", "regular", "manual") for name in names]
    return [builtin, *manual]


def _label(label_id: int, name: str, description: str, label_type: str, membership: str) -> dict[str, Any]:
    return {
        "created_at": EPOCH,
        "updated_at": EPOCH,
        "id": label_id,
        "name": name,
        "description": description,
        "query": "SELECT 1;" if membership == "dynamic" else "",
        "platform": "",
        "label_type": label_type,
        "label_membership_type": membership,
    }


def host_summary(detail: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in detail.items() if key not in _DETAIL_ONLY}


def device_mapping(device: Device) -> dict[str, Any]:
    rows = [{"email": e.email, "source": _public_source(e.source)} for e in device.seed.emails]
    # Fleet's Go handler leaves the slice nil when there is no row, which encodes as null.
    return {"host_id": device.id, "device_mapping": rows or None}


def command_result(command: Command, host_uuid: str, result: CommandResult, hostname: str) -> dict[str, Any]:
    return {
        "host_uuid": host_uuid,
        "command_uuid": command.command_uuid,
        "status": result.status,
        "updated_at": iso(result.updated_at),
        "request_type": command.request_type,
        "hostname": hostname,
        "payload": base64.b64encode(command.payload).decode(),
        "result": base64.b64encode(result.result).decode(),
    }


def script_result(execution: ScriptExecution, hostname: str) -> dict[str, Any]:
    done = execution.finished_at is not None
    return {
        "script_contents": execution.script.contents,
        "exit_code": execution.exit_code,
        "output": execution.output,
        "message": "" if done else SCRIPT_PENDING_MESSAGE,
        "hostname": hostname,
        "host_timeout": False,
        "host_id": execution.host_id,
        "execution_id": execution.execution_id,
        "runtime": 1 if done else 0,
        "created_at": iso(execution.created_at),
    }


def policy(policy: SeedPolicy, passing: int, failing: int) -> dict[str, Any]:
    """fleet.Policy as GET /global/policies/:id and /teams/:id/policies/:id show it."""
    return {
        "id": policy.id,
        "name": policy.name,
        "query": policy.query,
        "description": policy.description,
        "critical": policy.critical,
        "author_id": 1,
        "author_name": "Admin",
        "author_email": "admin@example.com",
        "team_id": policy.team_id,
        "resolution": policy.resolution,
        "platform": policy.platform,
        "created_at": EPOCH,
        "updated_at": EPOCH,
        "passing_host_count": passing,
        "failing_host_count": failing,
        "host_count_updated_at": None,
        "calendar_events_enabled": policy.calendar_events_enabled,
    }


def script(script: SeedScript) -> dict[str, Any]:
    return {"id": script.id, "team_id": script.team_id, "name": script.name, "created_at": EPOCH, "updated_at": EPOCH}


def software_title(title: SeedSoftwareTitle, platform: str) -> dict[str, Any]:
    package = {
        "name": f"{title.name}-{title.version}.pkg",
        "version": title.version,
        "self_service": False,
        "platform": platform,
    }
    store_app = {"app_store_id": str(title.id), "version": title.version, "self_service": False, "platform": platform}
    return {
        "id": title.id,
        "name": title.name,
        "source": title.source,
        "browser": "",
        "hosts_count": 0,
        "versions_count": 0,
        "versions": [],
        "software_package": package if title.kind == "package" else None,
        "app_store_app": store_app if title.kind == "app_store_app" else None,
    }


def team(team: SeedTeam, host_count: int) -> dict[str, Any]:
    mdm = team.mdm
    return {
        "id": team.id,
        "name": team.name,
        "description": team.description,
        "created_at": EPOCH,
        "host_count": host_count,
        "user_count": 0,
        "webhook_settings": {"failing_policies_webhook": _NO_FAILING_POLICIES_WEBHOOK},
        "integrations": {
            "jira": None,
            "zendesk": None,
            "google_calendar": {
                "enable_calendar_events": team.calendar_events_enabled,
                "webhook_url": team.calendar_webhook_url,
            },
        },
        "mdm": {
            "enable_disk_encryption": mdm.enable_disk_encryption,
            "macos_updates": mdm.macos_updates.model_dump(),
            "ios_updates": mdm.ios_updates.model_dump(),
            "ipados_updates": mdm.ipados_updates.model_dump(),
            "windows_updates": mdm.windows_updates.model_dump(),
            "macos_settings": {"custom_settings": None},
            "windows_settings": {"custom_settings": None},
        },
    }


def paging_meta(has_next: bool, has_previous: bool) -> dict[str, bool]:
    return {"has_next_results": has_next, "has_previous_results": has_previous}


def host_policies(policies: Sequence[SeedPolicy], responses: dict[int, str]) -> list[dict[str, Any]]:
    return [host_policy(p, responses.get(p.id, "")) for p in policies]


def _public_source(source: str) -> str:
    return "custom" if source.startswith(_CUSTOM_PREFIX) else source


def _mdm(device: Device) -> dict[str, Any]:
    enrolled = device.seed.mdm_enrolled and device.platform in ("darwin", "ios", "ipados", "windows")
    return {
        "encryption_key_available": True,
        "enrollment_status": "On (manual)" if enrolled else "Off",
        "name": "Fleet" if enrolled else "",
        "connected_to_fleet": enrolled,
        "server_url": "https://fleet.local/mdm/apple/mdm" if enrolled else "",
        "device_status": "unlocked",
        "pending_action": "",
        "macos_settings": {"disk_encryption": None, "action_required": None},
        "macos_setup": {"bootstrap_package_status": "", "detail": "", "bootstrap_package_name": ""},
        "os_settings": {"disk_encryption": {"status": None, "detail": ""}},
        "profiles": [],
    }
