"""The stand-in Fleet answers in Fleet's shapes and refuses what Fleet refuses (in-process WSGI client)."""

from __future__ import annotations

import base64
import io
import json
import plistlib
from typing import Any

import pytest

from infra.fleet_server import create_app, parse_seed
from infra.fleet_server.clock import ManualClock
from infra.fleet_server.seed import SeedError
from tests.support import FLEET_FIXTURES
from tests.support.wsgi import LoopbackClient

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
            "labels": ["Executives"],
        },
        {"id": 2, "uuid": "win-2", "platform": "windows", "team_id": 1, "policies": {"10": "pass"}},
        {"id": 3, "uuid": "linux-3", "platform": "ubuntu", "team_id": None},
        {"id": 4, "uuid": "mac-4", "platform": "darwin", "team_id": 2, "mdm_enrolled": False},
    ],
    "policies": [{"id": 10, "name": "Disk encrypted", "team_id": 1, "critical": True}],
    "scripts": [{"id": 5, "name": "fix.sh", "team_id": 1}, {"id": 6, "name": "fix.sh", "team_id": None}],
    "software_titles": [{"id": 8, "name": "Firefox.app", "team_ids": [2]}],
}


CHECK_IN = 5.0  # the seed's default check-in interval


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def client(clock: ManualClock) -> LoopbackClient:
    return LoopbackClient(create_app(SEED, token=TOKEN, clock=clock))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def apple_command(request_type: str = "RestartDevice", command_uuid: str = "cmd-1") -> str:
    return b64(plistlib.dumps({"Command": {"RequestType": request_type}, "CommandUUID": command_uuid}))


def post(client: LoopbackClient, path: str, body: object) -> Any:
    return client.post(f"/api/v1/fleet{path}", data=json.dumps(body), headers=AUTH)


def error_reasons(response: Any) -> list[tuple[str, str]]:
    body = response.get_json()
    assert set(body) >= {"message", "errors", "uuid"}
    return [(e["name"], e["reason"]) for e in body["errors"]]


# -- shapes ----------------------------------------------------------------------------------------


@needs_fixtures
def test_host_has_every_documented_key(client: LoopbackClient) -> None:
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
    assert [label["name"] for label in host["labels"]] == ["All Hosts", "Executives"]
    assert all(set(label) == set(documented["labels"][0]) for label in host["labels"])
    assert "labels" not in client.get("/api/v1/fleet/hosts", headers=AUTH).get_json()["hosts"][0]


@needs_fixtures
def test_device_mapping_and_actions_have_documented_keys(client: LoopbackClient, clock: ManualClock) -> None:
    mapping = client.get("/api/v1/fleet/hosts/1/device_mapping", headers=AUTH).get_json()
    documented = json.loads((FIXTURES / "get_device_mapping_response.json").read_bytes())
    assert set(mapping) == set(documented)
    assert mapping["device_mapping"] == [{"email": "ann@acme.com", "source": "custom"}]

    command = post(client, "/commands/run", {"command": apple_command(), "host_uuids": ["mac-1"]})
    # CommandEnqueueResult (server/fleet/apple_mdm.go) also carries "platform", which the docs leave out.
    assert set(command.get_json()) == set(json.loads((FIXTURES / "run_mdm_command_response.json").read_bytes())) | {
        "platform"
    }

    script = post(client, "/scripts/run", {"host_id": 1, "script_id": 5})
    assert script.status_code == 202
    assert set(script.get_json()) == set(json.loads((FIXTURES / "run_script_response.json").read_bytes()))

    result = client.get(f"/api/v1/fleet/scripts/results/{script.get_json()['execution_id']}", headers=AUTH)
    assert set(result.get_json()) == set(json.loads((FIXTURES / "get_script_result_response.json").read_bytes()))

    clock.advance(CHECK_IN)  # the host checks in and answers the command
    results = client.get("/api/v1/fleet/commands/results?command_uuid=cmd-1", headers=AUTH).get_json()["results"]
    listed = json.loads((FIXTURES / "list_commands_response.json").read_bytes())["results"][0]
    assert set(results[0]) >= set(listed)
    assert (results[0]["host_uuid"], results[0]["request_type"]) == ("mac-1", "RestartDevice")


