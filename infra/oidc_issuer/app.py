"""The issuer over HTTP: Google's certificate endpoint, plus a loopback-only minting endpoint.

GET  /oauth2/v1/certs  {kid: PEM certificate}, with Cache-Control max-age like Google's.
POST /_mint            {"audience": ..., "email": ...} -> {"token": ...}. Loopback callers only: it hands
                       out tokens for any identity, which is what the local scheduler and `mw` need.
"""

from __future__ import annotations

import ipaddress
import json
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from infra.oidc_issuer.issuer import LocalIssuer
from infra.routing import allowed_methods, dispatch

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

CERTS_PATH = "/oauth2/v1/certs"
MINT_PATH = "/_mint"
DEFAULT_MAX_AGE_SECONDS = 3600


def create_app(issuer: LocalIssuer, *, max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS) -> WSGIApplication:
    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response: Response = dispatch(_ROUTES, request, _Call(issuer, request, max_age_seconds))
        except MethodNotAllowed as refused:
            response = _json({"error": "method not allowed"}, 405, headers={"Allow": allowed_methods(refused)})
        except HTTPException:
            response = _json({"error": "not found"}, 404)
        return response(environ, start_response)

    return application


class _Call:
    """One request: each method answers one route (infra/routing.py)."""

    def __init__(self, issuer: LocalIssuer, request: Request, max_age_seconds: int) -> None:
        self.issuer = issuer
        self.request = request
        self.max_age_seconds = max_age_seconds

    def certs(self) -> Response:
        cache_control = f"public, max-age={self.max_age_seconds}, must-revalidate, no-transform"
        return _json(self.issuer.certificates(), 200, headers={"Cache-Control": cache_control})

    def mint(self) -> Response:
        if not _is_loopback(self.request.remote_addr):
            return _json({"error": "minting is for loopback callers only"}, 403)
        body = self.request.get_json(silent=True)
        audience = body.get("audience") if isinstance(body, dict) else None
        email = body.get("email") if isinstance(body, dict) else None
        if not isinstance(audience, str) or not audience or not isinstance(email, str) or not email:
            return _json({"error": "body must be JSON with non-empty string fields audience and email"}, 400)
        return _json({"token": self.issuer.mint(audience, email)}, 200)


# GET rules answer HEAD too (werkzeug adds it), as Google's certificate endpoint does.
_ROUTES = Map([Rule(CERTS_PATH, methods=["GET"], endpoint="certs"), Rule(MINT_PATH, methods=["POST"], endpoint="mint")])


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _json(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")
