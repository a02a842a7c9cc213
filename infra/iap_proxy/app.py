"""The local Identity-Aware Proxy: only the admins it is given get through, each request with a signed header.

What it copies from IAP (https://cloud.google.com/iap/docs/signed-headers-howto and
https://cloud.google.com/run/docs/securing/identity-aware-proxy-cloud-run):
- an anonymous visitor is sent to sign in (IAP redirects to Google's sign-in page), a signed-in person who is
  not allowed gets 403, as IAP answers a principal without `roles/iap.httpsResourceAccessor`;
- every request passed on carries `x-goog-iap-jwt-assertion`: ES256, `kid` from the key set served at
  KEYS_PATH in the JWK format of https://www.gstatic.com/iap/verify/public_key-jwk, `iss`
  https://cloud.google.com/iap, the configured `aud`, `sub` and `email` of the person, ten minutes' life;
- `x-goog-*` headers sent by the client are dropped, as IAP strips them.

Google's sign-in is played by a form asking for an admin's email and the stack's local admin password
(`.local/<profile>/secrets.json`, `status_admin_password`), compared in constant time. The page is read-only,
so only GET and HEAD are passed on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.auth import crypt, jwt
from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

KEYS_PATH = "/_iap/verify/public_key-jwk"
SIGNIN_PATH = "/_iap/signin"
SESSION_COOKIE = "mw_local_iap"
ISSUER = "https://cloud.google.com/iap"
ASSERTION_LIFETIME_SECONDS = 600
_KEYS_MAX_AGE_SECONDS = 3600

_signer_from_pem: Callable[..., crypt.Signer] = crypt.EsSigner.from_string
_jwt_encode: Callable[..., bytes] = jwt.encode


class LocalIap:
    def __init__(self, target: str, audience: str, admins: Collection[str], password: str) -> None:
        self.target = target.rstrip("/")
        self.audience = audience
        self.admins = frozenset(a.casefold() for a in admins)
        self._password = password.encode()
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.kid = secrets.token_hex(8)
        pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self._signer = _signer_from_pem(pem, key_id=self.kid)
        self._sessions: dict[str, str] = {}
        self._lock = threading.Lock()

    def key_set(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "EC",
                    "crv": "P-256",
                    "alg": "ES256",
                    "use": "sig",
                    "kid": self.kid,
                    "x": _b64(numbers.x),
                    "y": _b64(numbers.y),
                }
            ]
        }

    def assertion(self, email: str) -> str:
        now = int(time.time())
        subject = "accounts.google.com:" + str(int(hashlib.sha256(email.casefold().encode()).hexdigest()[:15], 16))
        claims = {
            "iss": ISSUER,
            "aud": self.audience,
            "sub": subject,
            "email": email,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECONDS,
        }
        return _jwt_encode(self._signer, claims).decode("ascii")

    def sign_in(self, email: str, password: str) -> str | None:
        """A session id for an allowed admin with the right password; None otherwise."""
        right = hmac.compare_digest(password.encode(), self._password)
        if not right or email.casefold() not in self.admins:
            return None
        session = secrets.token_urlsafe(24)
        with self._lock:
            self._sessions[session] = email
        return session

    def signed_in(self, session: str | None) -> str | None:
        with self._lock:
            return self._sessions.get(session or "")


def create_app(iap: LocalIap) -> WSGIApplication:
    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return _route(Request(environ), iap)(environ, start_response)

    return application


def _route(request: Request, iap: LocalIap) -> Response:
    if request.path == KEYS_PATH:
        return Response(
            json.dumps(iap.key_set()),
            content_type="application/json",
            headers={"Cache-Control": f"public, max-age={_KEYS_MAX_AGE_SECONDS}"},
        )
    if request.path == SIGNIN_PATH:
        return _sign_in(request, iap)
    email = iap.signed_in(request.cookies.get(SESSION_COOKIE))
    if email is None:
        return Response(status=302, headers={"Location": f"{SIGNIN_PATH}?next={quote(request.full_path.rstrip('?'))}"})
    if request.method not in ("GET", "HEAD"):
        return Response("the status page is read-only", status=405, headers={"Allow": "GET, HEAD"})
    return _forward(request, iap, email)


def _forward(request: Request, iap: LocalIap, email: str) -> Response:
    headers = {
        key: value
        for key, value in request.headers.items()
        if not key.lower().startswith("x-goog-") and key.lower() not in ("host", "cookie")
    }
    headers["x-goog-iap-jwt-assertion"] = iap.assertion(email)
    headers["x-goog-authenticated-user-email"] = f"accounts.google.com:{email}"
    answer = requests.request(
        request.method, iap.target + request.full_path.rstrip("?"), headers=headers, timeout=60, allow_redirects=False
    )
    passed = {
        key: value
        for key, value in answer.headers.items()
        if key.lower() in ("content-type", "cache-control", "location")
    }
    return Response(answer.content, status=answer.status_code, headers=passed)


def _sign_in(request: Request, iap: LocalIap) -> Response:
    next_path = _local_path(request.values.get("next", "/"))
    if request.method == "GET":
        return _form(next_path, "")
    if request.method != "POST":
        return Response(status=405, headers={"Allow": "GET, POST"})
    session = iap.sign_in(request.form.get("email", ""), request.form.get("password", ""))
    if session is None:
        return _form(next_path, "You do not have access to the status page.", status=403)
    response = Response(status=303, headers={"Location": next_path})
    response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="Strict", path="/")
    return response


def _local_path(candidate: str) -> str:
    """Only a path on this host: an open redirect would let a link send a signed-in admin anywhere."""
    parts = urlsplit(candidate)
    return candidate if candidate.startswith("/") and not parts.netloc and not candidate.startswith("//") else "/"


def _form(next_path: str, problem: str, status: int = 200) -> Response:
    message = f'<p role="alert" id="problem">{html.escape(problem)}</p>' if problem else ""
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head>
<body><h1>Sign in (local Identity-Aware Proxy)</h1>{message}
<form method="post" action="{SIGNIN_PATH}"><input type="hidden" name="next" value="{html.escape(next_path)}">
<label>Email <input id="email" name="email" type="email" required></label>
<label>Password <input id="password" name="password" type="password" required></label>
<button id="signin" type="submit">Sign in</button></form></body></html>"""
    return Response(body, status=status, content_type="text/html; charset=utf-8")


def _b64(number: int) -> str:
    return base64.urlsafe_b64encode(number.to_bytes(32, "big")).rstrip(b"=").decode("ascii")
