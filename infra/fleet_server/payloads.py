"""Response bodies in the shapes of Fleet's documented examples (/work/shared/fixtures/fleet/api).

The host carries every top-level key of get_host_response.json so a client written against the docs
meets the same object here; values we do not model are plausible constants.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from infra.fleet_server.seed import SeedHost, SeedPolicy

_EPOCH = "2024-01-01T00:00:00Z"
#: Fleet shows custom sources ("custom_installer", "custom_override") as "custom".
_CUSTOM_PREFIX = "custom_"
#: Keys the list endpoint leaves out (Fleet fills them only on the single-host endpoint).
_DETAIL_ONLY = ("policies", "labels", "packs", "software", "users", "batteries", "maintenance_window")


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def host_detail(host: SeedHost, policies: list[dict[str, Any]], *, team_name: str | None) -> dict[str, Any]:
    failing = sum(1 for p in policies if p["response"] == "fail")
    return {
        "created_at": _EPOCH,
        "updated_at": now_iso(),
        "id": host.id,
        "detail_updated_at": now_iso(),
        "last_restarted_at": _EPOCH,
        "software_updated_at": _EPOCH,
        "label_updated_at": _EPOCH,
        "policy_updated_at": now_iso(),
        "last_enrolled_at": _EPOCH,
        "seen_time": now_iso(),
        "refetch_requested": host.refetch_requested,
        "hostname": host.hostname or host.name,
        "uuid": host.uuid,
        "platform": host.platform,
        "osquery_version": "5.12.0",
        "orbit_version": "1.22.0",
        "fleet_desktop_version": "1.22.0",
        "scripts_enabled": True,
        "os_version": _os_version(host.platform),
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
        "distributed_interval": 10,
        "config_tls_refresh": 10,
        "logger_tls_period": 10,
        "team_id": host.team_id,
        "pack_stats": None,
        "team_name": team_name,
        "additional": {},
        "gigs_disk_space_available": 46.1,
        "percent_disk_space_available": 74,
        "gigs_total_disk_space": 160,
        "disk_encryption_enabled": True,
        "status": "online",
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
        "labels": [],
        "packs": [],
        "policies": policies,
        "software": [],
        "mdm": _mdm(host),
    }


def host_summary(detail: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in detail.items() if key not in _DETAIL_ONLY}


def device_mapping(host: SeedHost) -> dict[str, Any]:
    rows = [{"email": e.email, "source": _public_source(e.source)} for e in host.emails]
    # Fleet's Go handler leaves the slice nil when there is no row, which encodes as null.
    return {"host_id": host.id, "device_mapping": rows or None}


def _public_source(source: str) -> str:
    return "custom" if source.startswith(_CUSTOM_PREFIX) else source


def _os_version(platform: str) -> str:
    return {"darwin": "macOS 14.5", "windows": "Windows 11 Pro 23H2", "ubuntu": "Ubuntu 22.04.4 LTS"}.get(
        platform, platform
    )


def _mdm(host: SeedHost) -> dict[str, Any]:
    enrolled = host.mdm_enrolled and host.platform in ("darwin", "ios", "ipados", "windows")
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
