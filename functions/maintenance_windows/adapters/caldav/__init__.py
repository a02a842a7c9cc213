"""CalendarPort on CalDAV servers (docs/caldav.md)."""

from maintenance_windows.adapters.caldav.adapter import POLLED, CalDavCalendarAdapter
from maintenance_windows.adapters.caldav.credentials import CalDavCredentials

__all__ = ["POLLED", "CalDavCalendarAdapter", "CalDavCredentials"]
