"""Per-user Google credentials for Calendar, through domain-wide delegation.

Three modes, chosen by MW_CALENDAR_CREDENTIALS:
- "keyless" (production): the runtime's own identity asks the IAM Credentials API to sign the
  delegation JWT (signJwt), so no service-account key exists anywhere.
- a path to a service-account JSON key: the classic set-up, for environments that still use keys.
- "local": for the local Calendar stand-in. With its token endpoint (`local_token_uri(api_endpoint)`), the
  same service-account credentials as production mint each user's token there, so a user whose delegation is
  refused fails alone with google-auth's RefreshError, as on Google. Without it, a static bearer token
  `local:<email>` that the stand-in reads as the user.

google-auth ships without annotations on these constructors, hence the targeted type-ignores.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

import google.auth
import google.auth.credentials
import google.auth.crypt
import google.auth.iam
import google.auth.transport.requests
from google.oauth2 import credentials as oauth2_credentials
from google.oauth2 import service_account

CALENDAR_EVENTS_SCOPE = "https://www.googleapis.com/auth/calendar.events"
CALENDAR_FREEBUSY_SCOPE = "https://www.googleapis.com/auth/calendar.freebusy"
CALENDAR_SETTINGS_SCOPE = "https://www.googleapis.com/auth/calendar.settings.readonly"
CALENDAR_SCOPES: tuple[str, ...] = (CALENDAR_EVENTS_SCOPE, CALENDAR_FREEBUSY_SCOPE, CALENDAR_SETTINGS_SCOPE)
TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - an endpoint, not a secret
LOCAL_TOKEN_PREFIX = "local:"  # noqa: S105 - the stand-in's identity scheme, not a secret
#: The service account the local token path claims to be (the stand-in checks the claims, not a signature).
LOCAL_DELEGATOR = "local-delegator@maintenance-windows.iam.gserviceaccount.com"
_CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"

#: Credentials acting as the given user.
CredentialsFactory = Callable[[str], google.auth.credentials.Credentials]


class CredentialsConfigurationError(ValueError):
    """The credentials setting cannot produce delegated credentials (message says why)."""


class _UnsignedLocalSigner(google.auth.crypt.Signer):
    """Stands in for a key: the local token endpoint reads the JWT's claims and verifies no signature."""

    @property
    def key_id(self) -> str | None:
        return None

    def sign(self, message: str | bytes) -> bytes:
        return hashlib.sha256(message.encode() if isinstance(message, str) else message).digest()


def local_token_uri(api_endpoint: str) -> str:
    """The stand-in's token endpoint beside its API, e.g. http://127.0.0.1:P/calendar/v3/ → http://127.0.0.1:P/token."""
    parts = urlsplit(api_endpoint)
    return f"{parts.scheme}://{parts.netloc}/token"


def local_credentials(token_uri: str | None = None, scopes: Sequence[str] = CALENDAR_SCOPES) -> CredentialsFactory:
    """Credentials for the local stand-in.

    With `token_uri`, delegated service-account credentials that refresh at the stand-in's token endpoint: the
    code path production uses (a JWT-bearer grant per user), so refusals surface as RefreshError. Without it,
    static tokens that never expire and are never refreshed.
    """
    if token_uri is None:

        def static_for_user(email: str) -> google.auth.credentials.Credentials:
            return oauth2_credentials.Credentials(token=f"{LOCAL_TOKEN_PREFIX}{email}")  # type: ignore[no-untyped-call]

        return static_for_user
    signer = _UnsignedLocalSigner()

    def for_user(email: str) -> google.auth.credentials.Credentials:
        delegated: google.auth.credentials.Credentials = service_account.Credentials(  # type: ignore[no-untyped-call]
            signer, LOCAL_DELEGATOR, token_uri, scopes=list(scopes), subject=email
        )
        return delegated

    return for_user


def key_file_credentials(path: str, scopes: Sequence[str] = CALENDAR_SCOPES) -> CredentialsFactory:
    try:
        delegator = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
            path, scopes=list(scopes)
        )
    except (OSError, ValueError) as error:
        raise CredentialsConfigurationError(f"cannot read service-account key {path!r}: {error}") from None

    def for_user(email: str) -> google.auth.credentials.Credentials:
        delegated: google.auth.credentials.Credentials = delegator.with_subject(email)
        return delegated

    return for_user


def keyless_credentials(
    service_account_email: str | None,
    scopes: Sequence[str] = CALENDAR_SCOPES,
    *,
    source_credentials: google.auth.credentials.Credentials | None = None,
) -> CredentialsFactory:
    """Delegation without a key: the JWT is signed by IAM Credentials signJwt on behalf of the account.

    The runtime identity needs roles/iam.serviceAccountTokenCreator on that account, and the account's
    client id must be allowed the scopes in the Workspace admin console (domain-wide delegation).
    """
    if not service_account_email:
        raise CredentialsConfigurationError(
            "MW_CALENDAR_SERVICE_ACCOUNT must name the delegated service account in keyless mode"
        )
    if source_credentials is None:
        source_credentials, _ = google.auth.default(scopes=[_CLOUD_PLATFORM_SCOPE])
    http_request = google.auth.transport.requests.Request()
    signer = google.auth.iam.Signer(http_request, source_credentials, service_account_email)  # type: ignore[no-untyped-call]

    def for_user(email: str) -> google.auth.credentials.Credentials:
        delegated: google.auth.credentials.Credentials = service_account.Credentials(  # type: ignore[no-untyped-call]
            signer, service_account_email, TOKEN_URI, scopes=list(scopes), subject=email
        )
        return delegated

    return for_user


def credentials_factory(
    mode: str, service_account_email: str | None, *, api_endpoint: str | None = None
) -> CredentialsFactory:
    """The factory for MW_CALENDAR_CREDENTIALS: "keyless", "local" or a path to a JSON key.

    In "local" mode an `api_endpoint` (the stand-in's) makes tokens come from the stand-in's token endpoint.
    """
    if mode == "local":
        return local_credentials(local_token_uri(api_endpoint) if api_endpoint else None)
    if mode == "keyless":
        return keyless_credentials(service_account_email)
    return key_file_credentials(mode)
