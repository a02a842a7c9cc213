"""`mw check --user` proves access through the person's own provider: Graph for a Microsoft 365 domain."""

from __future__ import annotations

from infra.graph_server import RunningServer
from maintenance_windows.cli.check_commands import online_findings
from maintenance_windows.config.check import check_text
from maintenance_windows.config.settings import Settings
from tests.integration.graph.conftest import Admin

RULES = "defaults:\n  domains: [acme.example, contoso.example]\n  calendar_domains: {contoso.example: microsoft}\n"


def test_a_microsoft_365_person_is_checked_through_graph(graph_server: RunningServer, admin: Admin) -> None:
    admin.users("max@contoso.example")
    admin.users("out@contoso.example", refused="scope")
    settings = Settings.from_env(
        {"MW_GRAPH_CREDENTIALS": "local", "MW_GRAPH_API_ENDPOINT": graph_server.api_endpoint, "MW_AI_ENABLED": "false"}
    )
    checked = check_text(RULES)
    found = online_findings(checked, RULES, settings, "max@contoso.example")
    assert [finding for finding in found if finding.severity == "error"] == []
    refused = [f for f in online_findings(checked, RULES, settings, "out@contoso.example") if f.severity == "error"]
    assert len(refused) == 1
    assert "out@contoso.example" in refused[0].message
    assert admin.counters()["calls"]["mailbox_settings"] >= 2  # Graph was asked, not Google
