"""What a use case raises instead of answering; each handler turns these into its HTTP answer.

The split follows the classic service-layer one: use cases know nothing of status codes, handlers know
nothing of the store. `problem` and `details` are safe to return to the caller and to log.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    def __init__(self, problem: str, **details: Any) -> None:
        super().__init__(problem)
        self.problem = problem
        self.details = details


class NotAuthenticated(ServiceError):
    """The caller is not one we know (e.g. a push message from a channel we never opened)."""


class Forbidden(ServiceError):
    """A caller we know, presenting the wrong credential or asking about the wrong resource."""


class RetryLater(ServiceError):
    """Transient: an outage, or another delivery holds the work. A later delivery finishes it."""


class NothingToDo(Exception):
    """The task no longer applies (no such window, a newer revision, another state, already done).

    Its caller must see success, so that the queue stops delivering it.
    """

    def __init__(self, status: str, why: str, window_id: str) -> None:
        super().__init__(why)
        self.status = status
        self.why = why
        self.window_id = window_id


class Refused(ServiceError):
    """Well-formed input that cannot be accepted as it is (e.g. a webhook timestamp in the future)."""
