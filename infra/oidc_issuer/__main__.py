"""`python -m infra.oidc_issuer --port P --key-dir DIR`: serve the local issuer until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from types import FrameType

from werkzeug.serving import make_server

from infra.oidc_issuer.app import DEFAULT_MAX_AGE_SECONDS, create_app
from infra.oidc_issuer.issuer import LocalIssuer
from maintenance_windows.observability import configure_logging, get_logger

_logger = get_logger("infra.oidc_issuer")


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    configure_logging()
    issuer = LocalIssuer(Path(args.key_dir))
    server = make_server(args.host, args.port, create_app(issuer, max_age_seconds=args.max_age), threaded=True)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    # serve_forever runs on a worker thread: shutdown() from the signal handler on the serving thread
    # would wait for itself.
    serving = threading.Thread(target=server.serve_forever, name="oidc-issuer", daemon=True)
    serving.start()
    _logger.info(
        "oidc issuer listening",
        url=f"http://{args.host}:{server.port}",
        kid=issuer.kid,
    )
    stop.wait()
    server.shutdown()
    server.server_close()
    _logger.info("oidc issuer stopped")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.oidc_issuer", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port (logged at start)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--key-dir", required=True, help="where the signing key is created once and kept")
    parser.add_argument("--max-age", type=int, default=DEFAULT_MAX_AGE_SECONDS, help="certs Cache-Control")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
