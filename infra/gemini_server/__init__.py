"""Local stand-in for Gemini on Vertex AI (generateContent, models.get). `python -m infra.gemini_server --port P`."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from werkzeug.serving import BaseWSGIServer, make_server

from infra.gemini_server.app import MODES, GeminiStandIn

__all__ = ["MODES", "GeminiStandIn", "RunningGeminiServer", "serve_in_thread"]


@dataclass
class RunningGeminiServer:
    app: GeminiStandIn
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def base_url(self) -> str:
        """What MW_GEMINI_BASE_URL / HttpOptions.base_url takes."""
        return f"http://127.0.0.1:{self.server.server_port}/"

    def shutdown(self) -> None:
        self.app.stop()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_in_thread(
    port: int = 0, mode: str = "normal", host: str = "127.0.0.1", models: Sequence[str] = ()
) -> RunningGeminiServer:
    """Starts the stand-in on a background thread (port 0 picks a free port); call shutdown() when done.

    `models` adds model ids to the ones the stand-in knows (catalog.KNOWN_MODELS); any other id answers 404.
    """
    app = GeminiStandIn(mode=mode, models=models)
    server = make_server(host, port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="gemini-stand-in", daemon=True)
    thread.start()
    return RunningGeminiServer(app=app, server=server, thread=thread)
