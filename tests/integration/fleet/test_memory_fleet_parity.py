"""The memory Fleet must answer like FleetHttpClient on the Fleet stand-in, for everything the product asks.

The same script runs on both, from the stand-in's own seed; the unit tests rely on the double being faithful.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from maintenance_windows.adapters.fleet_http import FleetHttpClient
from maintenance_windows.adapters.memory_fleet import MemoryFleet
from maintenance_windows.domain import mdm_commands
from maintenance_windows.domain.fleet_hosts import FleetHost, HostPolicy
from maintenance_windows.ports.fleet import DeviceEmail, FleetError, FleetPolicy, FleetPort, PolicyCatalog
from tests.integration.fleet.conftest import DISK_POLICY, SEED


def _outcome(call: Callable[[], Any]) -> Any:
    """What a call answered, or the class and status of what it raised."""
    try:
        return call()
    except FleetError as error:
        return (type(error).__name__, error.status)


def _host(host: FleetHost) -> tuple[Any, ...]:
    return (
        host.host_id,
        host.uuid,
        host.hardware_serial,
        host.platform,
        host.team_id,
        host.display_name,
        sorted((p.policy_id, p.name, p.response) for p in host.policies),
    )


def _restart(command_uuid: str) -> str:
    return mdm_commands.encode(mdm_commands.apple_command("RestartDevice", command_uuid))


def _script(fleet: FleetPort) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    seen["host"] = _host(fleet.get_host(3))
    seen["passing_host"] = _host(fleet.get_host(9))
    seen["unknown_host"] = _outcome(lambda: fleet.get_host(404))
    seen["mapping"] = sorted((e.email, e.source) for e in fleet.device_mapping(4))
    seen["unknown_mapping"] = _outcome(lambda: fleet.device_mapping(404))
    seen["failing"] = sorted(fleet.failing_host_ids(DISK_POLICY))
    seen["failing_team_2"] = sorted(fleet.failing_host_ids(DISK_POLICY, team_id=2))
    seen["failing_unknown_policy"] = sorted(fleet.failing_host_ids(999))
    command = fleet.run_mdm_command(_restart("c-parity"), ["uuid-6"])
    seen["command"] = (command.kind, command.reference)
    seen["command_again"] = _outcome(lambda: fleet.run_mdm_command(_restart("c-parity"), ["uuid-6"]))
    seen["command_no_host"] = _outcome(lambda: fleet.run_mdm_command(_restart("c-nobody"), ["uuid-404"]))
    windows = mdm_commands.encode(mdm_commands.windows_exec("./Device/Vendor/MSFT/Reboot/RebootNow", "w-1"))
    seen["windows_command_on_a_mac"] = _outcome(lambda: fleet.run_mdm_command(windows, ["uuid-6"]))
    script = fleet.run_script(6, script_id=5)
    seen["script"] = (script.kind, isinstance(script.reference, str) and len(script.reference) > 0)
    # The same script by name, while it is still pending on the host: Fleet's "already queued".
    seen["script_by_name_again"] = _outcome(lambda: fleet.run_script(6, script_name="encrypt.sh", team_id=1))
    by_name = fleet.run_script(7, script_name="encrypt.sh", team_id=1)
    seen["script_by_name"] = (by_name.kind, by_name.reference != script.reference)
    seen["script_unknown_name"] = _outcome(lambda: fleet.run_script(7, script_name="nope.sh", team_id=1))
    seen["script_unknown_id"] = _outcome(lambda: fleet.run_script(7, script_id=99))
    seen["script_unknown_host"] = _outcome(lambda: fleet.run_script(404, script_id=5))
    install = fleet.install_software(6, 8)
    seen["install"] = (install.kind, install.reference)
    seen["install_pending"] = _outcome(lambda: fleet.install_software(6, 8))
    seen["install_not_offered"] = _outcome(lambda: fleet.install_software(6, 99))
    seen["install_unknown_host"] = _outcome(lambda: fleet.install_software(404, 8))
    before = fleet.get_host(6)
    seen["refetch"] = _outcome(lambda: fleet.refetch(6))
    after = fleet.get_host(6)
    # A refetch only flags the host: Fleet's results stay those of its last run until it checks in.
    seen["refetch_flags"] = (
        before.refetch_requested,
        after.refetch_requested,
        _host(after) == _host(before),
        after.policy_updated_at == before.policy_updated_at,
    )
    seen["refetch_unknown_host"] = _outcome(lambda: fleet.refetch(404))
    seen["webhook_bad_url"] = _outcome(lambda: fleet.post_calendar_webhook("ftp://example.com/hook", {}))
    return seen


def _memory() -> MemoryFleet:
    names = {policy["id"]: policy["name"] for policy in SEED["policies"]}
    fleet = MemoryFleet()
    for seeded_script in SEED["scripts"]:
        fleet.add_script(seeded_script["id"], seeded_script["name"], seeded_script["team_id"])
    for title in SEED["software_titles"]:
        fleet.add_software_title(title["id"], title["name"])
    for seeded in SEED["hosts"]:
        policies = tuple(HostPolicy(int(p), names[int(p)], r) for p, r in seeded["policies"].items())
        host = FleetHost(
            seeded["id"],
            seeded["uuid"],
            seeded["hardware_serial"],
            seeded["platform"],
            seeded["team_id"],
            seeded["display_name"],
            policies,
            policy_updated_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        fleet.add_host(host, [DeviceEmail(e["email"], e["source"]) for e in seeded["emails"]])
    return fleet


def test_the_memory_fleet_answers_like_the_client_on_the_stand_in(client: FleetHttpClient) -> None:
    on_stand_in, in_memory = _script(client), _script(_memory())
    for key in on_stand_in:
        assert in_memory[key] == on_stand_in[key], key
    assert on_stand_in["command_again"] == ("FleetError", 409)
    assert on_stand_in["unknown_host"][1] == 404
    assert on_stand_in["script_by_name_again"] == ("FleetError", 409)
    assert on_stand_in["install_pending"] == on_stand_in["install_not_offered"] == ("FleetError", 400)


def test_a_queued_fault_fails_the_next_call_only_and_does_nothing() -> None:
    fleet = _memory()
    fleet.fail_next("run_mdm_command", FleetError("refused", status=422))
    assert _outcome(lambda: fleet.run_mdm_command(_restart("c-fault"), ["uuid-3"])) == ("FleetError", 422)
    assert fleet.actions == []
    assert fleet.run_mdm_command(_restart("c-fault"), ["uuid-3"]).reference == "c-fault"
    assert [action.host_ids for action in fleet.actions] == [(3,)]


def _policy(policy: FleetPolicy) -> tuple[Any, ...]:
    return (policy.policy_id, policy.name, policy.team_id, policy.description, policy.resolution, policy.critical)


def _policy_script(fleet: PolicyCatalog) -> dict[str, Any]:
    return {
        "global": _outcome(lambda: _policy(fleet.get_policy(DISK_POLICY))),
        "as_a_team_policy": _outcome(lambda: fleet.get_policy(DISK_POLICY, team_id=1)),
        "unknown": _outcome(lambda: fleet.get_policy(999)),
        "global_list": [_policy(p) for p in fleet.list_policies()],
        "team_list": [_policy(p) for p in fleet.list_policies(team_id=1)],
    }


def test_the_memory_fleet_serves_policies_like_the_stand_in(client: FleetHttpClient) -> None:
    memory = _memory()
    for seeded in SEED["policies"]:
        memory.add_policy(
            FleetPolicy(
                seeded["id"],
                seeded["name"],
                seeded.get("team_id"),
                description=seeded.get("description", ""),
                resolution=seeded.get("resolution", ""),
                critical=bool(seeded.get("critical")),
            )
        )
    on_stand_in, in_memory = _policy_script(client), _policy_script(memory)
    assert in_memory == on_stand_in
    assert on_stand_in["as_a_team_policy"] == ("FleetNotFound", 404)  # a global policy is no team's own
