"""Decode an MDM command the way Fleet does before queueing it (server/service/mdm.go RunMDMCommand).

Apple: base64 of a plist with Command.RequestType and CommandUUID; Fleet uses the CommandUUID as the
command's id. Windows: base64 of exactly one SyncML <Exec> element with one <Item>; the id is its CmdID.
"""

from __future__ import annotations

import base64
import binascii
import json
import plistlib
import uuid
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from typing import Any

from infra.fleet_server.errors import ApiError, bad_request, invalid_argument

APPLE_PLATFORMS = frozenset({"darwin", "ios", "ipados"})
WINDOWS_PLATFORM = "windows"


@dataclass(frozen=True)
class DecodedCommand:
    command_uuid: str
    request_type: str
    payload: bytes


def decode_base64_command(command: str) -> bytes:
    """Fleet accepts padded and unpadded standard base64 (Base64DecodePaddingAgnostic)."""
    try:
        return base64.b64decode(command + "=" * (-len(command) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise invalid_argument("command", "unable to decode base64 command", status=400) from None


def decode_command(raw: bytes, platform: str) -> DecodedCommand:
    if platform == WINDOWS_PLATFORM:
        return _decode_windows(raw)
    return _decode_apple(raw)


def _decode_apple(raw: bytes) -> DecodedCommand:
    unsupported = invalid_argument("command", "unable to decode plist command", status=415)
    try:
        plist = plistlib.loads(raw)
    except Exception:  # noqa: BLE001  # plistlib has no one error type (ExpatError, LookupError, ...); all are 415
        raise unsupported from None
    if not isinstance(plist, dict) or not isinstance(plist.get("Command"), dict):
        raise unsupported
    command_uuid = plist.get("CommandUUID")
    request_type = plist["Command"].get("RequestType")
    if not isinstance(command_uuid, str) or not command_uuid.strip():
        raise unsupported
    if not isinstance(request_type, str) or not request_type.strip():
        raise unsupported
    return DecodedCommand(command_uuid=command_uuid, request_type=request_type.strip(), payload=raw)


def _decode_windows(raw: bytes) -> DecodedCommand:
    try:
        root = ElementTree.fromstring(raw.strip())  # noqa: S314 - stand-in server, trusted loopback input
    except ElementTree.ParseError as error:
        raise invalid_argument("command", f"The payload isn't valid XML: {error}") from None
    if root.tag != "Exec":
        raise invalid_argument("command", "You can run only <Exec> command type.")
    items = root.findall("Item")
    if len(items) != 1:
        raise invalid_argument("command", "You can run only a single <Exec> command.")
    target = items[0].findtext("Target/LocURI") or ""
    command_id = (root.findtext("CmdID") or "").strip() or str(uuid.uuid4())
    return DecodedCommand(command_uuid=command_id, request_type=target.strip(), payload=raw)


def platform_error(platforms: set[str]) -> ApiError | None:
    if len(platforms) != 1:
        return invalid_argument("host_uuids", "All hosts must be on the same platform.")
    (platform,) = platforms
    if platform not in APPLE_PLATFORMS and platform != WINDOWS_PLATFORM:
        return invalid_argument(
            "host_uuids", "Invalid platform. You can only run MDM commands on Windows or Apple hosts."
        )
    return None


# -- what a device answers when the command reaches it ---------------------------------------------------

#: Apple's device-management reference (apple/device-management, mdm/commands/system.update.*.yaml) marks
#: these deprecated in the 26 releases; they are removed in the 27 releases.
REMOVED_IN_27 = frozenset({"ScheduleOSUpdate", "ScheduleOSUpdateScan", "OSUpdateStatus", "AvailableOSUpdates"})
#: Install actions after which a Mac installs the update on its own (the others wait for the user).
INSTALLING_ACTIONS = frozenset({"InstallASAP", "InstallForceRestart", "Default"})


@dataclass(frozen=True)
class DeviceAnswer:
    status: str
    body: bytes
    succeeded: bool


def apple_answer(command_uuid: str, udid: str, extra: dict[str, Any] | None = None) -> DeviceAnswer:
    body = {"CommandUUID": command_uuid, "Status": "Acknowledged", "UDID": udid, **(extra or {})}
    return DeviceAnswer("Acknowledged", plistlib.dumps(body), True)


def apple_error(command_uuid: str, udid: str, code: int, description: str) -> DeviceAnswer:
    """Status Error with an ErrorChain, in the shape a device sends (seen in micromdm/micromdm#970)."""
    chain = [
        {
            "ErrorCode": code,
            "ErrorDomain": "MCMDMErrorDomain",
            "LocalizedDescription": description,
            "USEnglishDescription": description,
        }
    ]
    body = {"CommandUUID": command_uuid, "ErrorChain": chain, "Status": "Error", "UDID": udid}
    return DeviceAnswer("Error", plistlib.dumps(body), False)


def not_a_valid_request_type(command_uuid: str, udid: str, request_type: str) -> DeviceAnswer:
    return apple_error(command_uuid, udid, 12021, f"“{request_type}” is not a valid request type.")


def windows_answer(command_id: str) -> DeviceAnswer:
    body = f"<Status><CmdID>{command_id}</CmdID><Cmd>Exec</Cmd><Data>200</Data></Status>".encode()
    return DeviceAnswer("200", body, True)


@dataclass(frozen=True)
class OSUpdateRequest:
    install_action: str
    product_version: str | None


def os_update_request(payload: bytes) -> OSUpdateRequest | None:
    """The first Updates entry of a ScheduleOSUpdate plist (None when it has none)."""
    try:
        command = plistlib.loads(payload).get("Command", {})
        update = (command.get("Updates") or [None])[0]
    except Exception:  # noqa: BLE001  # decoded once already at queueing; anything odd here means "no update asked"
        return None
    if not isinstance(update, dict):
        return None
    version = update.get("ProductVersion")
    return OSUpdateRequest(str(update.get("InstallAction") or "Default"), str(version) if version else None)


# -- custom declarations (POST /configuration_profiles with a .json file) --------------------------------

SOFTWARE_UPDATE_DECLARATION = "com.apple.configuration.softwareupdate.enforcement.specific"
#: Part of fleet.ForbiddenDeclTypes (server/fleet/apple_mdm.go): declarations that need an asset.
FORBIDDEN_DECLARATION_TYPES = frozenset(
    {
        "com.apple.configuration.account.google",
        "com.apple.configuration.account.ldap",
        "com.apple.configuration.account.mail",
        "com.apple.configuration.screensharing.connection",
        "com.apple.configuration.security.certificate",
        "com.apple.configuration.security.identity",
        "com.apple.configuration.security.passkey.attestation",
        "com.apple.configuration.services.configuration-files",
        "com.apple.configuration.watch.enrollment",
    }
)


def validate_declaration(content: bytes) -> None:
    """MDMAppleRawDeclaration.ValidateUserProvided: same checks, same messages, same order."""
    try:
        declaration = json.loads(content)
    except ValueError:
        raise bad_request("Couldn't add. The file should include valid JSON.") from None
    kind = declaration.get("Type") if isinstance(declaration, dict) else None
    if not isinstance(kind, str) or not kind:
        raise bad_request('Couldn\'t add. The declaration must include a "Type".')
    if kind == SOFTWARE_UPDATE_DECLARATION:
        raise invalid_argument(
            kind, "Declaration profile can’t include OS updates settings. To control these settings, go to OS updates."
        )
    if kind in FORBIDDEN_DECLARATION_TYPES:
        raise invalid_argument(
            kind, "Only configuration declarations that don’t require an asset reference are supported."
        )
    if kind == "com.apple.configuration.management.status-subscriptions":
        raise invalid_argument(
            kind,
            "Declaration profile can’t include status subscription type. To get host’s vitals, please use queries "
            "and policies.",
        )
    if not kind.startswith("com.apple.configuration"):
        raise invalid_argument(kind, "Only configuration declarations (com.apple.configuration) are supported.")
