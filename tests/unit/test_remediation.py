"""Remediation configuration, matching, planning and the MDM payloads it builds."""

from __future__ import annotations

import base64
import os
import plistlib
import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from maintenance_windows.config.settings import ConfigurationError
from maintenance_windows.config.teams import parse_teams
from maintenance_windows.domain import mdm_commands
from maintenance_windows.domain.explanation import ActionBrief, PolicyBrief
from maintenance_windows.domain.fleet_hosts import FleetHost, HostPolicy
from maintenance_windows.domain.remediation import (
    PlannedAction,
    briefs_for,
    entry_for,
    plan_actions,
    platform_family,
)
from maintenance_windows.domain.rules import TeamRules
from maintenance_windows.domain.windows import Window, WindowState

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def rules(*entries: dict[str, Any]) -> TeamRules:
    return parse_teams({"defaults": {"actions": list(entries)}}).defaults


def host(
    host_id: int,
    platform: str = "darwin",
    failing: tuple[int, ...] = (),
    passing: tuple[int, ...] = (),
    names: dict[int, str] | None = None,
    team_id: int | None = 3,
) -> FleetHost:
    labels = names or {}
    policies = [HostPolicy(p, labels.get(p, f"policy {p}"), "fail") for p in failing]
    policies += [HostPolicy(p, labels.get(p, f"policy {p}"), "pass") for p in passing]
    return FleetHost(
        host_id, f"uuid-{host_id}", f"SERIAL{host_id}", platform, team_id, f"host {host_id}", tuple(policies)
    )


def window(policy_ids: tuple[int, ...] = (1,), host_ids: tuple[int, ...] = (1,), revision: int = 2) -> Window:
    return Window(
        window_id="user-0001",
        user_key="user",
        user_email="u@example.com",
        team_id=3,
        host_ids=host_ids,
        policy_ids=policy_ids,
        deadline=NOW + timedelta(days=7),
        created_at=NOW,
        state=WindowState.SCHEDULED,
        revision=revision,
        start=NOW,
        end=NOW + timedelta(minutes=30),
    )


RESTART = {"type": "mdm_command", "apple_request_type": "RestartDevice"}
REBOOT_WINDOWS = {"type": "mdm_command", "windows_exec_loc_uri": "./Device/Vendor/MSFT/Reboot/RebootNow"}
SCRIPT = {"type": "script", "script_name": "Enable firewall"}


