"""`python -m infra.chat_server --port=P`: serve until SIGTERM. The webhook token comes from MW_LOCAL_CHAT_TOKEN."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from types import FrameType

from werkzeug.serving import make_server

from infra.chat_server.app import Receiver, create_app
from maintenance_windows.observability import configure_logging, get_logger

_logger = get_logger("infra.chat_server")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.chat_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    configure_logging()
    server = make_server(args.host, args.port, create_app(Receiver(os.environ["MW_LOCAL_CHAT_TOKEN"])), threaded=True)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    threading.Thread(target=server.serve_forever, name="chat-server", daemon=True).start()
    _logger.info("chat webhook receiver listening", url=f"http://{args.host}:{server.port}")
    stop.wait()
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
