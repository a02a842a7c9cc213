"""The status page's requests: who is asking (IAP's signed header), which page, and its HTML.

Read-only: GET and HEAD only. Paths: `/` the overview, `/host/ID` one host's history, `/user/EMAIL` one
person's. Every answer is `no-store`, since it names people and hosts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from urllib.parse import unquote

from maintenance_windows.auth import AuthError
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.store import DocumentStore
from maintenance_windows.status import pages, view

_logger = get_logger(__name__)
_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


class SignedInUserVerifier(Protocol):
    def verify(self, assertion: str | None, /) -> object: ...


@dataclass(frozen=True)
class Page:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: dict(_HEADERS))


@dataclass(frozen=True)
class StatusContext:
    store: DocumentStore
    verifier: SignedInUserVerifier
    clock: Callable[[], datetime]


def handle_status_page(method: str, path: str, assertion: str | None, ctx: StatusContext) -> Page:
    if method not in ("GET", "HEAD"):
        return Page(
            405,
            pages.message_page("Read-only", "The status page only shows.").encode(),
            {**_HEADERS, "Allow": "GET, HEAD"},
        )
    try:
        user = ctx.verifier.verify(assertion)
    except AuthError as refused:
        _logger.warning("status page refused", event="status_refused", status=refused.status, reason=refused.reason)
        return Page(refused.status, pages.message_page("Not signed in", refused.reason).encode())
    email = str(getattr(user, "email", user))
    now = ctx.clock()
    base = "/"
    if path in ("", "/"):
        return Page(200, pages.overview_page(view.overview(ctx.store, now), base, email).encode())
    head, _, rest = path.strip("/").partition("/")
    history = None
    if head == "host" and rest.isdigit():
        history = view.host_history(ctx.store, int(rest))
    elif head == "user" and rest:
        history = view.person_history(ctx.store, unquote(rest))
    else:
        return Page(404, pages.message_page("Not found", f"No page at {path}").encode())
    if history is None:
        return Page(404, pages.message_page("Not found", f"Nothing is stored for {unquote(rest)}").encode())
    return Page(200, pages.history_page(history, base, email, now.strftime("%Y-%m-%d %H:%M UTC")).encode())
