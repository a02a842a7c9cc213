"""Graph tokens: the federated exchange hands msal a callable assertion, and a refusal names the Entra fix."""

from __future__ import annotations

from typing import Any

import pytest

from maintenance_windows.adapters.microsoft_graph.tokens import (
    FEDERATION_AUDIENCE,
    GRAPH_SCOPE,
    FederatedGraphTokens,
    LocalGraphTokens,
)
from maintenance_windows.ports.calendar import CalendarDeploymentError, CalendarUnavailable


class FakeMsal:
    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.scopes: list[list[str]] = []

    def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]:
        self.scopes.append(scopes)
        return self.answer


def test_msal_is_given_the_google_id_token_as_a_callable_client_assertion(monkeypatch: pytest.MonkeyPatch) -> None:
    import msal

    made: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    class Recorded(FakeMsal):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            made.append((args, kwargs))
            super().__init__({"access_token": "graph-token"})

    def assertion(audience: str = FEDERATION_AUDIENCE) -> str:
        return f"google-id-token-for-{audience}"

    monkeypatch.setattr(msal, "ConfidentialClientApplication", Recorded)
    assert FederatedGraphTokens("tenant-1", "client-1", assertion=assertion).token() == "graph-token"
    ((args, kwargs),) = made
    assert args == ("client-1",)
    assert kwargs["authority"] == "https://login.microsoftonline.com/tenant-1"
    assert kwargs["client_credential"] == {"client_assertion": assertion}  # no secret, no certificate


def test_entra_out_of_reach_is_a_transient_outage(monkeypatch: pytest.MonkeyPatch) -> None:
    import msal
    import requests

    def unreachable(*_args: Any, **_kwargs: Any) -> None:
        raise requests.ConnectionError("no route to login.microsoftonline.com")

    monkeypatch.setattr(msal, "ConfidentialClientApplication", unreachable)
    with pytest.raises(CalendarUnavailable):
        FederatedGraphTokens("tenant-1", "client-1").token()


def test_the_graph_token_comes_from_msal_for_graphs_default_scope() -> None:
    tokens = FederatedGraphTokens("tenant-1", "client-1")
    fake = FakeMsal({"access_token": "graph-token", "expires_in": 3599})
    tokens._client = fake
    assert tokens.token() == "graph-token"
    assert fake.scopes == [[GRAPH_SCOPE]]


def test_a_refused_exchange_is_a_deployment_error_naming_the_federated_credential() -> None:
    tokens = FederatedGraphTokens("tenant-1", "client-1")
    tokens._client = FakeMsal(
        {"error": "invalid_client", "error_description": "AADSTS70021: No matching federated identity record found"}
    )
    with pytest.raises(CalendarDeploymentError, match="federated credential") as refused:
        tokens.token()
    assert "AADSTS70021" in str(refused.value)
    assert refused.value.reason == "token_exchange_refused"


def test_local_tokens_follow_the_stand_ins_convention() -> None:
    assert LocalGraphTokens().token() == "local:maintenance-windows"
