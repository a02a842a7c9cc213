"""The stand-in's /_admin/ API: seed mailboxes and events, act as a person, inject faults, read counters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from infra.graph_server import contract
from infra.graph_server.errors import GraphError, invalid

if TYPE_CHECKING:
    from infra.graph_server.app import GraphApp


def admin_call(app: GraphApp, request: Request) -> Response:
    path = request.path.removeprefix("/_admin/").strip("/")
    body: Any = json.loads(request.get_data() or b"{}")
    try:
        answer = _dispatch(app, request.method, path.split("/"), body)
    except GraphError as error:
        return Response(json.dumps(error.body()), status=error.status, mimetype="application/json")
    except (KeyError, ValueError, TypeError) as error:
        return Response(
            json.dumps(invalid(f"Admin request refused: {error!r}").body()), status=400, mimetype="application/json"
        )
    return Response(json.dumps(answer, default=str), status=200, mimetype="application/json")


def _dispatch(app: GraphApp, method: str, parts: list[str], body: Any) -> Any:
    for routes in (_seed, _control, _inspect):
        answer = routes(app, method, parts, body)
        if answer is not None:
            return answer
    raise GraphError(404, "BadRequest", f"No admin route {method} /{'/'.join(parts)}.")


def _seed(app: GraphApp, method: str, parts: list[str], body: Any) -> Any:
    """Mailboxes and the people's own events."""
    store = app.store
    now = datetime.now(UTC)
    match method, parts:
        case "POST", ["users"]:
            for user in body["users"]:
                zone = user.get("timeZone", "UTC")
                if zone not in contract.windows_zones():
                    raise invalid(f"{zone!r} is not a Windows time-zone name (Graph's mailboxSettings use them).")
                hours = {k: v for k, v in user.items() if k.startswith("working_")}
                store.add_mailbox(user["email"], zone, user.get("refused"), **hours)
            return {"users": len(body["users"])}
        case "POST", ["users", email, "events"]:
            # The person's own event, made in Outlook: any showAs (free, tentative, busy, oof, workingElsewhere).
            contract.check("event", body)
            event, _ = store.create(email, body, now)
            app.notify(email.lower(), event["id"], "created")
            return {"id": event["id"]}
        case "POST", ["events"]:
            # Bulk seeding for benchmarks: [{"user", ...event}], checked like the API, nobody notified.
            ids = []
            for item in body["events"]:
                event = dict(item)
                owner = event.pop("user")
                contract.check("event", event)
                ids.append(store.create(owner, event, now)[0]["id"])
            return {"ids": ids}
        case "POST", ["users", email, "events", event_id, action]:
            return _act(app, email.lower(), event_id, action, body, now)
    return None


def _control(app: GraphApp, method: str, parts: list[str], body: Any) -> Any:
    """Reset, faults, settings, lifecycle events."""
    from infra.graph_server.app import Fault

    match method, parts:
        case "POST", ["reset"]:
            app.reset()
            return {"reset": True}
        case "POST", ["delta", "expire"]:
            return {"expired": app.store.expire_delta(body.get("email"))}
        case "POST", ["faults"]:
            app.faults.extend(Fault(**fault) for fault in body["faults"])
            return {"faults": len(app.faults)}
        case "PUT", ["config"]:
            app.fault_rate = float(body.get("fault_rate", app.fault_rate))
            app.latency_ms = int(body.get("latency_ms", app.latency_ms))
            app.hold_seconds = float(body.get("hold_seconds", app.hold_seconds))
            app.mailbox_limit_per_10_minutes = body.get(
                "mailbox_limit_per_10_minutes", app.mailbox_limit_per_10_minutes
            )
            return {"fault_rate": app.fault_rate, "latency_ms": app.latency_ms}
        case "POST", ["subscriptions", sid, "lifecycle"]:
            app.lifecycle(sid, body["lifecycleEvent"])
            return {"sent": body["lifecycleEvent"]}
    return None


def _inspect(app: GraphApp, method: str, parts: list[str], _body: Any) -> Any:
    """What the stand-in holds and did."""
    store = app.store
    match method, parts:
        case "GET", ["users", email, "events"]:
            with store.lock:
                return {
                    "value": [
                        {
                            **{k: v for k, v in e.items() if not k.startswith("_")},
                            "start": e["_start"].isoformat(),
                            "end": e["_end"].isoformat(),
                            "deleted": bool(e.get("_deleted")),
                        }
                        for e in store.events.get(email.lower(), {}).values()
                    ]
                }
        case "GET", ["counters"]:
            return {"round_trips": app.round_trips, "calls": dict(app.calls), "total_calls": sum(app.calls.values())}
        case "GET", ["subscriptions"]:
            with store.lock:
                return {"value": [s.as_json() for s in store.subscriptions.values()]}
        case "GET", ["notifications"]:
            return {"delivered": list(app.delivered)}
    return None


def _act(app: GraphApp, email: str, event_id: str, action: str, body: Any, now: datetime) -> Any:
    """The person's change in Outlook, notified like any change."""
    store = app.store
    if action == "move":
        event = store.update(email, event_id, {"start": body["start"], "end": body["end"]}, now)
    elif action == "delete":
        store.delete(email, event_id, now)
        app.notify(email, event_id, "deleted")
        return {"deleted": event_id}
    elif action == "decline":
        event = store.update(email, event_id, {"responseStatus": {"response": "declined"}}, now)
    else:
        raise invalid(f"Unknown action {action}; use move, delete or decline.")
    app.notify(email, event_id, "updated")
    return {"id": event["id"]}