def test_empty_device_mapping_is_null_like_fleet(client: LoopbackClient) -> None:
    assert client.get("/api/v1/fleet/hosts/2/device_mapping", headers=AUTH).get_json() == {
        "host_id": 2,
        "device_mapping": None,
    }


def test_latest_is_the_same_api(client: LoopbackClient) -> None:
    assert client.get("/api/latest/fleet/hosts/1", headers=AUTH).get_json()["host"]["uuid"] == "mac-1"


# -- auth ------------------------------------------------------------------------------------------


def test_missing_and_wrong_tokens_get_fleets_401s(client: LoopbackClient) -> None:
    missing = client.get("/api/v1/fleet/hosts/1")
    assert missing.status_code == 401
    assert missing.get_json()["message"] == "Authorization header required"
    wrong = client.get("/api/v1/fleet/hosts/1", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert error_reasons(wrong) == [("base", "Authentication required")]
    basic = client.get("/api/v1/fleet/hosts/1", headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401


def test_admin_api_refuses_non_loopback_clients(client: LoopbackClient) -> None:
    assert client.get("/_admin/state", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 403
    assert client.get("/_admin/state").status_code == 200


# -- hosts -----------------------------------------------------------------------------------------


def test_unknown_host_is_fleets_404(client: LoopbackClient) -> None:
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
def test_list_hosts_refuses_bad_filters(client: LoopbackClient, query: str, reason: str) -> None:
    response = client.get(f"/api/v1/fleet/hosts?{query}", headers=AUTH)
    assert response.status_code == 400
    assert error_reasons(response) == [("base", reason)]


def test_list_hosts_filters_by_policy_response_and_team(client: LoopbackClient) -> None:
    def ids(query: str) -> list[int]:
        return [h["id"] for h in client.get(f"/api/v1/fleet/hosts?{query}", headers=AUTH).get_json()["hosts"]]

    assert ids("policy_id=10&policy_response=failing") == [1]
    assert ids("policy_id=10&policy_response=passing") == [2]
    assert ids("team_id=0") == [3]
    assert ids("team_id=1&page=1&per_page=1") == [2]


# -- MDM commands ----------------------------------------------------------------------------------


@needs_fixtures
def test_documented_apple_and_windows_payloads_are_accepted(client: LoopbackClient) -> None:
    apple = post(
        client,
        "/commands/run",
        {"command": b64((FIXTURES / "restart_device_command.plist").read_bytes()), "host_uuids": ["mac-1"]},
    )
    assert apple.status_code == 200
    assert apple.get_json() == {
        "command_uuid": "0001_RestartDevice",
        "request_type": "RestartDevice",
        "platform": "darwin",
    }
    windows = post(
        client,
        "/commands/run",
        {"command": b64((FIXTURES / "windows_reboot_command.xml").read_bytes()), "host_uuids": ["win-2"]},
    )
    assert windows.status_code == 200
    assert windows.get_json()["request_type"] == "./Device/Vendor/MSFT/Reboot/RebootNow"


def test_unpadded_base64_is_accepted_like_fleet(client: LoopbackClient) -> None:
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
            (
                "host_uuids",
                "Can't run the MDM command because one or more hosts have MDM turned off. "
                "Run the following command to see a list of hosts with MDM on: fleetctl get hosts --mdm.",
            ),
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
    client: LoopbackClient, body: dict[str, Any], status: int, reason: tuple[str, str]
) -> None:
    response = post(client, "/commands/run", body)
    assert response.status_code == status
    assert error_reasons(response) == [reason]


def test_a_command_uuid_cannot_be_queued_twice(client: LoopbackClient) -> None:
    body = {"command": apple_command(command_uuid="same"), "host_uuids": ["mac-1"]}
    assert post(client, "/commands/run", body).status_code == 200
    assert post(client, "/commands/run", body).status_code == 409


def test_malformed_json_is_a_400(client: LoopbackClient) -> None:
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
    client: LoopbackClient, body: dict[str, Any], status: int, reason: tuple[str, str]
) -> None:
    response = post(client, "/scripts/run", body)
    assert response.status_code == status
    assert error_reasons(response) == [reason]


def test_script_by_name_uses_the_team(client: LoopbackClient) -> None:
    response = post(client, "/scripts/run", {"host_id": 1, "script_name": "fix.sh", "team_id": 1})
    assert response.status_code == 202
    no_team = post(client, "/scripts/run", {"host_id": 3, "script_name": "fix.sh"})
    assert no_team.status_code == 202


def test_software_install_is_accepted_once_while_pending(client: LoopbackClient, clock: ManualClock) -> None:
    first = client.post("/api/v1/fleet/hosts/4/software/8/install", headers=AUTH)
    assert (first.status_code, first.get_json()) == (202, {})
    again = client.post("/api/v1/fleet/hosts/4/software/8/install", headers=AUTH)
    assert again.status_code == 400
    assert error_reasons(again) == [
        ("base", "Couldn't install. Host already has a pending install/uninstall for this installer.")
    ]
    clock.advance(CHECK_IN)  # installed at the check-in: a new install may be asked for
    assert client.post("/api/v1/fleet/hosts/4/software/8/install", headers=AUTH).status_code == 202


@pytest.mark.parametrize("path", ["/hosts/4/software/99/install", "/hosts/1/software/8/install"])
def test_software_not_offered_to_the_host_is_a_400(client: LoopbackClient, path: str) -> None:
    # Unknown title or one without an installer for the host's team: Fleet looks for both, finds neither.
    response = client.post(f"/api/v1/fleet{path}", headers=AUTH)
    assert response.status_code == 400
    assert error_reasons(response) == [
        (
            "base",
            "Couldn't install software. Software title is not available for install. "
            "Please add software package or App Store app to install.",
        )
    ]


def test_unknown_route_and_method_answer_json(client: LoopbackClient) -> None:
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


# -- refusals for resends, licences and hosts that cannot run an action ------------------------------------

HOSTS_SEED: dict[str, Any] = {
    "teams": [{"id": 1, "name": "Engineering"}],
    "hosts": [
        {"id": 1, "uuid": "mac-1", "platform": "darwin", "team_id": 1},
        {"id": 2, "uuid": "mac-2", "platform": "darwin", "team_id": 1, "fleetd": False},
        {"id": 3, "uuid": "mac-3", "platform": "darwin", "team_id": 1, "scripts_enabled": False},
        {"id": 4, "uuid": "ipad-4", "platform": "ipados", "team_id": 1},
        {"id": 5, "uuid": "mac-5", "platform": "darwin", "team_id": None, "push_fails": True},
        {"id": 6, "uuid": "mac-6", "platform": "darwin", "team_id": None},
    ],
    "scripts": [{"id": 5, "name": "fix.sh", "team_id": 1}, {"id": 6, "name": "fix.sh", "team_id": None}],
    "software_titles": [{"id": 8, "name": "Firefox.app"}],
}


def app_client(seed: dict[str, Any], *, license: str = "premium") -> LoopbackClient:
    settings = {**seed.get("settings", {}), "license": license}
    return LoopbackClient(create_app({**seed, "settings": settings}, token=TOKEN, clock=ManualClock()))


def test_a_script_still_queued_cannot_be_queued_again() -> None:
    client = app_client(HOSTS_SEED)
    assert post(client, "/scripts/run", {"host_id": 1, "script_id": 5}).status_code == 202
    again = post(client, "/scripts/run", {"host_id": 1, "script_name": "fix.sh", "team_id": 1})
    assert again.status_code == 409
    assert again.get_json()["message"] == "Validation Failed"
    assert error_reasons(again) == [("script_id", "The script is already queued on the given host.")]


@pytest.mark.parametrize(
    ("host_id", "reason"),
    [
        (2, "Scripts are disabled for this host. To run scripts, deploy the fleetd agent with scripts enabled."),
        (3, "Couldn't run script. To run a script, deploy the fleetd agent with --enable-scripts."),
        (4, "Scripts are disabled for this host. To run scripts, deploy the fleetd agent with scripts enabled."),
    ],
)
def test_scripts_need_fleetd_with_scripts_enabled(host_id: int, reason: str) -> None:
    response = post(app_client(HOSTS_SEED), "/scripts/run", {"host_id": host_id, "script_id": 5})
    assert response.status_code == 422
    assert response.get_json()["message"] == "Unprocessable Entity"  # a UserMessageError: the status text
    assert error_reasons(response) == [("base", reason)]


def test_software_needs_fleetd_except_on_iphones_and_ipads() -> None:
    client = app_client(HOSTS_SEED)
    refused = client.post("/api/v1/fleet/hosts/2/software/8/install", headers=AUTH)
    assert refused.status_code == 422
    assert error_reasons(refused) == [("base", "Host doesn't have fleetd installed")]
    assert client.post("/api/v1/fleet/hosts/4/software/8/install", headers=AUTH).status_code == 202


def test_scripts_disabled_in_the_organization_answer_403() -> None:
    client = app_client({**HOSTS_SEED, "settings": {"scripts_disabled": True}})
    response = post(client, "/scripts/run", {"host_id": 6, "script_id": 6})
    assert response.status_code == 403
    assert error_reasons(response) == [("base", "Running scripts is disabled in organization settings.")]


def lock_command() -> str:
    return apple_command("DeviceLock", "lock-1")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/scripts/run", {"host_id": 1, "script_name": "fix.sh", "team_id": 1}),
        ("POST", "/hosts/6/software/8/install", None),
        ("POST", "/commands/run", {"command": apple_command("DeviceLock", "lock-1"), "host_uuids": ["mac-6"]}),
        ("POST", "/commands/run", {"command": apple_command("EraseDevice", "wipe-1"), "host_uuids": ["mac-6"]}),
        ("GET", "/teams/1", None),
        ("PATCH", "/teams/1", {"mdm": {"macos_updates": {"minimum_version": "26.1", "deadline": "2026-04-01"}}}),
        ("GET", "/software/titles?team_id=1", None),
    ],
)
def test_fleet_free_answers_402_to_premium_features(method: str, path: str, body: object) -> None:
    client = app_client(HOSTS_SEED, license="free")
    data = None if body is None else json.dumps(body)
    response = client.open(f"/api/v1/fleet{path}", method=method, data=data, headers=AUTH)
    assert response.status_code == 402
    assert response.get_json()["message"] == "Requires Fleet Premium license"
    assert error_reasons(response) == [("base", "Requires Fleet Premium license")]


