"""A stand-in Fleet on a free loopback port for the module, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from infra.fleet_server import FleetAdmin, RunningFleet, serve_in_thread
from maintenance_windows.adapters.fleet_http import FleetHttpClient
from maintenance_windows.adapters.http_retry import RetryPolicy

TOKEN = "integration-token"
PER_PAGE = 3
#: Fast backoff so retry tests take milliseconds; the policy is otherwise the production one.
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay_seconds=0.01, max_delay_seconds=0.05)
DISK_POLICY = 10


def _host(host_id: int, team_id: int | None, response: str) -> dict[str, Any]:
    return {
        "id": host_id,
        "uuid": f"uuid-{host_id}",
        "hardware_serial": f"SERIAL{host_id}",
        "platform": "darwin",
        "team_id": team_id,
        "display_name": f"Mac {host_id}",
        "emails": [
            {"email": f"user{host_id}@gmail.com", "source": "google_chrome_profiles"},
            {"email": f"User{host_id}@Acme.com", "source": "mdm_idp_accounts"},
        ],
        "policies": {str(DISK_POLICY): response},
    }


# Hosts 1-8 (team 1) and 21-22 (team 2) fail the disk policy; 9 passes it.
SEED: dict[str, Any] = {
    "hosts": [_host(i, 1, "fail") for i in range(1, 9)]
    + [_host(9, 1, "pass")]
    + [_host(i, 2, "fail") for i in (21, 22)],
    "policies": [{"id": DISK_POLICY, "name": "Disk encrypted", "team_id": None, "critical": True}],
    "scripts": [{"id": 5, "name": "encrypt.sh", "team_id": 1}],
    "software_titles": [{"id": 8, "name": "Firefox.app"}],
}


@pytest.fixture(scope="module")
def fleet() -> Iterator[RunningFleet]:
    with serve_in_thread(SEED, token=TOKEN) as running:
        yield running


@pytest.fixture
def admin(fleet: RunningFleet) -> Iterator[FleetAdmin]:
    admin = FleetAdmin(fleet.url)
    admin.reset()
    yield admin
    admin.close()


@pytest.fixture
def client(fleet: RunningFleet, admin: FleetAdmin) -> Iterator[FleetHttpClient]:  # noqa: ARG001  # a reset first
    client = FleetHttpClient(fleet.url, TOKEN, retry=FAST_RETRY, per_page=PER_PAGE)
    yield client
    client.close()
