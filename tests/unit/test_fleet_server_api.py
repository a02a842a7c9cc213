"""The stand-in Fleet answers in Fleet's shapes and refuses what Fleet refuses (in-process WSGI client)."""

from __future__ import annotations

import base64
import json
import plistlib
from typing import Any

import pytest
from flask.testing import FlaskClient

from infra.fleet_server import create_app, parse_seed
from infra.fleet_server.seed import SeedError
from tests.support import FLEET_FIXTURES

FIXTURES = FLEET_FIXTURES / "api"
# The fixtures are part of every checkout (../shared): missing ones fail the run rather than skip it.
needs_fixtures = pytest.mark.usefixtures("fleet_fixtures")
TOKEN = "unit-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

SEED: dict[str, Any] = {
    "hosts": [
        {
            "id": 1,
            "uuid": "mac-1",
            "platform": "darwin",
            "team_id": 1,
            "display_name": "Ann's Mac",
            "emails": [{"email": "ann@acme.com", "source": "custom_installer"}],
            "policies": {"10": "fail"},
        },
        {"id": 2, "uuid": "win-2", "platform": "windows", "team_id": 1, "policies": {"10": "pass"}},
        {"id": 3, "uuid": "linux-3", "platform": "ubuntu", "team_id": None},
        {"id": 4, "uuid": "mac-4", "platform": "darwin", "team_id": 2, "mdm_enrolled": False},
    ],
    "policies": [{"id": 10, "name": "Disk encrypted", "team_id": 1, "critical": True}],
    "scripts": [{"id": 5, "name": "fix.sh", "team_id": 1}, {"id": 6, "name": "fix.sh", "team_id": None}],
    "software_titles": [{"id": 8, "name": "Firefox.app", "team_ids": [2]}],
}


@pytest.fixture
def client() -> FlaskClient:
    return create_app(SEED, token=TOKEN).test_client()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def apple_command(request_type: str = "RestartDevice", command_uuid: str = "cmd-1") -> str:
    return b64(plistlib.dumps({"Command": {"RequestType": request_type}, "CommandUUID": command_uuid}))


def post(client: FlaskClient, path: str, body: object) -> Any:
    return client.post(f"/api/v1/fleet{path}", data=json.dumps(body), headers=AUTH)


def error_reasons(response: Any) -> list[tuple[str, str]]:
    body = response.get_json()
    assert set(body) >= {"message", "errors", "uuid"}
    return [(e["name"], e["reason"]) for e in body["errors"]]


# -- shapes ----------------------------------------------------------------------------------------


@needs_fixtures
def test_host_has_every_documented_key(client: FlaskClient) -> None:
    documented = json.loads((FIXTURES / "get_host_response.json").read_bytes())["host"]
    host = client.get("/api/v1/fleet/hosts/1", headers=AUTH).get_json()["host"]
    assert set(host) == set(documented)
    assert set(host["policies"][0]) == set(documented["policies"][0])
    assert host["policies"] == [
        {
            "id": 10,
            "name": "Disk encrypted",
            "query": "SELECT 1;",
            "description": "",
            "resolution": "",
            "platform": "",
            "response": "fail",
            "critical": True,
        }
    ]
    assert (host["id"], host["uuid"], host["team_id"], host["display_name"]) == (1, "mac-1", 1, "Ann's Mac")


@needs_fixtures
def test_device_mapping_and_actions_have_documented_keys(client: FlaskClient) -> None:
    mapping = client.get("/api/v1/fleet/hosts/1/device_mapping", headers=AUTH).get_json()
    documented = json.loads((FIXTURES / "get_device_mapping_response.json").read_bytes())
    assert set(mapping) == set(documented)
    assert mapping["device_mapping"] == [{"email": "ann@acme.com", "source": "custom"}]

    command = post(client, "/commands/run", {"command": apple_command(), "host_uuids": ["mac-1"]})
    assert set(command.get_json()) == set(json.loads((FIXTURES / "run_mdm_command_response.json").read_bytes()))

    script = post(client, "/scripts/run", {"host_id": 1, "script_id": 5})
    assert script.status_code == 202
    assert set(script.get_json()) == set(json.loads((FIXTURES / "run_script_response.json").read_bytes()))

    result = client.get(f"/api/v1/fleet/scripts/results/{script.get_json()['execution_id']}", headers=AUTH)
    assert set(result.get_json()) == set(json.loads((FIXTURES / "get_script_result_response.json").read_bytes()))

    results = client.get("/api/v1/fleet/commands/results?command_uuid=cmd-1", headers=AUTH).get_json()["results"]
    listed = json.loads((FIXTURES / "list_commands_response.json").read_bytes())["results"][0]
    assert set(results[0]) >= set(listed)
    assert (results[0]["host_uuid"], results[0]["request_type"]) == ("mac-1", "RestartDevice")