def test_fleet_free_still_runs_scripts_by_id_and_plain_commands() -> None:
    client = app_client(HOSTS_SEED, license="free")
    assert post(client, "/scripts/run", {"host_id": 6, "script_id": 6}).status_code == 202
    restart = {"command": apple_command("RestartDevice", "r-1"), "host_uuids": ["mac-6"]}
    assert post(client, "/commands/run", restart).status_code == 200


@pytest.mark.parametrize("path", ["/scripts/run", "/commands/run", "/teams/1"])
def test_a_missing_body_is_expected_json_body(path: str) -> None:
    client = app_client(HOSTS_SEED)
    response = client.open(f"/api/v1/fleet{path}", method="PATCH" if "teams" in path else "POST", headers=AUTH)
    assert response.status_code == 400
    assert error_reasons(response) == [("base", "Expected JSON Body")]


def test_a_failed_push_is_a_502_after_the_command_was_queued() -> None:
    client = app_client(HOSTS_SEED)
    body = {"command": apple_command("RestartDevice", "pushed-1"), "host_uuids": ["mac-5"]}
    failed = post(client, "/commands/run", body)
    assert failed.status_code == 502
    assert failed.get_json()["message"].startswith("Apple push notificiation service: ")  # sic, Fleet's spelling
    again = post(client, "/commands/run", body)  # the command was queued before the push failed
    assert again.status_code == 409


