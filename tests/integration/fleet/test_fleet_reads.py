"""FleetHttpClient's reads of what Fleet defines, and the PATCH of a team's OS updates, against the stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from infra.fleet_server import FleetAdmin, serve_in_thread
from maintenance_windows.adapters.fleet_http import FleetHttpClient
from maintenance_windows.ports.fleet import (
    AppleOSUpdates,
    FleetError,
    FleetNotFound,
    FleetPolicy,
    FleetScript,
    FleetTeam,
    InstallableSoftware,
    WindowsOSUpdates,
)
from tests.integration.fleet.conftest import FAST_RETRY, TOKEN

CATALOG: dict[str, Any] = {
    "teams": [
        {
            "id": 1,
            "name": "Engineering",
            "mdm": {"macos_updates": {"minimum_version": "26.1", "deadline": "2027-06-30"}},
        }
    ],
    "hosts": [{"id": 1, "uuid": "mac-1", "team_id": 1, "os_version": "macOS 26.0"}],
    "policies": [
        {"id": 1, "name": "Firewall on", "critical": True, "platform": "darwin", "resolution": "Turn it on."},
        {"id": 2, "name": "Disk encrypted", "team_id": 1, "calendar_events_enabled": True},
    ],
    "scripts": [
        *({"id": i, "name": f"script-{i:02d}.sh", "team_id": 1} for i in range(1, 8)),
        {"id": 50, "name": "g.sh"},
    ],
    "software_titles": [
        {"id": 20, "name": "Firefox.app", "team_ids": [1], "version": "136.0"},
        {"id": 21, "name": "Slack", "team_ids": [1], "kind": "app_store_app"},
        {"id": 22, "name": "Other team only", "team_ids": [2]},
    ],
}


@pytest.fixture(scope="module")
def client() -> Iterator[FleetHttpClient]:
    with serve_in_thread(CATALOG, token=TOKEN) as running:
        client = FleetHttpClient(running.url, TOKEN, retry=FAST_RETRY, per_page=3)
        admin = FleetAdmin(running.url)
        yield client
        admin.reset()
        admin.close()
        client.close()


def test_policies_global_and_per_team(client: FleetHttpClient) -> None:
    firewall = FleetPolicy(1, "Firewall on", None, resolution="Turn it on.", critical=True, platform="darwin")
    disk = FleetPolicy(2, "Disk encrypted", 1, calendar_events_enabled=True)
    assert client.list_policies() == [firewall]
    assert client.list_policies(team_id=1) == [disk, firewall]  # the team's own, then the inherited ones
    assert client.get_policy(2, team_id=1) == disk
    assert client.get_policy(1) == firewall
    with pytest.raises(FleetNotFound):
        client.get_policy(2)  # a team policy is not a global one


def test_scripts_are_paged_through(client: FleetHttpClient) -> None:
    scripts = client.list_scripts(team_id=1)
    assert [s.script_id for s in scripts] == list(range(1, 8))  # 3 + 3 + 1 a page
    assert client.list_scripts() == [FleetScript(50, "g.sh", None)]


def test_teams_are_listed_by_id(client: FleetHttpClient) -> None:
    teams = client.list_teams()
    assert teams[0] == FleetTeam(1, "Engineering")
    assert [t.team_id for t in teams] == sorted(t.team_id for t in teams)


def test_installable_software_is_what_the_team_is_offered(client: FleetHttpClient) -> None:
    assert client.installable_software(1) == [
        InstallableSoftware(20, "Firefox.app", "136.0"),
        InstallableSoftware(21, "Slack", "1.0", app_store_app=True),
    ]


def test_team_os_updates_are_read_and_patched(client: FleetHttpClient) -> None:
    assert client.team_os_updates(1).macos == AppleOSUpdates("26.1", "2027-06-30")
    patched = client.set_team_os_updates(1, ipados=AppleOSUpdates("18.4", "2027-07-01"), windows=WindowsOSUpdates(5, 2))
    assert (patched.macos, patched.ipados, patched.windows) == (
        AppleOSUpdates("26.1", "2027-06-30"),
        AppleOSUpdates("18.4", "2027-07-01"),
        WindowsOSUpdates(5, 2),
    )
    assert client.team_os_updates(1).windows.deadline_days == 5
    cleared = client.set_team_os_updates(1, macos=AppleOSUpdates())
    assert not cleared.macos.enforced


def test_a_refused_os_update_setting_carries_fleets_reason(client: FleetHttpClient) -> None:
    with pytest.raises(FleetError) as refused:
        client.set_team_os_updates(1, macos=AppleOSUpdates("Tahoe", "2027-06-30"))
    assert refused.value.status == 422
    assert "minimum_version accepts version numbers only" in str(refused.value)
    with pytest.raises(ValueError, match="at least one OS-update setting"):
        client.set_team_os_updates(1)
