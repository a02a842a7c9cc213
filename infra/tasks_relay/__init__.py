"""Local Cloud Tasks delivery with an OIDC token: the relay between the Tasks emulator and dispatch_window.

Of this project it imports infra.routing, infra.serving and maintenance_windows.observability only.
"""

from infra.tasks_relay.app import (
    AUDIENCE_HEADER,
    DELIVERIES_PATH,
    SERVICE_ACCOUNT_HEADER,
    USER_AGENT,
    Relay,
    create_app,
)

__all__ = ["AUDIENCE_HEADER", "DELIVERIES_PATH", "SERVICE_ACCOUNT_HEADER", "USER_AGENT", "Relay", "create_app"]
