"""Stand-ins the integration tests start in-process, once per module: the Gemini stand-in and an OIDC issuer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from infra.gemini_server import RunningGeminiServer, serve_in_thread
from infra.oidc_issuer import LocalIssuer
from infra.oidc_issuer import create_app as issuer_app
from infra.serving import BackgroundServer


@pytest.fixture(scope="module")
def gemini(request: pytest.FixtureRequest) -> Iterator[RunningGeminiServer]:
    """A module may set GEMINI_MODELS: model ids the stand-in serves besides the ones it knows."""
    server = serve_in_thread(models=getattr(request.module, "GEMINI_MODELS", ()))
    yield server
    server.shutdown()


@pytest.fixture
def server(gemini: RunningGeminiServer) -> RunningGeminiServer:
    """The module's Gemini stand-in, reset: normal mode, nothing recorded."""
    requests.post(f"{gemini.base_url}_admin/reset", timeout=5).raise_for_status()
    return gemini


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> LocalIssuer:
    return LocalIssuer(Path(tmp_path_factory.mktemp("oidc")))


@pytest.fixture(scope="module")
def issuer_url(issuer: LocalIssuer) -> Iterator[str]:
    with BackgroundServer(issuer_app(issuer)) as served:
        yield served.url
