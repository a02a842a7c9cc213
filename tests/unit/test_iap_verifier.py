"""IAP's signed header, checked as its documentation says; assertions minted by the local IAP stand-in."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from google.auth import jwt

from infra.iap_proxy.app import LocalIap
from maintenance_windows.auth import AuthError
from maintenance_windows.auth.iap import IapVerifier, pem_of

# google-auth's jwt functions carry no annotations; these aliases give them the types its docs state.
_decode: Callable[..., dict[str, Any]] = jwt.decode
_encode: Callable[..., bytes] = jwt.encode
AUDIENCE = "/projects/123456789/locations/europe-west1/services/mw-status-page"


class KeySession:
    """A requests.Session stand-in answering the key set URL."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.fetches = 0

    def get(self, url: str, timeout: float) -> Any:  # noqa: ARG002  # requests.Session.get's signature
        self.fetches += 1
        body = self.body

        class Answer:
            headers: ClassVar[dict[str, str]] = {"Cache-Control": "public, max-age=3600"}

            def raise_for_status(self) -> None:
                return None

            def json(self) -> dict[str, Any]:
                return body

        return Answer()


def iap(audience: str = AUDIENCE) -> LocalIap:
    return LocalIap("http://127.0.0.1:1", audience, ["admin@acme.example"], "pw")


def verifier(proxy: LocalIap) -> tuple[IapVerifier, KeySession]:
    session = KeySession(proxy.key_set())
    return IapVerifier(AUDIENCE, keys_url="http://keys", session=session), session  # type: ignore[arg-type]


def test_a_fresh_assertion_names_the_signed_in_user_and_keys_are_fetched_once() -> None:
    proxy = iap()
    check, session = verifier(proxy)
    assert check.verify(proxy.assertion("admin@acme.example")).email == "admin@acme.example"
    assert check.verify(proxy.assertion("admin@acme.example")).subject.startswith("accounts.google.com:")
    assert session.fetches == 1


@pytest.mark.parametrize("header", [None, "", "   ", "not-a-jwt", "a.b.c", "x" * 9000])
def test_no_or_broken_header_is_401(header: str | None) -> None:
    check, _ = verifier(iap())
    with pytest.raises(AuthError) as refused:
        check.verify(header)
    assert refused.value.status == 401


def test_another_audience_is_refused() -> None:
    proxy = iap("/projects/1/global/backendServices/2")
    check, _ = verifier(proxy)
    with pytest.raises(AuthError, match="signature, audience or time"):
        check.verify(proxy.assertion("admin@acme.example"))


def test_a_key_not_in_the_set_is_refused() -> None:
    signer, other = iap(), iap()
    check, _ = verifier(other)
    with pytest.raises(AuthError, match="unknown key"):
        check.verify(signer.assertion("admin@acme.example"))


def test_a_forged_signature_under_a_known_key_id_is_refused() -> None:
    real, forger = iap(), iap()
    claims = _decode(real.assertion("admin@acme.example"), verify=False)
    forged = _encode(forger._signer, claims, key_id=real.kid).decode()
    check, _ = verifier(real)
    with pytest.raises(AuthError, match="signature, audience or time"):
        check.verify(forged)


def test_an_expired_assertion_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = iap()
    check, _ = verifier(proxy)
    issued = time.time() - 3600
    monkeypatch.setattr(time, "time", lambda: issued)
    old = proxy.assertion("admin@acme.example")
    monkeypatch.undo()
    with pytest.raises(AuthError):
        check.verify(old)


def test_the_wrong_issuer_is_refused() -> None:
    proxy = iap()
    claims = dict(_decode(proxy.assertion("admin@acme.example"), verify=False), iss="https://accounts.google.com")
    token = _encode(proxy._signer, claims).decode()
    check, _ = verifier(proxy)
    with pytest.raises(AuthError, match="wrong issuer"):
        check.verify(token)


def test_a_jwk_becomes_the_same_public_key() -> None:
    proxy = iap()
    (key,) = proxy.key_set()["keys"]
    expected = proxy._key.public_key().public_bytes(*_pem_spki()).decode()
    assert pem_of(key) == expected


def _pem_spki() -> tuple[Any, Any]:
    from cryptography.hazmat.primitives import serialization

    return serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
