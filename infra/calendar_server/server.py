"""Serving the app: a threaded werkzeug server on loopback, startable in-process for tests."""

from __future__ import annotations

from infra.calendar_server.app import CalendarApp, create_app
from infra.serving import BackgroundServer


class RunningServer(BackgroundServer):
    """A CalendarApp served on a background thread; use as a context manager or call stop()."""

    def __init__(self, app: CalendarApp | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app or create_app()
        super().__init__(self.app, host=host, port=port, name="calendar-server")

    @property
    def api_endpoint(self) -> str:
        """What the adapter takes as api_endpoint (MW_CALENDAR_API_ENDPOINT)."""
        return f"{self.url}/calendar/v3/"

    @property
    def token_uri(self) -> str:
        """The OAuth token endpoint the local delegated credentials refresh at."""
        return f"{self.url}/token"

    def stop(self) -> None:
        super().stop()
        self.app.close()
