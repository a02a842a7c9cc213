"""The local chat webhook receiver: Slack's and Google Chat's incoming-webhook endpoints, strict, recorded.

Sources (docs/status-page.md lists what is confirmed and what is not):
- Slack, "Sending messages using incoming webhooks" (https://api.slack.com/messaging/webhooks): POST a JSON
  body with `text` (and optionally `blocks`) to https://hooks.slack.com/services/T…/B…/secret; success is
  200 with the body `ok`; errors are HTTP statuses with a short plain-text code: 400 `invalid_payload`
  (not JSON), 400 `no_text` (neither text nor blocks), 404 `no_service` (an unknown webhook).
- Google Chat, "Build a Google Chat app as a webhook"
  (https://developers.google.com/workspace/chat/quickstart/webhooks): POST
  `Content-Type: application/json; charset=UTF-8` to
  https://chat.googleapis.com/v1/spaces/SPACE/messages?key=KEY&token=TOKEN; the answer is the created
  Message resource (`name`, `text`, `createTime`); errors are Google's JSON error shape. A message's text
  holds at most 4,096 characters (https://developers.google.com/workspace/chat/api/reference/rest/v1/spaces.messages).

Locally one webhook of each kind exists: the paths and tokens the stack puts in MW_CHAT_WEBHOOK_URL.
GET /_admin/messages lists what was accepted (loopback only), DELETE clears it.
"""

from __future__ import annotations

import ipaddress
import json
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SLACK_PATH = "/services/TLOCAL0000/BLOCAL0000/"
GOOGLE_CHAT_PATH = "/v1/spaces/AAAAlocal/messages"
ADMIN_PATH = "/_admin/messages"
SLACK_TEXT_LIMIT = 40_000
GOOGLE_CHAT_TEXT_LIMIT = 4_096


class Receiver:
    def __init__(self, token: str) -> None:
        self.token = token
        self._messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def record(self, kind: str, body: dict[str, Any]) -> int:
        with self._lock:
            self._messages.append({"format": kind, "body": body, "at": datetime.now(UTC).isoformat()})
            return len(self._messages)

    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()


def create_app(receiver: Receiver) -> WSGIApplication:
    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return _route(Request(environ), receiver)(environ, start_response)

    return application


def _route(request: Request, receiver: Receiver) -> Response:
    if request.path == ADMIN_PATH:
        if not _loopback(request.remote_addr):
            return Response("loopback only", status=403)
        if request.method == "DELETE":
            receiver.clear()
            return Response(status=204)
        return Response(json.dumps(receiver.messages()), content_type="application/json")
    if request.path == SLACK_PATH + receiver.token:
        return _slack(request, receiver)
    if request.path == GOOGLE_CHAT_PATH:
        return _google_chat(request, receiver)
    if request.path.startswith("/services/"):
        return Response("no_service", status=404, content_type="text/plain")
    return _google_error(404, "NOT_FOUND", "Requested entity was not found.")


def _slack(request: Request, receiver: Receiver) -> Response:
    if request.method != "POST":
        return Response("invalid_request", status=405, content_type="text/plain")
    body = _json_object(request)
    if body is None:
        return Response("invalid_payload", status=400, content_type="text/plain")
    text = body.get("text")
    if not (isinstance(text, str) and text.strip()) and not body.get("blocks"):
        return Response("no_text", status=400, content_type="text/plain")
    if isinstance(text, str) and len(text) > SLACK_TEXT_LIMIT:
        return Response("invalid_payload", status=400, content_type="text/plain")
    receiver.record("slack", body)
    return Response("ok", content_type="text/plain")


def _google_chat(request: Request, receiver: Receiver) -> Response:
    if request.method != "POST":
        return _google_error(405, "METHOD_NOT_ALLOWED", "Method not allowed.")
    if request.args.get("key") != "local-key" or request.args.get("token") != receiver.token:
        return _google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
    if request.mimetype != "application/json":
        return _google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
    body = _json_object(request)
    if body is None:
        return _google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
    text = body.get("text")
    if not (isinstance(text, str) and text.strip()) and not body.get("cardsV2"):
        return _google_error(400, "INVALID_ARGUMENT", "Message cannot be empty.")
    if isinstance(text, str) and len(text) > GOOGLE_CHAT_TEXT_LIMIT:
        return _google_error(400, "INVALID_ARGUMENT", "Message text is too long.")
    number = receiver.record("google_chat", body)
    message = {
        "name": f"spaces/AAAAlocal/messages/local.{number}",
        "text": text,
        "createTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    return Response(json.dumps(message), content_type="application/json")


def _json_object(request: Request) -> dict[str, Any] | None:
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _google_error(code: int, status: str, message: str) -> Response:
    body = {"error": {"code": code, "message": message, "status": status}}
    return Response(json.dumps(body), status=code, content_type="application/json")


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
