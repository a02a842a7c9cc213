"""CalendarPort on Microsoft 365 through Microsoft Graph v1.0 (app-only, keyless)."""

from maintenance_windows.adapters.microsoft_graph.adapter import GraphCalendarAdapter
from maintenance_windows.adapters.microsoft_graph.tokens import FederatedGraphTokens, LocalGraphTokens

__all__ = ["FederatedGraphTokens", "GraphCalendarAdapter", "LocalGraphTokens"]
