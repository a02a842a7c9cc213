"""Serving the Graph stand-in: a threaded werkzeug server on loopback, startable in-process for tests."""

from __future__ import annotations

import threading
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from infra.graph_server.app import GraphApp, create_app


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class RunningServer:
    def __init__(self, app: GraphApp | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app or create_app()
        self._host = host
        self._server: BaseWSGIServer = make_server(host, port, self.app, threaded=True, request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="graph-server", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def api_endpoint(self) -> str:
        """What the adapter takes as its Graph root (MW_GRAPH_API_ENDPOINT)."""
        return f"{self.url}/v1.0"

    def start(self) -> RunningServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self.app.close()

    def __enter__(self) -> RunningServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