def test_empty_device_mapping_is_null_like_fleet(client: FlaskClient) -> None:
    assert client.get("/api/v1/fleet/hosts/2/device_mapping", headers=AUTH).get_json() == {
        "host_id": 2,
        "device_mapping": None,
    }


def test_latest_is_the_same_api(client: FlaskClient) -> None:
    assert client.get("/api/latest/fleet/hosts/1", headers=AUTH).get_json()["host"]["uuid"] == "mac-1"


# -- auth ------------------------------------------------------------------------------------------


def test_missing_and_wrong_tokens_get_fleets_401s(client: FlaskClient) -> None:
    missing = client.get("/api/v1/fleet/hosts/1")
    assert missing.status_code == 401
    assert missing.get_json()["message"] == "Authorization header required"
    wrong = client.get("/api/v1/fleet/hosts/1", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert error_reasons(wrong) == [("base", "Authentication required")]
    basic = client.get("/api/v1/fleet/hosts/1", headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401


def test_admin_api_refuses_non_loopback_clients(client: FlaskClient) -> None:
    assert client.get("/_admin/state", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 403
    assert client.get("/_admin/state").status_code == 200


# -- hosts -----------------------------------------------------------------------------------------


def test_unknown_host_is_fleets_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/fleet/hosts/99", headers=AUTH)
    assert response.status_code == 404
    assert error_reasons(response) == [("base", "Host 99 was not found in the datastore")]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("policy_response=failing", "Missing policy_id (it must be present when policy_response is specified)"),
        (
            "policy_id=10&policy_response=broken",
            "Invalid policy_response: broken (Valid options are 'passing' or 'failing')",
        ),
        ("policy_id=x", "Invalid policy_id: x"),
        ("page=-1", "negative page value"),
    ],
)
def test_list_hosts_refuses_bad_filters(client: FlaskClient, query: str, reason: str) -> None:
    response = client.get(f"/api/v1/fleet/hosts?{query}", headers=AUTH)
    assert response.status_code == 400
    assert error_reasons(response) == [("base", reason)]


def test_list_hosts_filters_by_policy_response_and_team(client: FlaskClient) -> None:
    def ids(query: str) -> list[int]:
        return [h["id"] for h in client.get(f"/api/v1/fleet/hosts?{query}", headers=AUTH).get_json()["hosts"]]

    assert ids("policy_id=10&policy_response=failing") == [1]
    assert ids("policy_id=10&policy_response=passing") == [2]
    assert ids("team_id=0") == [3]
    assert ids("team_id=1&page=1&per_page=1") == [2]


# -- MDM commands ----------------------------------------------------------------------------------


@needs_fixtures
def test_documented_apple_and_windows_payloads_are_accepted(client: FlaskClient) -> None:
    apple = post(
        client,
        "/commands/run",
        {"command": b64((FIXTURES / "restart_device_command.plist").read_bytes()), "host_uuids": ["mac-1"]},
    )
    assert apple.status_code == 200
    assert apple.get_json() == {"command_uuid": "0001_RestartDevice", "request_type": "RestartDevice"}
    windows = post(
        client,
        "/commands/run",
        {"command": b64((FIXTURES / "windows_reboot_command.xml").read_bytes()), "host_uuids": ["win-2"]},
    )
    assert windows.status_code == 200
    assert windows.get_json()["request_type"] == "./Device/Vendor/MSFT/Reboot/RebootNow"


def test_unpadded_base64_is_accepted_like_fleet(client: FlaskClient) -> None:
    command = apple_command(command_uuid="unpadded-xx").rstrip("=")
    assert post(client, "/commands/run", {"command": command, "host_uuids": ["mac-1"]}).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (
            {"command": apple_command(), "host_uuids": ["nope"]},
            404,
            ("host_uuids", "No hosts targeted. Make sure you provide a valid UUID."),
        ),
        (
            {"command": apple_command(), "host_uuids": []},
            404,
            ("host_uuids", "No hosts targeted. Make sure you provide a valid UUID."),
        ),
        (
            {"command": apple_command(), "host_uuids": ["mac-1", "nope"]},
            400,
            ("device_ids", "at least one of the hosts is not enrolled in MDM or is not an elegible device"),
        ),
        (
            {"command": apple_command(), "host_uuids": ["mac-1", "win-2"]},
            422,
            ("host_uuids", "All hosts must be on the same platform."),
        ),
        (
            {"command": apple_command(), "host_uuids": ["linux-3"]},
            422,
            ("host_uuids", "Invalid platform. You can only run MDM commands on Windows or Apple hosts."),
        ),
        (
            {"command": apple_command(), "host_uuids": ["mac-4"]},
            412,
            ("host_uuids", "Can't run the MDM command because one or more hosts have MDM turned off."),
        ),
        ({"command": "!!not base64!!", "host_uuids": ["mac-1"]}, 400, ("command", "unable to decode base64 command")),
        (
            {"command": b64(b"<plist>broken"), "host_uuids": ["mac-1"]},
            415,
            ("command", "unable to decode plist command"),
        ),
        (
            {"command": b64(plistlib.dumps({"Command": {"RequestType": "X"}})), "host_uuids": ["mac-1"]},
            415,
            ("command", "unable to decode plist command"),
        ),
        (
            {"command": b64(b"<Get><Item/></Get>"), "host_uuids": ["win-2"]},
            422,
            ("command", "You can run only <Exec> command type."),
        ),
        (
            {"command": b64(b"<Exec><Item/><Item/></Exec>"), "host_uuids": ["win-2"]},
            422,
            ("command", "You can run only a single <Exec> command."),
        ),
    ],
)
def test_bad_commands_are_refused_like_fleet(
    client: FlaskClient, body: dict[str, Any], status: int, reason: tuple[str, str]
) -> None:
    response = post(client, "/commands/run", body)
    assert response.status_code == status
    assert error_reasons(response) == [reason]


