"""Between functions-framework's Flask request/response and our framework-free handler types."""

from __future__ import annotations

from typing import TYPE_CHECKING

from maintenance_windows.handlers.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    import flask


def to_request(request: flask.Request, max_body_bytes: int | None = None) -> HttpRequest:
    declared = request.content_length
    if max_body_bytes is not None and declared is not None and declared > max_body_bytes:
        body = b""  # do not read what we will refuse; the handler answers 413 from the declared length
    elif max_body_bytes is not None:
        body = request.stream.read(max_body_bytes + 1)
    else:
        body = request.get_data(cache=False)
    return HttpRequest(
        method=request.method,
        headers=dict(request.headers.items()),
        query={key: request.args.get(key, "") for key in request.args},
        body=body,
        content_type=request.content_type or "",
        content_length=declared,
    )


def to_response(response: HttpResponse) -> tuple[bytes, int, dict[str, str]]:
    return response.encoded(), response.status, {"Content-Type": "application/json", **response.headers}
