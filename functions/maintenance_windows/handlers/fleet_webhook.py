"""fleet_webhook: check Fleet's failing-policies webhook (secret, size, type, shape); service/ingestion stores it
at once, or as chunks folded in by tasks when it is large."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import SecretStr, ValidationError

from maintenance_windows.auth.shared_secret import presented_secrets, secret_matches
from maintenance_windows.domain.document_ids import InvalidDocumentId
from maintenance_windows.domain.failing_policies import FailingPoliciesWebhook
from maintenance_windows.handlers.http import (
    BadRequest,
    HttpRequest,
    HttpResponse,
    error,
    parse_json_body,
    validation_problems,
)
from maintenance_windows.observability import get_logger
from maintenance_windows.service.errors import Refused, RetryLater
from maintenance_windows.service.ingestion import Ingested, IngestionContext, ingest

logger = get_logger(__name__)


@dataclass(frozen=True)
class WebhookSettings:
    secrets: Sequence[SecretStr]
    max_body_bytes: int


def handle_fleet_webhook(request: HttpRequest, ctx: IngestionContext, settings: WebhookSettings) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(405, {"error": f"method {request.method} not allowed; use POST"}, {"Allow": "POST"})
    if not secret_matches(presented_secrets(request.headers, request.query), settings.secrets):
        logger.warning("webhook rejected: missing or wrong secret", event="webhook_unauthorized")
        return HttpResponse(
            401, {"error": "missing or wrong webhook secret"}, {"WWW-Authenticate": 'Basic realm="fleet_webhook"'}
        )
    too_large = _too_large(request, settings.max_body_bytes)
    if too_large:
        return too_large
    media_type = request.content_type.split(";")[0].strip().lower()
    if media_type != "application/json":
        return error(415, f"content type must be application/json, got {media_type[:60] or 'none'}")
    payload = _parse(request.body)
    if isinstance(payload, HttpResponse):
        return payload
    try:
        outcome = ingest(ctx, payload)
    except Refused as refused:
        return error(400, refused.problem)
    except InvalidDocumentId as invalid:  # the store guard's last line: ids are bounded integers already
        return error(400, str(invalid))
    except RetryLater as busy:
        return error(503, busy.problem)
    if isinstance(outcome, Ingested):
        body = {
            "status": "accepted",
            "policy_id": outcome.policy_id,
            "hosts": outcome.hosts,
            "commits": outcome.commits,
            **outcome.counts.as_dict(),
        }
    else:
        body = {
            "status": "queued",
            "policy_id": outcome.policy_id,
            "hosts": outcome.hosts,
            "chunks": outcome.chunks,
            "delivery_id": outcome.delivery_id,
        }
    return HttpResponse(202, body)


def _too_large(request: HttpRequest, limit: int) -> HttpResponse | None:
    size = max(request.content_length or 0, len(request.body))
    if size > limit:
        return error(413, f"body of {size} bytes is over the limit of {limit} bytes")
    return None


def _parse(body: bytes) -> FailingPoliciesWebhook | HttpResponse:
    try:
        raw = parse_json_body(body)
    except BadRequest as refused:
        return refused.response()
    if not isinstance(raw, dict):
        return error(400, "body must be a JSON object with timestamp, policy and hosts")
    if raw.get("policy") == {}:
        return error(400, "policy is empty")
    try:
        return FailingPoliciesWebhook.model_validate(raw)
    except ValidationError as invalid:
        return error(400, "payload is not a Fleet failing-policies webhook", problems=validation_problems(invalid))
