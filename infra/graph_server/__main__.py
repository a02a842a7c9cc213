"""`python -m infra.graph_server --port=P [--host=127.0.0.1] [--latency-ms=N]`; serves until SIGTERM."""

from __future__ import annotations

import argparse
import sys

from infra.graph_server.app import create_app
from infra.graph_server.server import RunningServer
from infra.serving import latency_stand_in_parser, serve_until_stopped, stop_signal


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return latency_stand_in_parser("python -m infra.graph_server", __doc__).parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    stopping = stop_signal()
    server = RunningServer(create_app(latency_ms=args.latency_ms), host=args.host, port=args.port)
    return serve_until_stopped(server, "graph server", stopping)


if __name__ == "__main__":
    sys.exit(main())
