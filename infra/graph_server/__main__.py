"""`python -m infra.graph_server --port=P [--host=127.0.0.1] [--latency-ms=N]`; serves until SIGTERM."""

from __future__ import annotations

import argparse
import json
import sys

from infra.graph_server.app import create_app
from infra.graph_server.server import RunningServer
from infra.serving import stop_signal


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.graph_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    parser.add_argument("--latency-ms", type=int, default=0, help="injected latency per round trip")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    stopping = stop_signal()
    with RunningServer(create_app(latency_ms=args.latency_ms), host=args.host, port=args.port) as server:
        # One JSON line so a supervisor (infra.stack) can learn the port when --port 0 was used.
        print(
            json.dumps({"severity": "INFO", "message": "graph server listening", "url": server.url}),
            flush=True,
        )
        stopping.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
