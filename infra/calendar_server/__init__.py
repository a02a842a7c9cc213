"""A strict local stand-in for the Google Calendar v3 API (Google publishes no emulator). Of this project it
imports infra.routing and infra.serving only, nothing of maintenance_windows.

See docs/calendar-server.md for seeding, acting as a user and injecting faults.
"""

from infra.calendar_server.app import CalendarApp, create_app
from infra.calendar_server.server import RunningServer

__all__ = ["CalendarApp", "RunningServer", "create_app"]
