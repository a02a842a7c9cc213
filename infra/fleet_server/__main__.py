"""`FLEET_SERVER_TOKEN=T python -m infra.fleet_server --port=P --seed=FILE`: run the stand-in Fleet.

The API token comes from the environment only: a command line is visible to every local user (`ps`).
Prints one line `fleet-server listening on http://HOST:PORT` once it accepts connections (with --port 0,
that line tells the chosen port).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping

from infra.fleet_server.app import DEFAULT_TOKEN, create_app
from infra.fleet_server.seed import SeedError, load_seed_file
from infra.serving import BackgroundServer, stop_signal


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.fleet_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=8412, help="port (0: any free port)")
    parser.add_argument("--seed", help="JSON seed file (settings, teams, hosts, policies, scripts, software_titles)")
    parser.add_argument(
        "--checkin-interval",
        type=float,
        default=_env_float("FLEET_SERVER_CHECKIN_SECONDS"),
        help="seconds between host check-ins, overriding every seed (env FLEET_SERVER_CHECKIN_SECONDS)",
    )
    parser.add_argument("--quiet", action="store_true", help="no access log line per request")
    parser.epilog = (
        "Clients must send 'Authorization: Bearer <token>' with the token in env FLEET_SERVER_TOKEN "
        f"(default {DEFAULT_TOKEN!r})."
    )
    return parser.parse_args(argv)


def _env_float(name: str) -> float | None:
    value = os.environ.get(name)
    return float(value) if value else None


def _token(environ: Mapping[str, str]) -> str:
    return environ.get("FLEET_SERVER_TOKEN") or DEFAULT_TOKEN


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if args.checkin_interval is not None and args.checkin_interval <= 0:
        print("fleet-server: --checkin-interval must be positive", file=sys.stderr)
        return 2
    try:
        seed = load_seed_file(args.seed) if args.seed else None
    except SeedError as error:
        print(f"fleet-server: {error}", file=sys.stderr)
        return 2
    app = create_app(seed, token=_token(os.environ), checkin_interval=args.checkin_interval)
    stopping = stop_signal()
    with BackgroundServer(app, host=args.host, port=args.port, quiet=args.quiet, name="fleet-server") as server:
        print(f"fleet-server listening on {server.url}", flush=True)
        stopping.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
