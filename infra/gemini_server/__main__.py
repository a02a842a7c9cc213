"""Runs the Gemini stand-in in the foreground until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import json
import sys

from infra.gemini_server import RunningGeminiServer
from infra.gemini_server.app import MODES, GeminiStandIn
from infra.serving import stop_signal


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.gemini_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (loopback by default)")
    parser.add_argument("--port", type=int, default=8547)
    parser.add_argument("--mode", choices=MODES, default="normal")
    parser.add_argument(
        "--model", action="append", default=[], help="serve this model id too (repeatable); others answer 404"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    stopping = stop_signal()
    app = GeminiStandIn(mode=args.mode, models=args.model)
    with RunningGeminiServer(app, host=args.host, port=args.port, quiet=False) as server:
        message = f"gemini stand-in listening on {args.host}:{server.port}"
        print(json.dumps({"severity": "INFO", "message": message, "mode": args.mode}), flush=True)
        stopping.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