def test_a_push_failing_for_some_hosts_lists_them() -> None:
    client = app_client(HOSTS_SEED)
    body = {"command": apple_command("RestartDevice", "pushed-2"), "host_uuids": ["mac-5", "mac-6"]}
    response = post(client, "/commands/run", body)
    assert response.status_code == 200
    assert response.get_json()["failed_uuids"] == ["mac-5"]


def test_ipad_refetch_needs_mdm() -> None:
    seed = {"hosts": [{"id": 1, "uuid": "ipad", "platform": "ipados", "mdm_enrolled": False}]}
    response = app_client(seed).post("/api/v1/fleet/hosts/1/refetch", headers=AUTH)
    assert response.status_code == 422
    assert error_reasons(response) == [("id", "Host does not have MDM turned on.")]


# -- custom declarations ----------------------------------------------------------------------------------


def upload(client: LoopbackClient, name: str, content: bytes, team_id: int = 1) -> Any:
    data = {"profile": (io.BytesIO(content), name), "team_id": str(team_id)}
    return client.post(
        "/api/v1/fleet/configuration_profiles", data=data, headers=AUTH, content_type="multipart/form-data"
    )


def test_declarations_cannot_carry_os_update_settings() -> None:
    declaration = {
        "Type": "com.apple.configuration.softwareupdate.enforcement.specific",
        "Identifier": "x",
        "Payload": {"TargetOSVersion": "26.1", "TargetLocalDateTime": "2026-04-01T12:00:00"},
    }
    response = upload(app_client(HOSTS_SEED), "updates.json", json.dumps(declaration).encode())
    assert response.status_code == 422
    assert error_reasons(response) == [
        (
            "com.apple.configuration.softwareupdate.enforcement.specific",
            "Declaration profile can’t include OS updates settings. To control these settings, go to OS updates.",
        )
    ]


