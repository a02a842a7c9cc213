"""Serving the Graph stand-in: a threaded werkzeug server on loopback, startable in-process for tests."""

from __future__ import annotations

from infra.graph_server.app import GraphApp, create_app
from infra.serving import BackgroundServer


class RunningServer(BackgroundServer):
    """A GraphApp served on a background thread; use as a context manager or call stop()."""

    def __init__(self, app: GraphApp | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app or create_app()
        super().__init__(self.app, host=host, port=port, name="graph-server")

    @property
    def api_endpoint(self) -> str:
        """What the adapter takes as its Graph root (MW_GRAPH_API_ENDPOINT)."""
        return f"{self.url}/v1.0"

    def stop(self) -> None:
        super().stop()
        self.app.close()
