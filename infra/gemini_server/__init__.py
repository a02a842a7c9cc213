"""Local stand-in for Gemini on Vertex AI (generateContent, models.get). `python -m infra.gemini_server --port P`.

Of this project it imports infra.routing and infra.serving only, nothing of maintenance_windows.
"""

from __future__ import annotations

from collections.abc import Sequence

from infra.gemini_server.app import MODES, GeminiStandIn
from infra.serving import BackgroundServer

__all__ = ["MODES", "GeminiStandIn", "RunningGeminiServer", "serve_in_thread"]


class RunningGeminiServer(BackgroundServer):
    def __init__(self, app: GeminiStandIn, *, host: str, port: int, quiet: bool) -> None:
        self.app = app
        super().__init__(app, host=host, port=port, quiet=quiet, name="gemini-stand-in")

    @property
    def base_url(self) -> str:
        """What MW_GEMINI_BASE_URL / HttpOptions.base_url takes."""
        return f"{self.url}/"

    def stop(self) -> None:
        self.app.stop()  # wakes requests sleeping in slow mode, so that the shutdown does not wait for them
        super().stop()

    def shutdown(self) -> None:
        self.stop()


def serve_in_thread(
    port: int = 0, mode: str = "normal", host: str = "127.0.0.1", models: Sequence[str] = (), *, quiet: bool = True
) -> RunningGeminiServer:
    """Starts the stand-in on a background thread (port 0 picks a free port); call shutdown() when done.

    `models` adds model ids to the ones the stand-in knows (catalog.KNOWN_MODELS); any other id answers 404.
    """
    return RunningGeminiServer(GeminiStandIn(mode=mode, models=models), host=host, port=port, quiet=quiet).start()
