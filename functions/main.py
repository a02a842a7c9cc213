"""Cloud Run function entry points. Each is a thin shell around a handler; wiring happens at cold start."""

from __future__ import annotations

import os

import flask
import functions_framework

from maintenance_windows import wiring
from maintenance_windows.flask_bridge import to_request, to_response

wiring.warm(os.environ.get("FUNCTION_TARGET"))

Response = tuple[bytes, int, dict[str, str]]


@functions_framework.http
def fleet_webhook(request: flask.Request) -> Response:
    from maintenance_windows.handlers.fleet_webhook import handle_fleet_webhook

    ctx, settings = wiring.webhook()
    return to_response(handle_fleet_webhook(to_request(request, settings.max_body_bytes), ctx, settings))


@functions_framework.http
def plan_windows(request: flask.Request) -> Response:
    from maintenance_windows.handlers.plan_windows import MAX_BODY_BYTES, handle_plan_windows

    ctx, verifier, settings = wiring.planner()
    request_view = to_request(request, MAX_BODY_BYTES)
    return to_response(handle_plan_windows(request_view, ctx, verifier, settings, wiring.plan_hooks()))


@functions_framework.http
def calendar_notifications(request: flask.Request) -> Response:
    from maintenance_windows.handlers.calendar_notifications import handle_calendar_notifications

    return to_response(handle_calendar_notifications(to_request(request, 1024), wiring.notifications()))


@functions_framework.http
def dispatch_window(request: flask.Request) -> Response:
    from maintenance_windows.handlers.dispatch_window import MAX_BODY_BYTES, handle_dispatch_window

    ctx, verifier = wiring.dispatcher()
    return to_response(handle_dispatch_window(to_request(request, MAX_BODY_BYTES), ctx, verifier))


@functions_framework.http
def status_page(request: flask.Request) -> Response:
    """The admins' read-only status page; Identity-Aware Proxy stands in front of it."""
    from maintenance_windows.auth.iap import IAP_HEADER
    from maintenance_windows.status.app import handle_status_page

    page = handle_status_page(request.method, request.path, request.headers.get(IAP_HEADER), wiring.status())
    return page.body, page.status, page.headers
