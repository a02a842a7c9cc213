"""A strict local stand-in for Fleet's REST API, with an admin API for tests and demos. Of this project it
imports infra.routing, infra.serving, and maintenance_windows.domain and .observability only.

See docs/fleet-server.md. Entry points: create_app (WSGI), serve_in_thread (tests),
`python -m infra.fleet_server` (the local stack), FleetAdmin (admin API over HTTP).
"""

from infra.fleet_server.admin_client import FleetAdmin
from infra.fleet_server.app import DEFAULT_TOKEN, FleetServer, create_app, server_of
from infra.fleet_server.seed import Seed, SeedError, load_seed_file, parse_seed
from infra.fleet_server.server import RunningFleet, serve_in_thread

__all__ = [
    "DEFAULT_TOKEN",
    "FleetAdmin",
    "FleetServer",
    "RunningFleet",
    "Seed",
    "SeedError",
    "create_app",
    "load_seed_file",
    "parse_seed",
    "serve_in_thread",
    "server_of",
]
