"""`python -m infra.iap_proxy --port=P --target=STATUS_URL --audience=AUD --admins=a@x,b@y`: serve until SIGTERM.

The local admin password comes from the environment (MW_LOCAL_STATUS_PASSWORD), never the command line.
"""

from __future__ import annotations

import argparse
import os

from infra.iap_proxy.app import LocalIap, create_app
from infra.serving import BackgroundServer, stop_signal
from maintenance_windows.observability import configure_logging, get_logger

_logger = get_logger("infra.iap_proxy")


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    configure_logging()
    iap = LocalIap(args.target, args.audience, args.admins.split(","), os.environ["MW_LOCAL_STATUS_PASSWORD"])
    stopping = stop_signal()
    with BackgroundServer(create_app(iap), host=args.host, port=args.port, quiet=False, name="iap-proxy") as server:
        _logger.info("local IAP listening", url=server.url, target=args.target)
        stopping.wait()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.iap_proxy", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", required=True, help="the status_page function's URL")
    parser.add_argument("--audience", required=True, help="the aud claim of the signed header")
    parser.add_argument("--admins", required=True, help="comma-separated emails allowed in")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
