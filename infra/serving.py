"""Serving a WSGI app with werkzeug's threaded server, on a background thread.

Tests and in-process stand-ins use `BackgroundServer` as a context manager (or start()/stop()); the
`python -m infra.<stand-in>` entry points serve the same way until `stop_signal()` is set, because
shutdown() called from a signal handler on the serving thread itself would wait for itself.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Self

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


class QuietHandler(WSGIRequestHandler):
    """No stderr line per request: it would dominate a benchmark, and each stand-in keeps a request log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:  # noqa: ARG002  # base signature
        return


class BackgroundServer:
    """`app` on host:port (0 picks a free port) from a daemon thread, until stop()."""

    def __init__(
        self,
        app: WSGIApplication,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        quiet: bool = True,
        name: str = "wsgi-server",
    ) -> None:
        self.host = host
        handler = QuietHandler if quiet else WSGIRequestHandler
        self.server: BaseWSGIServer = make_server(host, port, app, threaded=True, request_handler=handler)
        self._thread = threading.Thread(target=self.server.serve_forever, name=name, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    @property
    def url(self) -> str:
        """Root URL without a trailing slash, e.g. http://127.0.0.1:54321."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def stop_signal() -> threading.Event:
    """An event set by SIGTERM or SIGINT; the handlers are installed at once, so none is lost during start-up."""
    stopping = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stopping


def latency_stand_in_parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """The command line of a stand-in that takes only where to listen and an injected latency."""
    parser = argparse.ArgumentParser(prog=prog, description=doc)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    parser.add_argument("--latency-ms", type=int, default=0, help="injected latency per round trip")
    return parser


def serve_until_stopped(server: BackgroundServer, what: str, stopping: threading.Event) -> int:
    """Serve until `stopping` is set, after one JSON line with the URL, from which a supervisor (infra.stack)
    learns the port when --port 0 was used."""
    with server:
        print(json.dumps({"severity": "INFO", "message": f"{what} listening", "url": server.url}), flush=True)
        stopping.wait()
    return 0
