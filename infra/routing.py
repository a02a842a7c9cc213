"""How the stand-ins route: a werkzeug `Map` whose rules name methods of a per-request call object.

Each stand-in is a WSGI callable that wraps the environ in a werkzeug `Request`, builds an object holding
that request (and the stand-in's state), and lets `dispatch` call the method its route names with the
route's arguments. A routing failure raises werkzeug's NotFound, MethodNotAllowed or RequestRedirect;
each stand-in answers those in its own service's error shape.
"""

from __future__ import annotations

from typing import Any

from werkzeug.exceptions import MethodNotAllowed
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request


def dispatch(routes: Map, request: Request, call: object, *, ignored: tuple[str, ...] = ()) -> Any:
    """What the method of `call` that the request's route names returns (usually a Response).

    `ignored`: route arguments no handler needs (e.g. an API version that only selects the route)."""
    endpoint, arguments = routes.bind_to_environ(request.environ).match()
    handler = getattr(call, endpoint)
    return handler(**{name: value for name, value in arguments.items() if name not in ignored})


def allowed_methods(refused: MethodNotAllowed) -> str:
    """The Allow header a 405 carries: the methods the path's routes answer (GET routes answer HEAD too)."""
    return ", ".join(sorted(refused.valid_methods or ()))


def without_head(rule: Rule) -> Rule:
    """`rule` answering only the methods it names. werkzeug adds HEAD to every GET rule; a stand-in whose
    hand-written routing answered HEAD like any other wrong method keeps doing so (no laxer than before)."""
    assert rule.methods is not None, "a rule for every method has no HEAD to take away"
    rule.methods.discard("HEAD")
    return rule