def test_other_declarations_and_profiles_are_accepted() -> None:
    client = app_client(HOSTS_SEED)
    passcode = {"Type": "com.apple.configuration.passcode.settings", "Identifier": "p", "Payload": {}}
    accepted = upload(client, "passcode.json", json.dumps(passcode).encode())
    assert accepted.status_code == 200
    assert accepted.get_json()["profile_uuid"].startswith("d")
    assert upload(client, "wifi.mobileconfig", b"<plist/>").get_json()["profile_uuid"].startswith("a")
    activation = upload(client, "act.json", json.dumps({"Type": "com.apple.activation.simple"}).encode())
    assert error_reasons(activation) == [
        ("com.apple.activation.simple", "Only configuration declarations (com.apple.configuration) are supported.")
    ]


# -- reads the product needs ------------------------------------------------------------------------------

READS_SEED: dict[str, Any] = {
    "teams": [
        {
            "id": 1,
            "name": "Engineering",
            "calendar_webhook_url": "https://flow.example/hook",
            "mdm": {"macos_updates": {"minimum_version": "15.4", "deadline": "2026-04-01"}},
        }
    ],
    "hosts": [
        {"id": 1, "uuid": "a", "team_id": 1, "policies": {"1": "fail", "2": "pass"}},
        {"id": 2, "uuid": "b", "team_id": 1, "policies": {"1": "pass", "2": "pass"}},
        {"id": 3, "uuid": "c", "team_id": None, "policies": {"1": "fail"}},
    ],
    "policies": [
        {"id": 1, "name": "Firewall on", "critical": True, "resolution": "Turn it on.", "platform": "darwin"},
        {"id": 2, "name": "Disk encrypted", "team_id": 1, "calendar_events_enabled": True},
    ],
    "scripts": [
        {"id": 7, "name": "b.sh", "team_id": 1},
        {"id": 8, "name": "a.sh", "team_id": 1},
        {"id": 9, "name": "global.sh"},
    ],
    "software_titles": [
        {"id": 20, "name": "Firefox.app", "team_ids": [1]},
        {"id": 21, "name": "Slack", "team_ids": [2], "kind": "app_store_app"},
    ],
}


