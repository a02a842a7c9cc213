"""Per-user Google credentials for Calendar, through domain-wide delegation.

Three modes, chosen by MW_CALENDAR_CREDENTIALS:
- "keyless" (production): the runtime's own identity asks the IAM Credentials API to sign the
  delegation JWT (signBlob, through google-auth's iam.Signer), so no service-account key exists anywhere.
- a path to a service-account JSON key: the classic set-up, for environments that still use keys.
- "local": for the local Calendar stand-in. With its token endpoint (`local_token_uri(api_endpoint)`), the
  same service-account credentials as production mint each user's token there, so a user whose delegation is
  refused fails alone with google-auth's RefreshError, as on Google. Without it, a static bearer token
  `local:<email>` that the stand-in reads as the user.

google-auth ships without annotations on these constructors, hence the targeted type-ignores.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import google.auth
import google.auth.credentials
import google.auth.crypt
import google.auth.exceptions
import google.auth.iam
import google.auth.transport
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
TOKEN_CREATOR_ROLE = "roles/iam.serviceAccountTokenCreator"  # noqa: S105 - an IAM role name, not a secret
_IAM_CREDENTIALS_API = "iamcredentials.googleapis.com"

#: Credentials acting as the given user.
CredentialsFactory = Callable[[str], google.auth.credentials.Credentials]


class CredentialsConfigurationError(ValueError):
    """The credentials setting cannot produce delegated credentials (message says why)."""


class DelegationSetupError(Exception):
    """Nobody's token can be minted until the deployment changes; the message says what to change.

    Raised from inside a credentials refresh, so the adapter can tell it from one user's refusal (a
    google.auth RefreshError from the token endpoint) and from a passing network fault.
    """


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
    http_request: Callable[..., Any] | None = None,
) -> CredentialsFactory:
    """Delegation without a key: the JWT is signed by IAM Credentials signBlob on behalf of the account.

    The runtime identity needs roles/iam.serviceAccountTokenCreator on that account, and the account's
    client id must be allowed the scopes in the Workspace admin console (domain-wide delegation). A refused
    signature raises DelegationSetupError naming what is missing, once, instead of looking like an outage.
    """
    if not service_account_email:
        raise CredentialsConfigurationError(
            "MW_CALENDAR_SERVICE_ACCOUNT must name the delegated service account in keyless mode"
        )
    if source_credentials is None:
        source_credentials, _ = google.auth.default(scopes=[_CLOUD_PLATFORM_SCOPE])
    iam_signer = google.auth.iam.Signer(  # type: ignore[no-untyped-call]
        http_request or google.auth.transport.requests.Request(), source_credentials, service_account_email
    )
    signer = _SetupReportingSigner(iam_signer, service_account_email)

    def for_user(email: str) -> google.auth.credentials.Credentials:
        delegated: google.auth.credentials.Credentials = service_account.Credentials(  # type: ignore[no-untyped-call]
            signer, service_account_email, TOKEN_URI, scopes=list(scopes), subject=email
        )
        return delegated

    return for_user


class _SetupReportingSigner(google.auth.crypt.Signer):
    """google-auth's IAM signer, with a refused signature turned into a DelegationSetupError.

    google-auth raises every non-200 signBlob answer as a TransportError, which reads as a network fault
    and would be retried; a 403 or 404 from IAM is a deployment fault that no retry heals.
    """

    def __init__(self, signer: google.auth.crypt.Signer, service_account_email: str) -> None:
        self._signer = signer
        self._service_account_email = service_account_email

    @property
    def key_id(self) -> str | None:
        key_id: str | None = self._signer.key_id
        return key_id

    def sign(self, message: str | bytes) -> bytes:
        try:
            signature: bytes = self._signer.sign(message)  # type: ignore[no-untyped-call]
        except google.auth.exceptions.TransportError as error:
            problem = signing_problem(str(error), self._service_account_email)
            if problem is None:
                raise
            raise DelegationSetupError(problem) from error
        return signature


def signing_problem(transport_message: str, service_account_email: str) -> str | None:
    """What to fix, from google-auth's "Error calling the IAM signBlob API: <body>"; None if transient.

    IAM answers 403 PERMISSION_DENIED "Permission 'iam.serviceAccounts.signBlob' denied on resource (or it
    may not exist)" when the caller lacks the permission (held by roles/iam.serviceAccountTokenCreator) or
    the account does not exist; 403 SERVICE_DISABLED when the IAM Service Account Credentials API is off
    (https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/signBlob).
    """
    if "signBlob" not in transport_message:
        return None
    status = _json_field(transport_message, "code")
    if "SERVICE_DISABLED" in transport_message or "has not been used in project" in transport_message:
        return (
            f"the IAM Service Account Credentials API ({_IAM_CREDENTIALS_API}) is disabled in the runtime's "
            f"project: enable it so {service_account_email} can sign delegation tokens"
        )
    if status in ("403", "404"):
        return (
            f"the runtime identity may not sign as {service_account_email} (IAM signBlob answered {status}): "
            f"grant it {TOKEN_CREATOR_ROLE} on that service account, and check the account exists"
        )
    return None


def _json_field(text: str, name: str) -> str | None:
    found = re.search(rf'"{name}"\s*:\s*"?([A-Za-z0-9_]+)', text)
    return found.group(1) if found else None


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
