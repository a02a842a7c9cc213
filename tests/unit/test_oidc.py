"""OidcVerifier against the local issuer, whose certificates are served over loopback HTTP."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.oidc_issuer import CERTS_PATH, LocalIssuer, create_app, subject_for
from infra.serving import BackgroundServer
from maintenance_windows.auth import AuthError
from maintenance_windows.auth.oidc import OidcVerifier, VerifiedCaller

AUDIENCE = "https://plan-windows.example.run.app"
SCHEDULER = "scheduler@proj.iam.gserviceaccount.com"
TASKS = "tasks@proj.iam.gserviceaccount.com"


@contextmanager
def serving(issuer: LocalIssuer, max_age_seconds: int = 3600) -> Iterator[str]:
    with BackgroundServer(create_app(issuer, max_age_seconds=max_age_seconds)) as served:
        yield served.url + CERTS_PATH


class CountingSession(requests.Session):
    """A real session that counts the certificate fetches it makes."""

    def __init__(self) -> None:
        super().__init__()
        self.fetches = 0
        self.hooks["response"].append(self._count)

    def _count(self, _response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        self.fetches += 1


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Setup:
    issuer: LocalIssuer
    certs_url: str
    session: CountingSession
    clock: FakeMonotonic

    def verifier(self, **overrides: Any) -> OidcVerifier:
        options: dict[str, Any] = {
            "certs_url": self.certs_url,
            "session": self.session,
            "monotonic": self.clock,
        }
        return OidcVerifier(AUDIENCE, [SCHEDULER, TASKS], **(options | overrides))

    def bearer(self, **mint_options: Any) -> str:
        mint_options.setdefault("audience", AUDIENCE)
        mint_options.setdefault("email", SCHEDULER)
        return "Bearer " + self.issuer.mint(**mint_options)


@pytest.fixture(scope="module")
def shared_issuer(tmp_path_factory: pytest.TempPathFactory) -> LocalIssuer:
    return LocalIssuer(tmp_path_factory.mktemp("oidc-shared"))


@pytest.fixture(scope="module")
def shared_certs_url(shared_issuer: LocalIssuer) -> Iterator[str]:
    with serving(shared_issuer) as url:
        yield url


@pytest.fixture
def setup(shared_issuer: LocalIssuer, shared_certs_url: str) -> Iterator[Setup]:
    with CountingSession() as session:
        yield Setup(shared_issuer, shared_certs_url, session, FakeMonotonic())


@pytest.fixture
def private_setup(tmp_path: Path) -> Iterator[Setup]:
    """Its own issuer and server, for tests that rotate keys or change what is served."""
    issuer = LocalIssuer(tmp_path / "oidc")
    with serving(issuer) as url, CountingSession() as session:
        yield Setup(issuer, url, session, FakeMonotonic())


def refusal(verify: Callable[[], VerifiedCaller]) -> AuthError:
    with pytest.raises(AuthError) as caught:
        verify()
    return caught.value


def b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def replace_segment(bearer: str, index: int, segment: str) -> str:
    parts = bearer.removeprefix("Bearer ").split(".")
    parts[index] = segment
    return "Bearer " + ".".join(parts)


def claims_of(bearer: str) -> dict[str, Any]:
    payload = bearer.removeprefix("Bearer ").split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


class TestAccepted:
    def test_valid_token_names_the_caller(self, setup: Setup) -> None:
        caller = setup.verifier().verify(setup.bearer())
        assert caller == VerifiedCaller(email=SCHEDULER, subject=subject_for(SCHEDULER), audience=AUDIENCE)

    def test_every_allowed_email_and_both_google_issuers(self, setup: Setup) -> None:
        verifier = setup.verifier()
        assert verifier.verify(setup.bearer(email=TASKS)).email == TASKS
        assert verifier.verify(setup.bearer(issuer="accounts.google.com")).email == SCHEDULER

    def test_allowed_emails_compare_case_insensitively(self, setup: Setup) -> None:
        verifier = setup.verifier()
        assert verifier.verify(setup.bearer(email=SCHEDULER.upper())).email == SCHEDULER.upper()

    def test_clock_skew_is_tolerated(self, setup: Setup) -> None:
        slightly_future = datetime.now(UTC) + timedelta(seconds=5)
        assert setup.verifier().verify(setup.bearer(now=slightly_future)).email == SCHEDULER
        just_expired = datetime.now(UTC) - timedelta(seconds=3605)
        assert setup.verifier().verify(setup.bearer(now=just_expired)).email == SCHEDULER


class TestRefusedWith401:
    @pytest.mark.parametrize(
        ("header", "reason"),
        [
            (None, "missing bearer token"),
            ("", "missing bearer token"),
            ("Basic dXNlcjpwYXNz", "authorization is not a bearer token"),
            ("Bearer", "malformed bearer token"),
            ("Bearer a b", "malformed bearer token"),
            ("Bearer not-a-jwt", "malformed token"),
            ("Bearer a.b.c", "malformed token"),
            ("Bearer " + "x" * 9000, "malformed bearer token"),
        ],
    )
    def test_missing_or_malformed(self, setup: Setup, header: str | None, reason: str) -> None:
        error = refusal(lambda: setup.verifier().verify(header))
        assert (error.status, error.reason) == (401, reason)

    def test_expired(self, setup: Setup) -> None:
        long_ago = datetime.now(UTC) - timedelta(hours=2)
        error = refusal(lambda: setup.verifier().verify(setup.bearer(now=long_ago)))
        assert (error.status, error.reason) == (401, "token expired")

    def test_issued_in_the_future(self, setup: Setup) -> None:
        later = datetime.now(UTC) + timedelta(minutes=5)
        error = refusal(lambda: setup.verifier().verify(setup.bearer(now=later)))
        assert (error.status, error.reason) == (401, "token issued in the future")

    def test_not_valid_yet(self, setup: Setup) -> None:
        an_hour_ahead = datetime.now(UTC) + timedelta(hours=1)
        error = refusal(lambda: setup.verifier().verify(setup.bearer(not_before=an_hour_ahead)))
        assert (error.status, error.reason) == (401, "token not valid yet (nbf)")

    def test_not_before_within_the_clock_skew_or_past_is_accepted(self, setup: Setup) -> None:
        verifier = setup.verifier()
        assert verifier.verify(setup.bearer(not_before=datetime.now(UTC) + timedelta(seconds=5))).email == SCHEDULER
        assert verifier.verify(setup.bearer(not_before=datetime.now(UTC) - timedelta(minutes=5))).email == SCHEDULER

    def test_a_lifetime_longer_than_googles_hour(self, setup: Setup) -> None:
        century = 100 * 365 * 24 * 3600
        error = refusal(lambda: setup.verifier().verify(setup.bearer(expires_in=century)))
        assert (error.status, error.reason) == (401, "token lifetime exceeds 3600 s")

    def test_the_lifetime_bound_is_an_hour_plus_the_clock_skew(self, setup: Setup) -> None:
        verifier = setup.verifier(clock_skew_seconds=10)
        assert verifier.verify(setup.bearer(expires_in=3610)).email == SCHEDULER
        assert refusal(lambda: verifier.verify(setup.bearer(expires_in=3611))).reason == "token lifetime exceeds 3600 s"

    def test_wrong_audience(self, setup: Setup) -> None:
        error = refusal(lambda: setup.verifier().verify(setup.bearer(audience="https://other.run.app")))
        assert (error.status, error.reason) == (401, "wrong audience")

    def test_wrong_issuer(self, setup: Setup) -> None:
        token = setup.bearer(issuer="https://securetoken.google.com/proj")
        error = refusal(lambda: setup.verifier().verify(token))
        assert (error.status, error.reason) == (401, "wrong issuer")

    def test_signed_by_another_key_under_a_trusted_kid(self, setup: Setup, tmp_path: Path) -> None:
        impostor = LocalIssuer(tmp_path / "impostor")
        token = "Bearer " + impostor.mint(AUDIENCE, SCHEDULER, kid=setup.issuer.kid)
        error = refusal(lambda: setup.verifier().verify(token))
        assert (error.status, error.reason) == (401, "invalid signature")

    def test_claims_altered_after_signing(self, setup: Setup) -> None:
        genuine = setup.bearer(email=TASKS)
        forged = replace_segment(genuine, 1, b64url(claims_of(genuine) | {"email": SCHEDULER}))
        error = refusal(lambda: setup.verifier().verify(forged))
        assert (error.status, error.reason) == (401, "invalid signature")

    @pytest.mark.parametrize("algorithm", ["none", "HS256", "ES256"])
    def test_algorithms_other_than_rs256(self, setup: Setup, algorithm: str) -> None:
        token = replace_segment(setup.bearer(), 0, b64url({"alg": algorithm, "kid": setup.issuer.kid}))
        error = refusal(lambda: setup.verifier().verify(token))
        assert (error.status, error.reason) == (401, "unsupported signing algorithm")

    def test_unknown_key_id(self, setup: Setup) -> None:
        error = refusal(lambda: setup.verifier().verify(setup.bearer(kid="0" * 40)))
        assert (error.status, error.reason) == (401, "unknown signing key")

    def test_reasons_never_contain_the_token(self, setup: Setup, tmp_path: Path) -> None:
        impostor = LocalIssuer(tmp_path / "impostor")
        tokens = [
            setup.bearer(now=datetime.now(UTC) - timedelta(hours=2)),
            setup.bearer(audience="https://other.run.app"),
            "Bearer " + impostor.mint(AUDIENCE, SCHEDULER, kid=setup.issuer.kid),
            "Bearer secret-looking-garbage",
            "Bearer " + impostor.mint(AUDIENCE, SCHEDULER)[:-1],
        ]
        for token in tokens:
            error = refusal(partial(setup.verifier().verify, token))
            raw = token.removeprefix("Bearer ")
            assert raw not in error.reason
            assert raw not in str(error)
            assert raw.split(".")[-1] not in str(error)


class TestRefusedWith403:
    def test_email_not_verified(self, setup: Setup) -> None:
        error = refusal(lambda: setup.verifier().verify(setup.bearer(email_verified=False)))
        assert (error.status, error.reason) == (403, "email not verified")

    def test_email_not_allowed(self, setup: Setup) -> None:
        error = refusal(lambda: setup.verifier().verify(setup.bearer(email="intruder@proj.iam.gserviceaccount.com")))
        assert (error.status, error.reason) == (403, "caller not allowed")

    def test_no_allowed_emails_refuses_everyone(self, setup: Setup) -> None:
        verifier = OidcVerifier(AUDIENCE, [], certs_url=setup.certs_url, session=setup.session)
        error = refusal(lambda: verifier.verify(setup.bearer()))
        assert error.status == 403


class TestCertificateCache:
    def test_one_fetch_serves_many_verifications(self, setup: Setup) -> None:
        verifier = setup.verifier()
        for _ in range(25):
            verifier.verify(setup.bearer())
        assert setup.session.fetches == 1

    def test_refetches_after_max_age(self, tmp_path: Path) -> None:
        issuer = LocalIssuer(tmp_path / "oidc")
        clock = FakeMonotonic()
        with serving(issuer, max_age_seconds=60) as url, CountingSession() as session:
            verifier = OidcVerifier(AUDIENCE, [SCHEDULER], certs_url=url, session=session, monotonic=clock)
            token = "Bearer " + issuer.mint(AUDIENCE, SCHEDULER)
            verifier.verify(token)
            clock.now += 59
            verifier.verify(token)
            assert session.fetches == 1
            clock.now += 2
            verifier.verify(token)
            assert session.fetches == 2

    def test_key_rotation_costs_exactly_one_refetch(self, private_setup: Setup) -> None:
        verifier = private_setup.verifier()
        verifier.verify(private_setup.bearer())
        private_setup.clock.now += 31  # past the unknown-key refetch interval, well inside max-age
        new_kid = private_setup.issuer.rotate()

        caller = verifier.verify(private_setup.bearer())

        assert caller.email == SCHEDULER
        assert private_setup.session.fetches == 2
        verifier.verify(private_setup.bearer(kid=new_kid))
        assert private_setup.session.fetches == 2

    def test_unknown_key_ids_cannot_force_a_fetch_per_request(self, setup: Setup) -> None:
        verifier = setup.verifier()
        verifier.verify(setup.bearer())
        for index in range(10):
            refusal(partial(verifier.verify, setup.bearer(kid=f"{index:040d}")))
        assert setup.session.fetches == 1
        setup.clock.now += 31
        refusal(lambda: verifier.verify(setup.bearer(kid="f" * 40)))
        assert setup.session.fetches == 2

    def test_unreachable_endpoint_without_cache_is_503(self, setup: Setup) -> None:
        verifier = setup.verifier(certs_url=f"http://127.0.0.1:{closed_port()}{CERTS_PATH}")
        error = refusal(lambda: verifier.verify(setup.bearer()))
        assert (error.status, error.reason) == (503, "signing certificates unavailable")

    def test_stale_certificates_keep_serving_when_a_refresh_fails(self, tmp_path: Path) -> None:
        issuer = LocalIssuer(tmp_path / "oidc")
        clock = FakeMonotonic()
        with CountingSession() as session:
            with serving(issuer, max_age_seconds=60) as url:
                verifier = OidcVerifier(AUDIENCE, [SCHEDULER], certs_url=url, session=session, monotonic=clock)
                verifier.verify("Bearer " + issuer.mint(AUDIENCE, SCHEDULER))
            clock.now += 120  # expired, and the endpoint is gone
            assert verifier.verify("Bearer " + issuer.mint(AUDIENCE, SCHEDULER)).email == SCHEDULER


class TestSignatureRemovedByCloudRun:
    @staticmethod
    def stripped(bearer: str) -> str:
        return replace_segment(bearer, 2, "SIGNATURE_REMOVED_BY_GOOGLE")

    def test_refused_unless_the_deployment_says_cloud_run_verified_it(self, setup: Setup) -> None:
        error = refusal(lambda: setup.verifier().verify(self.stripped(setup.bearer())))
        assert error.status == 401
        assert "accept_platform_verified" in error.reason

    def test_accepted_claims_still_checked_when_trusted(self, setup: Setup) -> None:
        verifier = setup.verifier(accept_platform_verified=True)
        assert verifier.verify(self.stripped(setup.bearer())).email == SCHEDULER
        expired = self.stripped(setup.bearer(now=datetime.now(UTC) - timedelta(hours=2)))
        assert refusal(lambda: verifier.verify(expired)).reason == "token expired"
        foreign = self.stripped(setup.bearer(audience="https://other.run.app"))
        assert refusal(lambda: verifier.verify(foreign)).reason == "wrong audience"
        intruder = self.stripped(setup.bearer(email="intruder@proj.iam.gserviceaccount.com"))
        assert refusal(lambda: verifier.verify(intruder)).status == 403
        assert setup.session.fetches == 0

    @pytest.mark.parametrize(
        ("changes", "reason"),
        [
            ({"nbf": "later"}, "token has a malformed nbf"),
            ({"exp": float("nan")}, "token lacks iat or exp"),
            ({"exp": float("inf")}, "token lacks iat or exp"),
            ({"exp": 10**400}, "token lifetime exceeds 3600 s"),
            ({"iat": 1.5, "exp": 10**400}, "token lifetime exceeds 3600 s"),
        ],
    )
    def test_validity_claims_are_checked_when_trusted(self, setup: Setup, changes: dict[str, Any], reason: str) -> None:
        """The unsigned path must hold the same bounds, and odd numbers must not crash them."""
        claims = claims_of(setup.bearer()) | changes
        token = self.stripped(replace_segment(setup.bearer(), 1, b64url(claims)))
        error = refusal(partial(setup.verifier(accept_platform_verified=True).verify, token))
        assert (error.status, error.reason) == (401, reason)

    def test_not_before_and_lifetime_hold_when_trusted(self, setup: Setup) -> None:
        verifier = setup.verifier(accept_platform_verified=True)
        ahead = self.stripped(setup.bearer(not_before=datetime.now(UTC) + timedelta(hours=1)))
        assert refusal(lambda: verifier.verify(ahead)).reason == "token not valid yet (nbf)"
        long_lived = self.stripped(setup.bearer(expires_in=100 * 365 * 24 * 3600))
        assert refusal(lambda: verifier.verify(long_lived)).reason == "token lifetime exceeds 3600 s"

    @pytest.mark.parametrize(
        ("changes", "status", "reason"),
        [
            ({"exp": None}, 401, "token lacks iat or exp"),
            ({"iat": "yesterday"}, 401, "token lacks iat or exp"),
            ({"sub": None}, 401, "token lacks a subject"),
            ({"email": None}, 403, "token carries no email"),
            ({"email_verified": 1}, 403, "email not verified"),
            ({"email_verified": "false"}, 403, "email not verified"),
            ({"email_verified": "true"}, None, None),
        ],
    )
    def test_claim_shapes(self, setup: Setup, changes: dict[str, Any], status: int | None, reason: str) -> None:
        claims = {key: value for key, value in (claims_of(setup.bearer()) | changes).items() if value is not None}
        token = self.stripped(replace_segment(setup.bearer(), 1, b64url(claims)))
        verifier = setup.verifier(accept_platform_verified=True)
        if status is None:
            assert verifier.verify(token).email == SCHEDULER
        else:
            error = refusal(partial(verifier.verify, token))
            assert (error.status, error.reason) == (status, reason)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
