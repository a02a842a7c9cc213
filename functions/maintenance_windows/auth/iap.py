"""Verification of Identity-Aware Proxy's signed header, `x-goog-iap-jwt-assertion`, for the status page.

IAP in front of the status page's Cloud Run service lets only the admins named in Terraform through; this
check is the defence in depth its documentation asks for ("Securing your app with signed headers",
https://cloud.google.com/iap/docs/signed-headers-howto): if IAP were switched off or bypassed, a request
would carry no header signed by Google and is refused here. The page's rules, from that document:

- header: `alg` ES256, `kid` one of the keys at https://www.gstatic.com/iap/verify/public_key-jwk;
- payload: `exp` in the future and `iat` in the past, `aud` the resource's audience (for IAP enabled on a
  Cloud Run service, `/projects/PROJECT_NUMBER/locations/REGION/services/SERVICE_NAME`; behind a load
  balancer `/projects/PROJECT_NUMBER/global/backendServices/SERVICE_ID`), `iss` https://cloud.google.com/iap,
  and `email` / `sub` the signed-in user.

The key set is fetched and cached with the OIDC verifier's certificate cache (auth/oidc.py: Cache-Control
max-age, one refetch for an unknown key id); each JWK becomes a PEM public key, so google-auth's
jwt.decode, which verifies ES256 with `cryptography`, does the signature and time checks as for ID tokens.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.auth import exceptions as google_auth_exceptions
from google.auth import jwt

from maintenance_windows.auth import AuthError
from maintenance_windows.auth.oidc import _CertificateCache, _freshness_seconds, _is_number, _parse_unverified

IAP_KEYS_URL = "https://www.gstatic.com/iap/verify/public_key-jwk"
IAP_ISSUER = "https://cloud.google.com/iap"
IAP_HEADER = "x-goog-iap-jwt-assertion"
_ALGORITHM = "ES256"
_MAX_ASSERTION_CHARS = 8192
#: IAP's assertions live ten minutes; an hour's ceiling still refuses forged long-lived ones.
_MAX_LIFETIME_SECONDS = 3600
_CERTS_TIMEOUT_SECONDS = 5.0

_jwt_decode: Callable[..., Mapping[str, Any]] = jwt.decode


@dataclass(frozen=True)
class SignedInUser:
    email: str
    subject: str


class IapVerifier:
    """Checks IAP's signed header for one audience. Build once per process; safe to share between threads."""

    def __init__(
        self,
        audience: str,
        *,
        keys_url: str = IAP_KEYS_URL,
        issuer: str = IAP_ISSUER,
        clock_skew_seconds: int = 30,
        session: requests.Session | None = None,
    ) -> None:
        if not audience:
            raise ValueError("audience must not be empty")
        self._audience = audience
        self._issuer = issuer
        self._clock_skew_seconds = clock_skew_seconds
        self._keys = _JwkCache(
            keys_url, session or requests.Session(), refetch_interval_seconds=30.0, monotonic=time.monotonic
        )

    def verify(self, assertion: str | None) -> SignedInUser:
        if not assertion or not assertion.strip():
            raise AuthError(401, f"no {IAP_HEADER} header: the page is reached through Identity-Aware Proxy only")
        token = assertion.strip()
        if len(token) > _MAX_ASSERTION_CHARS or any(char.isspace() for char in token):
            raise AuthError(401, "malformed IAP assertion")
        header, _, _ = _parse_unverified(token)
        if header.get("alg") != _ALGORITHM:
            raise AuthError(401, "IAP assertion not signed with ES256")
        key_id = header.get("kid")
        if not isinstance(key_id, str) or not key_id:
            raise AuthError(401, "IAP assertion names no key")
        keys = self._keys.get(key_id)
        if key_id not in keys:
            raise AuthError(401, "IAP assertion signed with an unknown key")
        try:
            claims = _jwt_decode(
                token, certs=keys, audience=self._audience, clock_skew_in_seconds=self._clock_skew_seconds
            )
        except (google_auth_exceptions.GoogleAuthError, ValueError, TypeError):
            raise AuthError(401, "IAP assertion refused (signature, audience or time)") from None
        return self._user(claims)

    def _user(self, claims: Mapping[str, Any]) -> SignedInUser:
        if claims.get("iss") != self._issuer:
            raise AuthError(401, "IAP assertion from the wrong issuer")
        issued_at, expires_at = claims.get("iat"), claims.get("exp")
        if not _is_number(issued_at) or not _is_number(expires_at):
            raise AuthError(401, "IAP assertion lacks iat or exp")
        if expires_at > issued_at + _MAX_LIFETIME_SECONDS + self._clock_skew_seconds:
            raise AuthError(401, "IAP assertion lives longer than IAP's do")
        email, subject = claims.get("email"), claims.get("sub")
        if not isinstance(email, str) or not email or not isinstance(subject, str) or not subject:
            raise AuthError(403, "IAP assertion names no user")
        return SignedInUser(email=email, subject=subject)


class _JwkCache(_CertificateCache):
    """The IAP key set ({"keys": [JWK...]}) as {kid: PEM public key}, cached like Google's certificates."""

    def _fetch(self) -> tuple[dict[str, str], float]:
        response = self._session.get(self._url, timeout=_CERTS_TIMEOUT_SECONDS)
        response.raise_for_status()
        body = response.json()
        keys = body.get("keys") if isinstance(body, dict) else None
        if not isinstance(keys, list) or not keys:
            raise ValueError("the IAP key endpoint answered no keys")
        return {str(key["kid"]): pem_of(key) for key in keys if _is_p256(key)}, _freshness_seconds(response.headers)


def _is_p256(key: object) -> bool:
    return (
        isinstance(key, dict) and key.get("kty") == "EC" and key.get("crv") == "P-256" and {"kid", "x", "y"} <= set(key)
    )


def pem_of(jwk: Mapping[str, Any]) -> str:
    """An EC P-256 JWK (RFC 7518 §6.2: x and y, base64url without padding) as a PEM public key.

    Six lines with `cryptography`, already a dependency, instead of PyJWT for its key set alone.
    """
    x, y = (int.from_bytes(_b64url(str(jwk[name])), "big") for name in ("x", "y"))
    public_key = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    encoded = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return encoded.decode("ascii")


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
