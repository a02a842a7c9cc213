"""A strict local stand-in for Microsoft Graph v1.0 calendars (Microsoft publishes no local server).

See docs/graph-server.md for the contract, seeding, acting as a person and injecting faults.
"""

from infra.graph_server.app import GraphApp, create_app
from infra.graph_server.server import RunningServer

__all__ = ["GraphApp", "RunningServer", "create_app"]
