"""Shared-secret authentication for fleet_webhook.

Fleet cannot sign its webhooks. The operator puts the secret in the webhook URL instead, either as
userinfo (https://fleet:SECRET@host/...; Fleet's HTTP client turns it into `Authorization: Basic`) or as a
`token` query parameter; a `Bearer` header is accepted too for callers that can set headers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from pydantic import SecretStr


class HeaderItems(Protocol):
    """Any Mapping[str, str], and werkzeug's Headers/EnvironHeaders (which are not Mappings)."""

    def items(self) -> Iterable[tuple[str, str]]: ...


def presented_secrets(headers: HeaderItems, query: Mapping[str, str]) -> list[str]:
    """Every candidate secret in the request: Basic password, Bearer token, `token` query parameter.

    Malformed credentials count as absent: the caller answers 401 either way, and raising here would
    turn a bad request into a 500.
    """
    found: list[str] = []
    authorization = _header(headers, "Authorization")
    if authorization:
        scheme, _, credentials = authorization.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "basic":
            password = _basic_password(credentials)
            if password:
                found.append(password)
        elif scheme.lower() == "bearer" and credentials:
            found.append(credentials)
    query_token = query.get("token")
    if query_token:
        found.append(query_token)
    return found


def secret_matches(presented: Sequence[str], valid: Sequence[SecretStr | str]) -> bool:
    """True when any presented secret equals any valid one, in time independent of which and where.

    Both sides are hashed first so that compare_digest sees equal lengths and the secret's length does not
    leak; every pair is compared, without early exit, so with several valid secrets (rotation) the timing
    does not tell which one matched or how many there are.
    """
    presented_digests = [_digest(secret) for secret in presented if secret]
    valid_digests = [_digest(_reveal(secret)) for secret in valid if _reveal(secret)]
    matched = False
    for candidate in presented_digests:
        for expected in valid_digests:
            matched |= hmac.compare_digest(candidate, expected)
    return matched


def _header(headers: HeaderItems, name: str) -> str | None:
    # Plain dicts (tests, other frameworks) are case-sensitive; HTTP header names are not.
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _basic_password(credentials: str) -> str | None:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(":")
    del user  # any user name is accepted: Fleet's docs leave it to the operator
    return password if colon else None


def _reveal(secret: SecretStr | str) -> str:
    return secret.get_secret_value() if isinstance(secret, SecretStr) else secret


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()
