"""A stand-in for Google's ID-token minting: an RSA key, its self-signed certificate and RS256 tokens.

Tokens carry the same claims as the ID tokens Cloud Scheduler and Cloud Tasks send (iss, aud, azp, sub,
email, email_verified, iat, exp), so the production verifier checks them unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

# google-auth's signer and jwt.encode carry no annotations; these aliases give them the types its docs state.
_signer_from_pem: Callable[..., crypt.Signer] = crypt.RSASigner.from_string
_jwt_encode: Callable[..., bytes] = jwt.encode

GOOGLE_ISSUER = "https://accounts.google.com"
KEY_FILE_NAME = "signing-key.pem"
_CERTIFICATE_MARKER = b"-----BEGIN CERTIFICATE-----"
# Google publishes the current and the previous key; keeping two lets rotation tests mirror that.
_PUBLISHED_KEYS = 2


@dataclass(frozen=True)
class SigningKey:
    kid: str
    certificate_pem: str
    signer: crypt.Signer

    @classmethod
    def from_bundle(cls, bundle: bytes) -> SigningKey:
        """A bundle is the PKCS#8 private key followed by its certificate, both PEM."""
        split_at = bundle.index(_CERTIFICATE_MARKER)
        key_pem, certificate_pem = bundle[:split_at], bundle[split_at:]
        certificate = x509.load_pem_x509_certificate(certificate_pem)
        # A stable id: the same key directory always yields the same kid across restarts.
        kid = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()[:40]
        return cls(
            kid=kid,
            certificate_pem=certificate_pem.decode("ascii"),
            signer=_signer_from_pem(key_pem, key_id=kid),
        )


class LocalIssuer:
    """Signs ID tokens with a key kept in `key_dir` (created once, reused by every later process)."""

    def __init__(self, key_dir: Path) -> None:
        self._lock = threading.Lock()
        self._keys = [SigningKey.from_bundle(_load_or_create_bundle(key_dir / KEY_FILE_NAME))]

    @property
    def kid(self) -> str:
        """Key id of the key that signs new tokens."""
        return self._keys[-1].kid

    def certificates(self) -> dict[str, str]:
        """What Google's /oauth2/v1/certs answers: {kid: PEM certificate} for every published key."""
        with self._lock:
            return {key.kid: key.certificate_pem for key in self._keys}

    def rotate(self) -> str:
        """Sign with a fresh key from now on, still publishing the previous one; returns the new kid.

        The new key lives in memory only (a restart goes back to the key on disk): it exists to exercise
        verifiers' handling of key rollover.
        """
        fresh = SigningKey.from_bundle(_new_bundle())
        with self._lock:
            self._keys = [*self._keys, fresh][-_PUBLISHED_KEYS:]
        return fresh.kid

    def mint(
        self,
        audience: str,
        email: str,
        *,
        issuer: str = GOOGLE_ISSUER,
        expires_in: int = 3600,
        email_verified: bool = True,
        kid: str | None = None,
        now: datetime | None = None,
        not_before: datetime | None = None,
    ) -> str:
        """An RS256 ID token. `kid` overrides the header's key id and `not_before` adds an `nbf` claim, which
        Google's ID tokens do not carry (both to forge tokens for tests)."""
        issued_at = int((now or datetime.now(UTC)).timestamp())
        subject = subject_for(email)
        claims = {
            "iss": issuer,
            "aud": audience,
            "azp": subject,
            "sub": subject,
            "email": email,
            "email_verified": email_verified,
            "iat": issued_at,
            "exp": issued_at + expires_in,
        }
        if not_before is not None:
            claims["nbf"] = int(not_before.timestamp())
        with self._lock:
            signer = self._keys[-1].signer
        token = _jwt_encode(signer, claims, key_id=kid)
        return token.decode("ascii")


def subject_for(email: str) -> str:
    """A stable 21-digit id per account, shaped like the numeric `sub` Google gives service accounts."""
    digest = int(hashlib.sha256(email.casefold().encode("utf-8")).hexdigest()[:16], 16)
    return str(10**20 + digest % (9 * 10**20))


def _load_or_create_bundle(path: Path) -> bytes:
    with contextlib.suppress(FileNotFoundError):
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".signing-key-")  # mode 0600
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(_new_bundle())
        # link() refuses to replace: when two processes start together, exactly one key wins and both use it.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return path.read_bytes()


def _new_bundle() -> bytes:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "local-oidc-issuer")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(private_key, hashes.SHA256())
    )
    key_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem + certificate.public_bytes(serialization.Encoding.PEM)
