"""What Fleet's refusal of an action means: our earlier send got through, or the action cannot work.

Transient answers (429, 5xx, timeouts) never reach here: the adapter raises FleetUnavailable for them and
the dispatcher retries. Of the rest, three say "already queued" (docs/fleet-server.md gives each source):

- 409 to an MDM command: Fleet holds a command with this CommandUUID (our uuid5 ids make a resend carry it).
- 409 to a script run: "The script is already queued on the given host." (scripts.go RunHostScript).
- 400 to a software install: "Couldn't install. Host already has a pending install/uninstall for this
  installer." (ee/server/service/software_installers.go InstallSoftwareTitle).

Everything else (402 licence, 412 MDM off, 422 validation: unknown script name, no fleetd, scripts off,
platform mismatch; 404 unknown script id; 400 title not available) is permanent for that action.
"""

from __future__ import annotations

from enum import StrEnum

_PENDING_INSTALL = "pending install"


class Refusal(StrEnum):
    ALREADY_SENT = "already_sent"
    PERMANENT = "permanent"


def classify_refusal(action_type: str, status: int | None, message: str) -> Refusal:
    """`action_type`: mdm_command, os_update, script, software_install or refetch."""
    if status == 409 and action_type in ("mdm_command", "os_update", "script"):
        return Refusal.ALREADY_SENT
    if status == 400 and action_type == "software_install" and _PENDING_INSTALL in message.lower():
        return Refusal.ALREADY_SENT
    return Refusal.PERMANENT
