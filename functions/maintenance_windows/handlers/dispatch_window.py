"""dispatch_window: Cloud Tasks' call at a window's start (dispatch), before it (recheck) and after it (verify),
and for each chunk of a large failing-policies webhook (ingest).

The handler checks the caller and the task body, runs the step (service/dispatch.py) and answers: 200 with
the outcome, 200 when the task no longer applies (so Cloud Tasks stops), 503 when a retry can finish the
work (Cloud Tasks retries 5xx), 4xx for a caller or body we refuse.
"""

from __future__ import annotations

import dataclasses

from pydantic import ValidationError

from maintenance_windows.auth import AuthError, CallerVerifier
from maintenance_windows.domain.document_ids import InvalidDocumentId
from maintenance_windows.handlers.http import (
    BadRequest,
    HttpRequest,
    HttpResponse,
    error,
    parse_json_body,
    validation_problems,
)
from maintenance_windows.observability import get_logger
from maintenance_windows.service.dispatch import run_task
from maintenance_windows.service.dispatch_context import DispatchContext, TaskBody
from maintenance_windows.service.errors import NothingToDo, RetryLater
from maintenance_windows.service.ingestion import IngestionContext, IngestTaskBody, ingest_chunk

logger = get_logger(__name__)

MAX_BODY_BYTES = 16 * 1024


def handle_dispatch_window(request: HttpRequest, ctx: DispatchContext, verifier: CallerVerifier | None) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(405, {"error": f"method {request.method} not allowed; use POST"}, {"Allow": "POST"})
    if verifier is not None:
        try:
            verifier.verify(request.header("Authorization"))
        except AuthError as refused:
            logger.warning("dispatch_window caller refused", event="caller_refused", reason=refused.reason)
            return error(refused.status, refused.reason)
    body = parse_task_body(request.body)
    if isinstance(body, HttpResponse):
        return body
    if isinstance(body, IngestTaskBody):
        chunk = ingest_chunk(IngestionContext(ctx.store, ctx.tasks, ctx.clock), body)
        return HttpResponse(200, {"purpose": body.purpose, **dataclasses.asdict(chunk)})
    retry = (request.header("X-CloudTasks-TaskRetryCount") or "")[:20] or None  # logged only; a caller's text
    logger.info(
        "task received",
        event="task_received",
        window_id=body.window_id,
        revision=body.revision,
        purpose=body.purpose,
        attempt=body.attempt,
        task_retry=retry,
    )
    try:
        outcome = run_task(ctx, body)
    except InvalidDocumentId as invalid:  # the store guard's last line; TaskBody's pattern is the first
        return error(400, str(invalid))
    except NothingToDo as done:
        return HttpResponse(200, {"status": done.status, "why": done.why, "window_id": done.window_id})
    except RetryLater as busy:
        return error(503, busy.problem, **busy.details)
    return HttpResponse(200, {"status": outcome.status, **dataclasses.asdict(outcome)})


def parse_task_body(raw: bytes) -> TaskBody | IngestTaskBody | HttpResponse:
    if len(raw) > MAX_BODY_BYTES:
        return error(413, f"body over {MAX_BODY_BYTES} bytes")
    try:
        decoded = parse_json_body(raw)
    except BadRequest as refused:
        return refused.response()
    model = IngestTaskBody if isinstance(decoded, dict) and decoded.get("purpose") == "ingest" else TaskBody
    try:
        return model.model_validate(decoded)
    except ValidationError as invalid:
        problems = validation_problems(invalid)
        return error(400, f"invalid task body: {problems[0]['field']}: {problems[0]['problem']}", problems=problems)
