"""Verification of the Google-signed OIDC ID tokens that Cloud Scheduler and Cloud Tasks send.

google-auth does the cryptography (google.auth.jwt.decode checks the RS256 signature, iat/exp with clock
skew and the audience); we add what it leaves out: `nbf`, and a lifetime no longer than the hour Google's ID
tokens live. We fetch the signing certificates ourselves instead of calling
id_token.verify_token, because that downloads them on every call: a round trip to Google per request, and
one failure mode more. The cache honours Cache-Control max-age (Google sets it to hours and rotates keys
well inside that), and refetches once when a token names a key id it does not hold, so a rotation that
beats the cache expiry costs one fetch, not an outage.

Cloud Run in front of an IAM-protected service verifies the token itself and then replaces its signature
with SIGNATURE_REMOVED_BY_GOOGLE before the request reaches us. Such a token can only be trusted when the
service cannot be reached without IAM (run.invoker not granted to allUsers); `accept_platform_verified`
says so explicitly and is off by default, so a public deployment can never be fooled by a forged marker.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

import requests
from google.auth import exceptions as google_auth_exceptions
from google.auth import jwt

from maintenance_windows.auth import AuthError
from maintenance_windows.observability import get_logger, log

__all__ = ["GOOGLE_CERTS_URL", "GOOGLE_ISSUERS", "AuthError", "OidcVerifier", "VerifiedCaller"]

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
PLATFORM_REMOVED_SIGNATURE = "SIGNATURE_REMOVED_BY_GOOGLE"
#: Google's ID tokens (Cloud Scheduler's and Cloud Tasks' included) expire an hour after they are issued.
GOOGLE_ID_TOKEN_LIFETIME_SECONDS = 3600

# Google's ID tokens are about 1 KB; the cap keeps a hostile header from costing parse time.
_MAX_TOKEN_CHARS = 8192
_SUPPORTED_ALGORITHM = "RS256"
# Used when the certificate endpoint sends no max-age (Google always does; a stand-in might not).
_DEFAULT_CERTS_TTL_SECONDS = 300.0
# After a failed refresh, keep serving the stale certificates for this long before trying again.
_STALE_RETRY_SECONDS = 30.0
_CERTS_TIMEOUT_SECONDS = 5.0
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age=(\d+)", re.IGNORECASE)

_logger = get_logger(__name__)

# google-auth's jwt functions carry no annotations; these aliases give them the types its docs state.
_jwt_decode: Callable[..., Mapping[str, Any]] = jwt.decode
_jwt_decode_header: Callable[[str], Mapping[str, Any]] = jwt.decode_header


@dataclass(frozen=True)
class VerifiedCaller:
    email: str
    subject: str
    audience: str


class OidcVerifier:
    """Checks `Authorization: Bearer <ID token>` for one audience and a set of allowed service accounts.

    Build it once per process: it holds the certificate cache and is safe to share between threads.
    401 means "who are you?" (no, broken, expired or foreign token); 403 means "I know you, and no".
    503 means the certificates could not be fetched and none are cached (the caller should retry).
    """

    def __init__(
        self,
        audience: str,
        allowed_emails: Collection[str],
        *,
        certs_url: str = GOOGLE_CERTS_URL,
        issuers: Collection[str] = GOOGLE_ISSUERS,
        clock_skew_seconds: int = 10,
        max_lifetime_seconds: int = GOOGLE_ID_TOKEN_LIFETIME_SECONDS,
        session: requests.Session | None = None,
        accept_platform_verified: bool = False,
        unknown_key_refetch_interval_seconds: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not audience:
            raise ValueError("audience must not be empty")
        self._audience = audience
        self._allowed_emails = frozenset(email.casefold() for email in allowed_emails)
        self._issuers = frozenset(issuers)
        self._clock_skew_seconds = clock_skew_seconds
        self._max_lifetime_seconds = max_lifetime_seconds
        self._accept_platform_verified = accept_platform_verified
        self._certificates = _CertificateCache(
            certs_url,
            session or requests.Session(),
            refetch_interval_seconds=unknown_key_refetch_interval_seconds,
            monotonic=monotonic,
        )

    def verify(self, authorization_header: str | None) -> VerifiedCaller:
        token = _bearer_token(authorization_header)
        header, unverified_claims, signature = _parse_unverified(token)
        if signature == PLATFORM_REMOVED_SIGNATURE:
            claims = self._platform_verified_claims(unverified_claims)
        else:
            claims = self._verified_claims(token, header, unverified_claims)
        if claims.get("iss") not in self._issuers:
            raise AuthError(401, "wrong issuer")
        # google-auth checks iat and exp only: a not-yet-valid or overlong token passes its decode.
        problem = self._validity_problem(claims)
        if problem:
            raise AuthError(401, problem)
        return self._authorised_caller(claims)

    def _verified_claims(
        self, token: str, header: Mapping[str, Any], unverified_claims: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        if header.get("alg") != _SUPPORTED_ALGORITHM:
            raise AuthError(401, "unsupported signing algorithm")
        key_id = header.get("kid")
        if key_id is not None and not isinstance(key_id, str):
            raise AuthError(401, "malformed token")
        certificates = self._certificates.get(key_id)
        if key_id is not None and key_id not in certificates:
            raise AuthError(401, "unknown signing key")
        try:
            claims = _jwt_decode(
                token,
                certs=certificates,
                audience=self._audience,
                clock_skew_in_seconds=self._clock_skew_seconds,
            )
        except (google_auth_exceptions.GoogleAuthError, ValueError, TypeError):
            # The library's messages may quote the token, so they are dropped; the reason is rebuilt from
            # the claims, naming the first check (in the library's order after the signature) they fail.
            raise AuthError(401, self._claim_problem(unverified_claims) or "invalid signature") from None
        return claims

    def _platform_verified_claims(self, claims: Mapping[str, Any]) -> Mapping[str, Any]:
        if not self._accept_platform_verified:
            raise AuthError(
                401,
                "token signature removed by Cloud Run: the service is IAM-protected, "
                "so construct the verifier with accept_platform_verified=True",
            )
        problem = self._claim_problem(claims)
        if problem:
            raise AuthError(401, problem)
        return claims

    def _claim_problem(self, claims: Mapping[str, Any]) -> str | None:
        issued_at, expires_at = claims.get("iat"), claims.get("exp")
        if not _is_number(issued_at) or not _is_number(expires_at):
            return "token lacks iat or exp"
        now = time.time()
        if expires_at + self._clock_skew_seconds < now:
            return "token expired"
        if issued_at - self._clock_skew_seconds > now:
            return "token issued in the future"
        if claims.get("aud") != self._audience:
            return "wrong audience"
        return None

    def _validity_problem(self, claims: Mapping[str, Any]) -> str | None:
        """What google-auth leaves unchecked: nbf, and a lifetime no Google ID token has.

        Google's ID tokens live one hour (https://cloud.google.com/docs/authentication/token-types, "ID
        tokens"); a signed token valid for longer, or not valid yet, was not minted by Google for this call.
        """
        issued_at, expires_at, not_before = claims.get("iat"), claims.get("exp"), claims.get("nbf")
        if not _is_number(issued_at) or not _is_number(expires_at):
            return "token lacks iat or exp"
        now = time.time()
        if not_before is not None and not _is_number(not_before):
            return "token has a malformed nbf"
        if not_before is not None and not_before - self._clock_skew_seconds > now:
            return "token not valid yet (nbf)"
        # Comparisons, not differences: an int of hundreds of digits minus a float raises OverflowError.
        if expires_at > issued_at + self._max_lifetime_seconds + self._clock_skew_seconds:
            return f"token lifetime exceeds {self._max_lifetime_seconds} s"
        if expires_at > now + self._max_lifetime_seconds + self._clock_skew_seconds:
            return f"token expires more than {self._max_lifetime_seconds} s from now"
        return None

    def _authorised_caller(self, claims: Mapping[str, Any]) -> VerifiedCaller:
        email, subject = claims.get("email"), claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise AuthError(401, "token lacks a subject")
        if not isinstance(email, str) or not email:
            raise AuthError(403, "token carries no email")
        # Google's ID tokens carry a JSON boolean; the string form is what tokeninfo answers.
        verified = claims.get("email_verified")
        if verified is not True and verified != "true":
            raise AuthError(403, "email not verified")
        if email.casefold() not in self._allowed_emails:
            raise AuthError(403, "caller not allowed")
        return VerifiedCaller(email=email, subject=subject, audience=self._audience)


class _CertificateCache:
    """{key id: PEM certificate} from a Google-style endpoint, cached per Cache-Control max-age."""

    def __init__(
        self,
        url: str,
        session: requests.Session,
        *,
        refetch_interval_seconds: float,
        monotonic: Callable[[], float],
    ) -> None:
        self._url = url
        self._session = session
        self._refetch_interval_seconds = refetch_interval_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._certificates: dict[str, str] = {}
        self._expires_at = 0.0
        self._attempted_at: float | None = None

    def get(self, key_id: str | None) -> Mapping[str, str]:
        """Fresh certificates; refetched when expired, or when `key_id` is unknown and the last attempt
        is old enough (the interval stops tokens with made-up key ids from hammering the endpoint)."""
        with self._lock:
            now = self._monotonic()
            if not self._certificates or now >= self._expires_at or self._should_refetch_for(key_id, now):
                self._refresh(now)
            # _refresh swaps in a new dict rather than mutating, so handing this one out is safe.
            return self._certificates

    def _should_refetch_for(self, key_id: str | None, now: float) -> bool:
        if key_id is None or key_id in self._certificates:
            return False
        return self._attempted_at is None or now - self._attempted_at >= self._refetch_interval_seconds

    def _refresh(self, now: float) -> None:
        self._attempted_at = now
        try:
            certificates, ttl = self._fetch()
        except (requests.RequestException, ValueError) as error:
            if not self._certificates:
                log(_logger, logging.ERROR, "signing certificates unavailable", error=type(error).__name__)
                raise AuthError(503, "signing certificates unavailable") from None
            log(
                _logger,
                logging.WARNING,
                "certificate refresh failed; using cached",
                error=type(error).__name__,
            )
            self._expires_at = now + _STALE_RETRY_SECONDS
            return
        self._certificates = certificates
        self._expires_at = now + ttl
        log(_logger, logging.INFO, "signing certificates fetched", keys=len(certificates), ttl_seconds=ttl)

    def _fetch(self) -> tuple[dict[str, str], float]:
        response = self._session.get(self._url, timeout=_CERTS_TIMEOUT_SECONDS)
        response.raise_for_status()
        body = response.json()
        if not isinstance(body, dict) or not body:
            raise ValueError("certificate endpoint answered no certificates")
        if not all(isinstance(kid, str) and isinstance(pem, str) for kid, pem in body.items()):
            raise ValueError("certificate endpoint answered a non-string entry")
        return body, _freshness_seconds(response.headers)


def _freshness_seconds(headers: Mapping[str, str]) -> float:
    """max-age minus Age (RFC 9111 §4.2), or a short default when the endpoint sends no max-age."""
    match = _MAX_AGE.search(headers.get("Cache-Control", ""))
    if not match:
        return _DEFAULT_CERTS_TTL_SECONDS
    age = headers.get("Age", "0")
    return max(0.0, float(match.group(1)) - (float(age) if age.isdigit() else 0.0))


def _bearer_token(authorization_header: str | None) -> str:
    if not authorization_header or not authorization_header.strip():
        raise AuthError(401, "missing bearer token")
    scheme, _, token = authorization_header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise AuthError(401, "authorization is not a bearer token")
    token = token.strip()
    if not token or len(token) > _MAX_TOKEN_CHARS or any(char.isspace() for char in token):
        raise AuthError(401, "malformed bearer token")
    return token


def _parse_unverified(token: str) -> tuple[Mapping[str, Any], Mapping[str, Any], str]:
    """Header, claims and raw signature segment, without any verification (to pick the key and to
    explain a refusal)."""
    segments = token.split(".")
    if len(segments) != 3:
        raise AuthError(401, "malformed token")
    try:
        header = _jwt_decode_header(token)
        claims = _jwt_decode(token, verify=False)
    except (google_auth_exceptions.GoogleAuthError, ValueError, TypeError):
        raise AuthError(401, "malformed token") from None
    return header, claims, segments[2]


def _is_number(value: object) -> TypeGuard[int | float]:
    # NaN would pass every comparison above (each is False); infinities are no time either.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)
