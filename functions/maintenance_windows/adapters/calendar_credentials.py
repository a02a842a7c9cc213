"""Per-user Google credentials for Calendar, through domain-wide delegation.

Three modes, chosen by MW_CALENDAR_CREDENTIALS:
- "keyless" (production): the runtime's own identity asks the IAM Credentials API to sign the
  delegation JWT (signJwt), so no service-account key exists anywhere.
- a path to a service-account JSON key: the classic set-up, for environments that still use keys.
- "local": a static bearer token `local:<email>` that the local Calendar stand-in reads as the user.

google-auth ships without annotations on these constructors, hence the targeted type-ignores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import google.auth
import google.auth.credentials
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
_CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"

#: Credentials acting as the given user.
CredentialsFactory = Callable[[str], google.auth.credentials.Credentials]


class CredentialsConfigurationError(ValueError):
    """The credentials setting cannot produce delegated credentials (message says why)."""


def local_credentials() -> CredentialsFactory:
    """Static tokens for the local stand-in; they never expire and are never refreshed."""

    def for_user(email: str) -> google.auth.credentials.Credentials:
        return oauth2_credentials.Credentials(token=f"{LOCAL_TOKEN_PREFIX}{email}")  # type: ignore[no-untyped-call]

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


def credentials_factory(mode: str, service_account_email: str | None) -> CredentialsFactory:
    """The factory for MW_CALENDAR_CREDENTIALS: "keyless", "local" or a path to a JSON key."""
    if mode == "local":
        return local_credentials()
    if mode == "keyless":
        return keyless_credentials(service_account_email)
    return key_file_credentials(mode)
