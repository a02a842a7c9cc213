"""Runs the Gemini stand-in in the foreground until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from types import FrameType

from werkzeug.serving import make_server

from infra.gemini_server.app import MODES, GeminiStandIn


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

    app = GeminiStandIn(mode=args.mode, models=args.model)
    server = make_server(args.host, args.port, app, threaded=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        app.stop()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(
        json.dumps(
            {
                "severity": "INFO",
                "message": f"gemini stand-in listening on {args.host}:{server.server_port}",
                "mode": args.mode,
            }
        ),
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
