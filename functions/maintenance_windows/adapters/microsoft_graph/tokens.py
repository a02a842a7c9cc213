"""App-only Graph tokens without a secret: workload identity federation from the function's Google identity.

Entra trusts a federated credential on the app registration (issuer https://accounts.google.com, subject
the service account's unique numeric id, audience api://AzureADTokenExchange; docs/deploy.md). The function
asks Google's metadata server for an ID token with that audience (google-auth's fetch_id_token) and hands it
to msal as the client assertion of a client-credentials grant
(https://learn.microsoft.com/en-us/entra/workload-id/workload-identity-federation). msal caches the Graph
token until shortly before it expires; a fresh ID token is fetched only when msal needs a new assertion.

Locally the Graph stand-in takes `Bearer local:<app>` (docs/graph-server.md), so `LocalGraphTokens` makes
no network call at all.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from maintenance_windows.ports.calendar import CalendarDeploymentError, CalendarUnavailable

FEDERATION_AUDIENCE = "api://AzureADTokenExchange"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
LOCAL_TOKEN_PREFIX = "local:"  # noqa: S105 - the stand-in's scheme, not a secret


class GraphTokens(Protocol):
    def token(self) -> str:
        """A bearer token for Graph; raises CalendarDeploymentError when none can be had."""
        ...


class LocalGraphTokens:
    def __init__(self, app: str = "maintenance-windows") -> None:
        self._token = f"{LOCAL_TOKEN_PREFIX}{app}"

    def token(self) -> str:
        return self._token


def google_id_token(audience: str = FEDERATION_AUDIENCE) -> str:
    """An ID token for the function's own service account, from the metadata server."""
    import google.auth.transport.requests
    import google.oauth2.id_token

    request = google.auth.transport.requests.Request()
    token: str = google.oauth2.id_token.fetch_id_token(request, audience)  # type: ignore[no-untyped-call]
    return token


class FederatedGraphTokens:
    """msal's confidential client with a callable client assertion: no secret, no certificate."""

    def __init__(self, tenant_id: str, client_id: str, *, assertion: Any = google_id_token) -> None:
        self._tenant_id = tenant_id
        self._client_id = client_id
        self._assertion = assertion
        self._client: Any = None
        self._lock = threading.Lock()

    def _msal(self) -> Any:
        with self._lock:
            if self._client is None:
                import msal  # ~0.1 s: paid by the first Graph call, not by a cold start that books nothing

                self._client = msal.ConfidentialClientApplication(
                    self._client_id,
                    authority=f"https://login.microsoftonline.com/{self._tenant_id}",
                    client_credential={"client_assertion": self._assertion},
                )
            return self._client

    def token(self) -> str:
        import requests

        try:
            # msal reads the tenant's OpenID configuration when it is made, then caches tokens itself.
            answer = self._msal().acquire_token_for_client(scopes=[GRAPH_SCOPE])
        except (requests.RequestException, OSError) as unreachable:
            raise CalendarUnavailable(f"Entra unreachable: {type(unreachable).__name__}", reason="transport") from None
        access = answer.get("access_token") if isinstance(answer, dict) else None
        if not access:
            # AADSTS700211 (issuer), 70021 (no matching federated credential), 7000215...: an Entra-side fix.
            code = answer.get("error", "unknown") if isinstance(answer, dict) else "unknown"
            detail = (answer.get("error_description", "") if isinstance(answer, dict) else "")[:300]
            raise CalendarDeploymentError(
                f"Entra refused the federated token exchange ({code}): check the app's federated credential "
                f"(issuer https://accounts.google.com, subject = the service account's unique id, audience "
                f"{FEDERATION_AUDIENCE}). {detail}",
                reason="token_exchange_refused",
            )
        return str(access)