def get(client: LoopbackClient, path: str) -> Any:
    response = client.get(f"/api/v1/fleet{path}", headers=AUTH)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@needs_fixtures
def test_policies_read_in_the_documented_shape() -> None:
    client = app_client(READS_SEED)
    documented = json.loads((FIXTURES / "get_team_policy_response.json").read_bytes())["policy"]
    team_policy = get(client, "/teams/1/policies/2")["policy"]
    assert set(team_policy) == set(documented) - {"install_software", "run_script"}
    assert (team_policy["name"], team_policy["team_id"], team_policy["calendar_events_enabled"]) == (
        "Disk encrypted",
        1,
        True,
    )
    (global_policy,) = get(client, "/global/policies")["policies"]
    assert (global_policy["id"], global_policy["critical"], global_policy["resolution"]) == (1, True, "Turn it on.")
    assert (global_policy["failing_host_count"], global_policy["passing_host_count"]) == (2, 1)
    listed = get(client, "/teams/1/policies")
    assert [p["id"] for p in listed["policies"]] == [2]
    assert [(p["id"], p["failing_host_count"]) for p in listed["inherited_policies"]] == [(1, 1)]
    assert get(client, "/global/policies/1")["policy"]["platform"] == "darwin"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/global/policies/2", "Policy 2 was not found in the datastore"),  # a team policy
        ("/teams/1/policies/1", "Policy 1 was not found in the datastore"),  # a global policy
        ("/teams/9/policies", "Team 9 was not found in the datastore"),
        ("/teams/9", "Team 9 was not found in the datastore"),
    ],
)
def test_reads_of_what_is_not_there_are_404(path: str, reason: str) -> None:
    response = app_client(READS_SEED).get(f"/api/v1/fleet{path}", headers=AUTH)
    assert response.status_code == 404
    assert error_reasons(response) == [("base", reason)]


def test_scripts_are_listed_per_team_by_name() -> None:
    client = app_client(READS_SEED)
    team = get(client, "/scripts?team_id=1")
    assert [(s["id"], s["name"], s["team_id"]) for s in team["scripts"]] == [(8, "a.sh", 1), (7, "b.sh", 1)]
    assert team["meta"] == {"has_next_results": False, "has_previous_results": False}
    assert [s["id"] for s in get(client, "/scripts")["scripts"]] == [9]
    assert get(client, "/scripts?team_id=1&per_page=1")["meta"]["has_next_results"] is True


def test_software_titles_available_for_install_are_those_offered_to_the_team() -> None:
    client = app_client(READS_SEED)
    body = get(client, "/software/titles?team_id=1&available_for_install=true")
    assert [t["id"] for t in body["software_titles"]] == [20]
    assert body["count"] == 1
    assert body["software_titles"][0]["software_package"]["version"] == "1.0"
    assert len(get(client, "/software/titles?team_id=1")["software_titles"]) == 2


@needs_fixtures
def test_team_shows_its_os_update_settings_like_the_docs() -> None:
    team = get(app_client(READS_SEED), "/teams/1")["team"]
    documented = json.loads((FIXTURES / "team_mdm_os_updates_excerpt.json").read_bytes())["mdm"]
    assert set(team["mdm"]) >= set(documented)
    assert team["mdm"]["macos_updates"] == {"minimum_version": "15.4", "deadline": "2026-04-01"}
    assert team["mdm"]["windows_updates"] == {"deadline_days": None, "grace_period_days": None}
    calendar = json.loads((FIXTURES / "team_integrations_google_calendar.json").read_bytes())["integrations"]
    assert set(team["integrations"]["google_calendar"]) == set(calendar["google_calendar"])
    assert team["integrations"]["google_calendar"]["webhook_url"] == "https://flow.example/hook"


