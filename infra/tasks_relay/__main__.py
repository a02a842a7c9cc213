"""`python -m infra.tasks_relay --port=P --target=DISPATCH_URL --issuer=ISSUER_URL`: serve until SIGTERM."""

from __future__ import annotations

import argparse

from infra.serving import BackgroundServer, stop_signal
from infra.tasks_relay.app import Relay, create_app
from maintenance_windows.observability import configure_logging, get_logger

_logger = get_logger("infra.tasks_relay")


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    configure_logging()
    relay = Relay(args.target, args.issuer, timeout_seconds=args.timeout_seconds)
    stopping = stop_signal()
    with BackgroundServer(create_app(relay), host=args.host, port=args.port, quiet=False, name="tasks-relay") as server:
        _logger.info("tasks relay listening", url=server.url, target=args.target)
        stopping.wait()
    _logger.info("tasks relay stopped")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.tasks_relay", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback)")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port (logged at start)")
    parser.add_argument("--target", required=True, help="where tasks go on to: the dispatch_window URL")
    parser.add_argument("--issuer", required=True, help="the local OIDC issuer's base URL")
    parser.add_argument(
        "--timeout-seconds", type=float, default=600.0, help="per delivery; Cloud Tasks' default dispatch deadline"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