def test_a_command_uuid_cannot_be_queued_twice(client: FlaskClient) -> None:
    body = {"command": apple_command(command_uuid="same"), "host_uuids": ["mac-1"]}
    assert post(client, "/commands/run", body).status_code == 200
    assert post(client, "/commands/run", body).status_code == 409


def test_malformed_json_is_a_400(client: FlaskClient) -> None:
    response = client.post("/api/v1/fleet/commands/run", data="{not json", headers=AUTH)
    assert response.status_code == 400
    assert response.get_json()["message"] == "Bad request"


# -- scripts and software --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"host_id": 1}, 422, ("script", "One of 'script_id', 'script_contents', or 'script_name' is required.")),
        (
            {"host_id": 1, "script_id": 5, "team_id": 1},
            422,
            ("script_id", "Only one of 'script_id' or 'team_id' is allowed."),
        ),
        (
            {"host_id": 1, "script_id": 5, "script_name": "fix.sh"},
            422,
            ("script_id", "Only one of 'script_id' or 'script_name' is allowed."),
        ),
        (
            {"host_id": 1, "script_name": "nope.sh", "team_id": 1},
            422,
            ("script_name", "Script 'nope.sh' doesn’t exist."),
        ),
        ({"host_id": 99, "script_id": 5}, 404, ("base", "Host 99 was not found in the datastore")),
        ({"host_id": 1, "script_id": 77}, 404, ("script_id", 'No script exists for the provided "script_id".')),
        (
            {"host_id": 1, "script_id": 6},
            422,
            ("script_id", 'The script does not belong to the same fleet (or "Unassigned") as the host.'),
        ),
        (
            {"host_id": "1", "script_id": 5},
            400,
            ("base", "json: cannot unmarshal str into Go struct field .host_id of type uint"),
        ),
    ],
)
def test_bad_script_runs_are_refused_like_fleet(
    client: FlaskClient, body: dict[str, Any], status: int, reason: tuple[str, str]
) -> None:
    response = post(client, "/scripts/run", body)
    assert response.status_code == status
    assert error_reasons(response) == [reason]


def test_script_by_name_uses_the_team(client: FlaskClient) -> None:
    response = post(client, "/scripts/run", {"host_id": 1, "script_name": "fix.sh", "team_id": 1})
    assert response.status_code == 202
    no_team = post(client, "/scripts/run", {"host_id": 3, "script_name": "fix.sh"})
    assert no_team.status_code == 202


def test_software_install(client: FlaskClient) -> None:
    assert post(client, "/hosts/4/software/8/install", None).status_code == 202
    assert post(client, "/hosts/4/software/8/install", None).get_json() == {}
    assert post(client, "/hosts/4/software/99/install", None).status_code == 404
    unavailable = post(client, "/hosts/1/software/8/install", None)
    assert unavailable.status_code == 400
    assert "not available for install" in error_reasons(unavailable)[0][1]


def test_unknown_route_and_method_answer_json(client: FlaskClient) -> None:
    assert client.get("/api/v1/fleet/nothing", headers=AUTH).get_json()["message"] == "Not Found"
    assert client.delete("/api/v1/fleet/hosts/1/refetch", headers=AUTH).status_code == 405


# -- seed ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "problem"),
    [
        ({"hosts": [{"id": 1, "uuid": "a"}, {"id": 1, "uuid": "b"}]}, "duplicate host id: 1"),
        ({"hosts": [{"id": 1, "uuid": "a", "policies": {"3": "maybe"}}]}, "hosts.0.policies.3"),
        ({"hosts": [{"id": 1, "uuid": "a", "colour": "red"}]}, "hosts.0.colour"),
    ],
)
def test_bad_seeds_are_refused_with_the_place_named(seed: dict[str, Any], problem: str) -> None:
    with pytest.raises(SeedError, match=problem):
        parse_seed(seed)