def patch_team(client: LoopbackClient, body: object) -> Any:
    return client.patch("/api/v1/fleet/teams/1", data=json.dumps(body), headers=AUTH)


def test_os_update_settings_are_patched_like_fleet() -> None:
    client = app_client(READS_SEED)
    body = {
        "mdm": {
            "macos_updates": {"minimum_version": "26.1", "deadline": "2026-05-01"},
            "windows_updates": {"deadline_days": 5, "grace_period_days": 2},
        }
    }
    patched = patch_team(client, body)
    assert patched.status_code == 200
    assert patched.get_json()["team"]["mdm"]["macos_updates"] == {"minimum_version": "26.1", "deadline": "2026-05-01"}
    mdm = get(client, "/teams/1")["team"]["mdm"]
    assert mdm["windows_updates"] == {"deadline_days": 5, "grace_period_days": 2}
    ipados = {"mdm": {"ipados_updates": {"minimum_version": "18.4", "deadline": "2026-05-02"}}}
    assert patch_team(client, ipados).status_code == 200
    mdm = get(client, "/teams/1")["team"]["mdm"]
    assert mdm["macos_updates"]["minimum_version"] == "26.1"  # settings not sent are kept
    assert patch_team(client, {"mdm": {"macos_updates": {"minimum_version": "", "deadline": ""}}}).status_code == 200
    assert get(client, "/teams/1")["team"]["mdm"]["macos_updates"] == {"minimum_version": "", "deadline": ""}


@pytest.mark.parametrize(
    ("updates", "name", "reason"),
    [
        (
            {"macos_updates": {"minimum_version": "26.1"}},
            "macos_updates",
            "deadline is required when minimum_version is provided",
        ),
        (
            {"ios_updates": {"deadline": "2026-05-01"}},
            "ios_updates",
            "minimum_version is required when deadline is provided",
        ),
        (
            {"macos_updates": {"minimum_version": "Tahoe 26", "deadline": "2026-05-01"}},
            "macos_updates",
            'minimum_version accepts version numbers only. (E.g., "13.0.1.") NOT "Ventura 13" or "13.0.1 (22A400)"',
        ),
        (
            {"macos_updates": {"minimum_version": "26.1", "deadline": "05/01/2026"}},
            "macos_updates",
            'deadline accepts YYYY-MM-DD format only (E.g., "2023-06-01.")',
        ),
        (
            {"windows_updates": {"deadline_days": 5}},
            "windows_updates",
            "grace_period_days is required when deadline_days is provided",
        ),
        (
            {"windows_updates": {"deadline_days": 31, "grace_period_days": 1}},
            "windows_updates",
            "deadline_days must be an integer between 0 and 30",
        ),
        (
            {"windows_updates": {"deadline_days": 3, "grace_period_days": 8}},
            "windows_updates",
            "grace_period_days must be an integer between 0 and 7",
        ),
    ],
)
def test_bad_os_update_settings_are_refused_like_fleet(updates: dict[str, Any], name: str, reason: str) -> None:
    client = app_client(READS_SEED)
    response = patch_team(client, {"mdm": updates})
    assert response.status_code == 422
    assert error_reasons(response) == [(name, reason)]
    assert get(client, "/teams/1")["team"]["mdm"]["macos_updates"]["minimum_version"] == "15.4"  # nothing stored


@pytest.mark.parametrize(
    "body",
    [
        {"mdm": {"macos_updates": {"minimum_version": 26, "deadline": "2026-05-01"}}},
        {"mdm": {"macos_update": {"minimum_version": "26.1", "deadline": "2026-05-01"}}},
        {"mdm": {"windows_updates": {"deadline_days": "5", "grace_period_days": 1}}},
        {"colour": "red"},
    ],
)
def test_malformed_team_patches_are_400(body: dict[str, Any]) -> None:
    assert patch_team(app_client(READS_SEED), body).status_code == 400
