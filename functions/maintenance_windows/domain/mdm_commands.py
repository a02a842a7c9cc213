"""MDM command payloads for Fleet's POST /api/v1/fleet/commands/run, built with plistlib and ElementTree.

Fleet takes the payload base64-encoded. Apple: a plist dict with Command{RequestType, ...} and a
CommandUUID, which Fleet uses as the command's id. Windows: exactly one SyncML <Exec> element holding
one <Item>, with a <CmdID>.

Command ids are derived from a caller-chosen key (uuid5), not drawn at random: a resend after a crash
reuses the id, and Fleet refuses a duplicate Apple CommandUUID with 409, so a retry can never queue the
same fix twice.
"""

from __future__ import annotations

import base64
import binascii
import plistlib
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from typing import Any

#: Fixed namespace for uuid5 command ids, so the same key yields the same id in every process.
COMMAND_ID_NAMESPACE = uuid.UUID("6f0f2c1e-52a4-4c4e-9a55-3c1d8e2b7a10")
SYNCML_METINF = "syncml:metinf"

PlistScalar = str | int | float | bool
PlistParam = PlistScalar | Sequence[PlistScalar]


class InvalidCommand(ValueError):
    """A payload that Fleet would refuse; the message says why."""


def command_id(key: str) -> str:
    """A stable UUID for the action named by `key` (the same key always gives the same id)."""
    return str(uuid.uuid5(COMMAND_ID_NAMESPACE, key))


def apple_command(request_type: str, command_uuid: str, params: Mapping[str, PlistParam] | None = None) -> bytes:
    """A plist command such as RestartDevice; `params` go into the Command dict next to RequestType."""
    extra = dict(params or {})
    if "RequestType" in extra:
        raise InvalidCommand("params must not set RequestType")
    return _dump({"RequestType": request_type, **{key: _plist_value(v) for key, v in extra.items()}}, command_uuid)


def schedule_os_update(
    command_uuid: str,
    *,
    install_action: str,
    product_version: str | None = None,
    product_key: str | None = None,
    max_user_deferrals: int | None = None,
    priority: str | None = None,
) -> bytes:
    """Apple's ScheduleOSUpdate with one Updates entry (the shape Fleet's Tines example sends)."""
    update: dict[str, Any] = {"InstallAction": install_action}
    optional = {
        "ProductVersion": product_version,
        "ProductKey": product_key,
        "MaxUserDeferrals": max_user_deferrals,
        "Priority": priority,
    }
    update.update({key: value for key, value in optional.items() if value is not None})
    return _dump({"RequestType": "ScheduleOSUpdate", "Updates": [update]}, command_uuid)


def apple_command_from_plist(raw: bytes, command_uuid: str) -> bytes:
    """An administrator's own plist, with its CommandUUID replaced by ours (see the module docstring)."""
    parsed = parse_apple_command(raw)
    parsed["CommandUUID"] = command_uuid
    return plistlib.dumps(parsed, fmt=plistlib.FMT_XML)


def parse_apple_command(raw: bytes) -> dict[str, Any]:
    """The plist as a dict, checked the way Fleet checks it: a Command dict with a RequestType."""
    try:
        parsed = plistlib.loads(raw)
    except Exception as error:  # noqa: BLE001  # plistlib has no one error type (ExpatError, LookupError, ...)
        raise InvalidCommand(f"not a valid plist: {type(error).__name__}") from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("Command"), dict):
        raise InvalidCommand("the plist must be a dict with a Command dict")
    request_type = parsed["Command"].get("RequestType")
    if not isinstance(request_type, str) or not request_type.strip():
        raise InvalidCommand("Command.RequestType must be a non-empty string")
    return parsed


def decode_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidCommand("not valid base64") from None


def windows_exec(loc_uri: str, cmd_id: str, data: str | None = None) -> bytes:
    """One SyncML <Exec> like Fleet's RebootNow example: Format null without data, chr with data."""
    root = ElementTree.Element("Exec")
    ElementTree.SubElement(root, "CmdID").text = cmd_id
    item = ElementTree.SubElement(root, "Item")
    ElementTree.SubElement(ElementTree.SubElement(item, "Target"), "LocURI").text = loc_uri
    meta = ElementTree.SubElement(item, "Meta")
    # A literal default-namespace attribute, as Fleet's example writes it; ElementTree's own namespace
    # handling would emit an ns0: prefix instead.
    ElementTree.SubElement(meta, "Format", {"xmlns": SYNCML_METINF}).text = "null" if data is None else "chr"
    ElementTree.SubElement(meta, "Type").text = "text/plain"
    ElementTree.SubElement(item, "Data").text = data or ""
    return ElementTree.tostring(root, encoding="unicode", short_empty_elements=False).encode()


def encode(payload: bytes) -> str:
    """Standard padded base64, as Fleet's docs and UI produce it."""
    return base64.b64encode(payload).decode("ascii")


def _dump(command: dict[str, Any], command_uuid: str) -> bytes:
    return plistlib.dumps({"Command": command, "CommandUUID": command_uuid}, fmt=plistlib.FMT_XML)


def _plist_value(value: PlistParam) -> Any:
    if isinstance(value, str | int | float | bool):
        return value
    return list(value)
