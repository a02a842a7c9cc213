"""Serving the app: a threaded werkzeug server on loopback, startable in-process for tests."""

from __future__ import annotations

import threading
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from infra.calendar_server.app import CalendarApp, create_app


class _QuietHandler(WSGIRequestHandler):
    # One stderr line per request would dominate a 10,000-user benchmark; the admin request log has them.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class RunningServer:
    """A CalendarApp served on a background thread; use as a context manager or call stop()."""

    def __init__(self, app: CalendarApp | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app or create_app()
        self._host = host
        self._server: BaseWSGIServer = make_server(host, port, self.app, threaded=True, request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="calendar-server", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        """Root URL without a trailing slash, e.g. http://127.0.0.1:54321."""
        return f"http://{self._host}:{self.port}"

    @property
    def api_endpoint(self) -> str:
        """What the adapter takes as api_endpoint (MW_CALENDAR_API_ENDPOINT)."""
        return f"{self.url}/calendar/v3/"

    @property
    def token_uri(self) -> str:
        """The OAuth token endpoint the local delegated credentials refresh at."""
        return f"{self.url}/token"

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