# -- configuration -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "path", "problem"),
    [
        ({"actions": [RESTART]}, "teams.7.actions.0", "exactly one of policy_id and policy_name_pattern"),
        ({"policy_id": 1, "actions": []}, "teams.7.actions.0.actions", "at least 1 item"),
        ({"policy_id": 1, "actions": [{"type": "reboot"}]}, "teams.7.actions.0.actions.0", "does not match"),
        ({"policy_id": 1, "actions": [{"type": "script"}]}, "teams.7.actions.0.actions.0.script", "exactly one"),
        (
            {
                "policy_id": 1,
                "actions": [
                    {"type": "mdm_command", "apple_request_type": "RestartDevice", "windows_exec_loc_uri": "./Device/X"}
                ],
            },
            "teams.7.actions.0.actions.0.mdm_command",
            "exactly one of apple_request_type",
        ),
        (
            {"policy_id": 1, "actions": [{"type": "mdm_command", "raw_plist_base64": "bm90IGEgcGxpc3Q="}]},
            "teams.7.actions.0.actions.0.mdm_command",
            "not a valid plist",
        ),
        (
            {"policy_id": 1, "actions": [{"type": "os_update", "max_user_deferrals": 3}]},
            "teams.7.actions.0.actions.0.os_update",
            "InstallLater only",
        ),
        (
            {"policy_id": 1, "actions": [{"type": "software_install"}]},
            "teams.7.actions.0.actions.0.software_install.software_title_id",
            "Field required",
        ),
    ],
)
def test_invalid_entries_name_their_path(entry: dict[str, Any], path: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_teams({"teams": {"7": {"actions": [entry]}}})
    assert f"{path}: " in str(raised.value)
    assert problem in str(raised.value)


def test_platform_names_are_normalised() -> None:
    entry = rules({"policy_id": 1, "platforms": ["macOS", "Linux"], "actions": [RESTART]}).actions[0]
    assert entry.platforms == ["darwin", "linux"]
    assert entry.applies_to("darwin")
    assert entry.applies_to("ubuntu")
    assert not entry.applies_to("windows")
    assert platform_family("rhel") == "linux"
    assert platform_family("ipados") == "ipados"


# -- matching ------------------------------------------------------------------------------------------


def test_id_entry_beats_an_earlier_pattern_entry() -> None:
    configured = rules(
        {"policy_name_pattern": "macOS - *", "actions": [SCRIPT]},
        {"policy_id": 479, "actions": [RESTART]},
    )
    chosen = entry_for(configured.actions, 479, "macOS - OS version up to date", "darwin")
    assert chosen is configured.actions[1]
    other = entry_for(configured.actions, 480, "MACOS - firewall on", "darwin")
    assert other is configured.actions[0]  # case-insensitive glob on the whole name
    assert entry_for(configured.actions, 481, "Windows - firewall on", "darwin") is None


def test_platform_filter_falls_through_to_the_next_entry() -> None:
    configured = rules(
        {"policy_id": 5, "platforms": ["darwin"], "actions": [RESTART]},
        {"policy_id": 5, "platforms": ["windows"], "actions": [REBOOT_WINDOWS]},
    )
    assert entry_for(configured.actions, 5, "", "windows") is configured.actions[1]
    assert entry_for(configured.actions, 5, "", "ubuntu") is None


def test_glob_characters_in_names_are_literal_outside_wildcards() -> None:
    configured = rules({"policy_name_pattern": "Disk encryption (FileVault) [macOS]*", "actions": [RESTART]})
    # [macOS] is a character class in a glob: an administrator must escape it as [[]macOS].
    assert entry_for(configured.actions, 1, "Disk encryption (FileVault) [macOS] on", "darwin") is None
    escaped = rules({"policy_name_pattern": "Disk encryption (FileVault) [[]macOS]*", "actions": [RESTART]})
    assert entry_for(escaped.actions, 1, "Disk encryption (FileVault) [macOS] on", "darwin") is not None


# -- planning ------------------------------------------------------------------------------------------


def test_plan_covers_only_failing_window_policies_and_fitting_platforms() -> None:
    configured = rules(
        {"policy_id": 1, "actions": [SCRIPT, RESTART, REBOOT_WINDOWS]},
        {"policy_id": 2, "actions": [{"type": "software_install", "software_title_id": 9}]},
        {"policy_id": 3, "actions": [{"type": "refetch"}]},
    )
    hosts = [host(1, "darwin", failing=(1, 3), passing=(2,)), host(2, "windows", failing=(1, 2)), host(3, passing=(1,))]
    planned = plan_actions(window(policy_ids=(1, 2), host_ids=(1, 2, 3)), hosts, configured.actions)
    described = [(p.host_id, p.policy_id, p.index, p.action.type) for p in planned]
    # Policy 3 is not the window's; host 3 passes; the Apple restart is left out on Windows and vice versa;
    # restarts go last on each host.
    assert described == [
        (1, 1, 0, "script"),
        (1, 1, 1, "mdm_command"),
        (2, 1, 0, "script"),
        (2, 2, 0, "software_install"),
        (2, 1, 2, "mdm_command"),
    ]


def test_an_action_asked_for_by_two_policies_is_sent_once() -> None:
    configured = rules({"policy_id": 1, "actions": [RESTART]}, {"policy_id": 2, "actions": [SCRIPT, RESTART]})
    planned = plan_actions(window(policy_ids=(1, 2)), [host(1, failing=(1, 2))], configured.actions)
    assert [(p.policy_id, p.action.type) for p in planned] == [(2, "script"), (1, "mdm_command")]


def test_action_keys_are_stable_and_distinct() -> None:
    configured = rules({"policy_id": 1, "actions": [SCRIPT, RESTART]})
    first = plan_actions(window(), [host(1, failing=(1,))], configured.actions)
    again = plan_actions(window(), [host(1, failing=(1,))], configured.actions)
    next_revision = plan_actions(window(revision=3), [host(1, failing=(1,))], configured.actions)
    assert [p.claim_id for p in first] == [p.claim_id for p in again]
    assert len({p.claim_id for p in first} | {p.claim_id for p in next_revision}) == 4
    assert first[1].key == "user-0001/r2/h1/p1/a1"
    assert first[1].command_uuid == again[1].command_uuid


def test_names_from_fleet_are_matched_by_pattern() -> None:
    configured = rules({"policy_name_pattern": "*firewall*", "actions": [SCRIPT]})
    planned = plan_actions(window(), [host(1, failing=(1,), names={1: "macOS - Firewall enabled"})], configured.actions)
    assert [p.action.type for p in planned] == ["script"]


# -- MDM payloads ----------------------------------------------------------------------------------------


def _planned(action: dict[str, Any], platform: str = "darwin") -> PlannedAction:
    configured = rules({"policy_id": 1, "actions": [action]})
    (planned,) = plan_actions(window(), [host(1, platform, failing=(1,))], configured.actions)
    return planned


def test_apple_restart_payload_matches_fleets_example(fleet_fixtures: str) -> None:
    planned = _planned({**RESTART, "params": {"NotifyUser": True}})
    decoded = plistlib.loads(base64.b64decode(planned.command_base64(), validate=True))
    with open(os.path.join(fleet_fixtures, "api", "restart_device_command.plist"), "rb") as handle:
        example = plistlib.load(handle)
    assert decoded["Command"] == {**example["Command"], "NotifyUser": True}
    assert decoded["CommandUUID"] == planned.command_uuid


def test_raw_plist_is_sent_with_our_command_uuid(fleet_fixtures: str) -> None:
    with open(os.path.join(fleet_fixtures, "api", "restart_device_command.plist"), "rb") as handle:
        raw = handle.read()
    planned = _planned({"type": "mdm_command", "raw_plist_base64": base64.b64encode(raw).decode()})
    decoded = plistlib.loads(base64.b64decode(planned.command_base64()))
    assert decoded["Command"] == {"RequestType": "RestartDevice"}
    assert decoded["CommandUUID"] == planned.command_uuid != "0001_RestartDevice"
    assert planned.action.will_restart()


def test_os_update_matches_the_tines_example(fleet_fixtures: str) -> None:
    with open(os.path.join(fleet_fixtures, "api", "schedule_os_update_command_tines_example.plist")) as handle:
        # "<<UUID()>>" is a Tines template placeholder (not valid XML until Tines fills it in).
        example = plistlib.loads(handle.read().replace("<<UUID()>>", "filled-in").encode())
    planned = _planned({"type": "os_update", "product_version": "14.5"})
    decoded = plistlib.loads(base64.b64decode(planned.command_base64()))
    assert decoded["Command"] == example["Command"]
    assert planned.action.will_restart()
    assert _planned({"type": "os_update", "install_action": "DownloadOnly"}).action.will_restart() is False


def test_windows_exec_matches_fleets_example(fleet_fixtures: str) -> None:
    planned = _planned(REBOOT_WINDOWS, "windows")
    ours = ElementTree.fromstring(base64.b64decode(planned.command_base64()))  # noqa: S314 - our own payload
    with open(os.path.join(fleet_fixtures, "api", "windows_reboot_command.xml"), "rb") as handle:
        example = ElementTree.fromstring(handle.read())  # noqa: S314
    assert ours.tag == "Exec"
    assert ours.findtext("CmdID") == planned.command_uuid
    assert _shape(ours.find("Item")) == _shape(example.find("Item"))


def test_windows_exec_with_data_uses_chr_format() -> None:
    payload = mdm_commands.windows_exec("./Device/Vendor/MSFT/RemoteWipe/doWipe", "id-1", "1 & 2")
    parsed = ElementTree.fromstring(payload)  # noqa: S314
    assert parsed.findtext("Item/Data") == "1 & 2"
    assert parsed.findtext("Item/Meta/{syncml:metinf}Format") == "chr"


def _shape(element: ElementTree.Element | None) -> list[tuple[str, str]]:
    assert element is not None
    return [(node.tag, (node.text or "").strip()) for node in element.iter()]


# -- briefs ----------------------------------------------------------------------------------------------


def test_briefs_follow_the_hosts_platforms_and_put_restarts_last() -> None:
    configured = rules(
        {
            "policy_id": 1,
            "actions": [RESTART, {"type": "os_update", "product_version": "15.1", "install_action": "DownloadOnly"}],
        },
        {"policy_id": 2, "actions": [REBOOT_WINDOWS, {**SCRIPT, "summary": "turn on the firewall"}]},
    )
    policies = [PolicyBrief(policy_id=2, name="firewall"), PolicyBrief(policy_id=1, name="os")]
    assert briefs_for(policies, ["darwin"], configured.actions) == [
        ActionBrief(kind="os_update", summary="download the macOS update 15.1"),
        ActionBrief(kind="script", summary="turn on the firewall", configured=True),
        ActionBrief(kind="mdm_command", summary="restart", restarts_device=True),
    ]
    # On Windows an OS update is the person's to start (Fleet's windows_updates), never a command.
    windows = briefs_for(policies, ["windows"], configured.actions)
    assert windows == [
        ActionBrief(kind="script", summary="turn on the firewall", configured=True),
        ActionBrief(kind="os_update_by_person", summary="install the Windows update yourself", restarts_device=True),
        ActionBrief(kind="mdm_command", summary="restart", restarts_device=True),
    ]
    # A Mac whose update the person starts (macOS 27, or a team whose updates Fleet manages).
    by_person = briefs_for(policies, ["darwin"], configured.actions, person_platforms={"darwin"})
    assert by_person[-1] == ActionBrief(
        kind="os_update_by_person", summary="install the macOS update yourself", restarts_device=True
    )
    assert ActionBrief(kind="os_update", summary="download the macOS update 15.1") not in by_person


def test_no_configured_action_means_no_brief() -> None:
    assert briefs_for([PolicyBrief(policy_id=9, name="x")], ["darwin"], rules().actions) == []


def test_the_documented_example_is_valid_configuration() -> None:
    docs = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "actions.md")
    with open(docs, encoding="utf-8") as handle:
        text = handle.read()
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    config = parse_teams(yaml.safe_load(example))
    assert len(config.defaults.actions) == 6
    assert len(config.teams[3].actions) == 1
    macos = entry_for(config.defaults.actions, 12, "macOS - OS version up to date", "darwin")
    windows = entry_for(config.defaults.actions, 12, "Windows - OS version up to date", "windows")
    assert macos is not None
    assert macos.actions[0].type == "os_update"
    assert windows is not None
    assert windows.actions[0].type == "mdm_command"
