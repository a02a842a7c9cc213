"""Cloud Run function entry points. Each is a thin shell around a handler; wiring happens at cold start."""

from __future__ import annotations

import os

import flask
import functions_framework

from maintenance_windows import wiring
from maintenance_windows.flask_bridge import to_request, to_response
from maintenance_windows.handlers.fleet_webhook import handle_fleet_webhook

wiring.warm(os.environ.get("FUNCTION_TARGET"))


@functions_framework.http
def fleet_webhook(request: flask.Request) -> tuple[bytes, int, dict[str, str]]:
    store, settings = wiring.webhook()
    return to_response(handle_fleet_webhook(to_request(request, settings.max_body_bytes), store, settings))
