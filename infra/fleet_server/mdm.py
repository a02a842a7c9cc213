"""Decode an MDM command the way Fleet does before queueing it (server/service/mdm.go RunMDMCommand).

Apple: base64 of a plist with Command.RequestType and CommandUUID; Fleet uses the CommandUUID as the
command's id. Windows: base64 of exactly one SyncML <Exec> element with one <Item>; the id is its CmdID.
"""

from __future__ import annotations

import base64
import binascii
import plistlib
import uuid
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

from infra.fleet_server.errors import ApiError, invalid_argument

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
    except Exception:  # plistlib raises several unrelated types on bad input
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
