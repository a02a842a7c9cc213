"""`python -m infra.chat_server --port=P`: serve until SIGTERM. The webhook token comes from MW_LOCAL_CHAT_TOKEN."""

from __future__ import annotations

import argparse
import os

from infra.chat_server.app import Receiver, create_app
from infra.serving import BackgroundServer, stop_signal
from maintenance_windows.observability import configure_logging, get_logger

_logger = get_logger("infra.chat_server")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.chat_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    configure_logging()
    stopping = stop_signal()
    app = create_app(Receiver(os.environ["MW_LOCAL_CHAT_TOKEN"]))
    with BackgroundServer(app, host=args.host, port=args.port, quiet=False, name="chat-server") as server:
        _logger.info("chat webhook receiver listening", url=server.url)
        stopping.wait()


if __name__ == "__main__":
    main()
