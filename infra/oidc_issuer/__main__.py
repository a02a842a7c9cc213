"""`python -m infra.oidc_issuer --port P --key-dir DIR`: serve the local issuer until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
from pathlib import Path

from infra.oidc_issuer.app import DEFAULT_MAX_AGE_SECONDS, create_app
from infra.oidc_issuer.issuer import LocalIssuer
from infra.serving import BackgroundServer, stop_signal
from maintenance_windows.observability import configure_logging, get_logger

_logger = get_logger("infra.oidc_issuer")


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    configure_logging()
    issuer = LocalIssuer(Path(args.key_dir))
    stopping = stop_signal()
    app = create_app(issuer, max_age_seconds=args.max_age)
    with BackgroundServer(app, host=args.host, port=args.port, quiet=False, name="oidc-issuer") as server:
        _logger.info("oidc issuer listening", url=server.url, kid=issuer.kid)
        stopping.wait()
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
