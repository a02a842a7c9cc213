"""The CalendarPort on Google Calendar v3. Imports what adapters/ may: ports, domain, config, observability, clock.

adapter.py (the port's methods) · transport.py (single calls and HTTP batches) · user_credentials.py
(delegated credentials per user) · failures.py (Google's errors read) · bodies.py (what is sent) ·
resources.py (what is read back). Retry, quota and batching are the shared, provider-neutral
adapters/http_retry.py, adapters/rate_limit.py and adapters/batching.py.
"""

from maintenance_windows.adapters.google_calendar.adapter import GoogleCalendarAdapter
from maintenance_windows.adapters.http_retry import RetryPolicy

__all__ = ["GoogleCalendarAdapter", "RetryPolicy"]
