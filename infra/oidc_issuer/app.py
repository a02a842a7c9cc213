"""The issuer over HTTP: Google's certificate endpoint, plus a loopback-only minting endpoint.

GET  /oauth2/v1/certs  {kid: PEM certificate}, with Cache-Control max-age like Google's.
POST /_mint            {"audience": ..., "email": ...} -> {"token": ...}. Loopback callers only: it hands
                       out tokens for any identity, which is what the local scheduler and `mw` need.
"""

from __future__ import annotations

import ipaddress
import json
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from infra.oidc_issuer.issuer import LocalIssuer

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

CERTS_PATH = "/oauth2/v1/certs"
MINT_PATH = "/_mint"
DEFAULT_MAX_AGE_SECONDS = 3600


def create_app(issuer: LocalIssuer, *, max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS) -> WSGIApplication:
    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        response = _route(request, issuer, max_age_seconds)
        return response(environ, start_response)

    return application


def _route(request: Request, issuer: LocalIssuer, max_age_seconds: int) -> Response:
    if request.path == CERTS_PATH:
        if request.method not in ("GET", "HEAD"):
            return _json({"error": "method not allowed"}, 405, headers={"Allow": "GET, HEAD"})
        return _json(
            issuer.certificates(),
            200,
            headers={"Cache-Control": f"public, max-age={max_age_seconds}, must-revalidate, no-transform"},
        )
    if request.path == MINT_PATH:
        if request.method != "POST":
            return _json({"error": "method not allowed"}, 405, headers={"Allow": "POST"})
        return _mint(request, issuer)
    return _json({"error": "not found"}, 404)


def _mint(request: Request, issuer: LocalIssuer) -> Response:
    if not _is_loopback(request.remote_addr):
        return _json({"error": "minting is for loopback callers only"}, 403)
    body = request.get_json(silent=True)
    audience = body.get("audience") if isinstance(body, dict) else None
    email = body.get("email") if isinstance(body, dict) else None
    if not isinstance(audience, str) or not audience or not isinstance(email, str) or not email:
        return _json({"error": "body must be JSON with non-empty string fields audience and email"}, 400)
    return _json({"token": issuer.mint(audience, email)}, 200)


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _json(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")
