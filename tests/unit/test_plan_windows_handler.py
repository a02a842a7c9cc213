"""plan_windows' handler: Scheduler's token, the optional body, and outages answered so the next run retries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from maintenance_windows.auth import AuthError
from maintenance_windows.handlers.http import HttpResponse
from maintenance_windows.handlers.plan_windows import PlanSettings, handle_plan_windows
from maintenance_windows.ports.calendar import CalendarDeploymentError, CalendarUnavailable
from maintenance_windows.ports.fleet import FleetUnavailable
from maintenance_windows.service.channels import ChannelKeeper
from tests.support.world import DOMAIN, MONDAY, World, json_request

ALICE = f"alice@{DOMAIN}"
SETTINGS = PlanSettings(time_budget=timedelta(minutes=5), allow_short_lead=False)
LOCAL = PlanSettings(time_budget=timedelta(minutes=5), allow_short_lead=True)


class Verifier:
    """A CallerVerifier that accepts one token and records what it was shown."""

    def __init__(self) -> None:
        self.seen: list[str | None] = []

    def verify(self, authorization_header: str | None, /) -> object:
        self.seen.append(authorization_header)
        if authorization_header != SCHEDULER:
            raise AuthError(403, "caller not allowed")
        return {"email": "scheduler@p.iam.gserviceaccount.com"}


SCHEDULER = "Bearer scheduler"


def call(
    world: World,
    body: Any = b"",
    settings: PlanSettings = SETTINGS,
    *,
    method: str = "POST",
    authorization: str = SCHEDULER,
) -> HttpResponse:
    request = json_request(body, method=method, headers={"Authorization": authorization})
    return handle_plan_windows(request, world.ctx, Verifier(), settings, (ChannelKeeper(),))


def test_a_run_answers_its_report() -> None:
    world = World()
    world.host(1, ALICE)
    response = call(world)
    assert response.status == 200
    assert {key: response.body[key] for key in ("windows_opened", "windows_booked", "channels_created")} == {
        "windows_opened": 1,
        "windows_booked": 1,
        "channels_created": 1,
    }


def test_an_unknown_caller_is_refused_and_nothing_runs() -> None:
    world = World()
    world.host(1, ALICE)
    response = call(world, authorization="Bearer someone")
    assert (response.status, response.body) == (403, {"error": "caller not allowed"})
    assert world.windows() == []
    assert call(world, method="GET").status == 405


@pytest.mark.parametrize(
    ("body", "settings", "status", "problem"),
    [
        (b"{oops", SETTINGS, 400, "empty or a JSON object"),
        ({"lead": 5}, SETTINGS, 400, "only accepted field is lead_minutes"),
        ([5], SETTINGS, 400, "body must be empty or a JSON object"),
        ({"lead_minutes": 5}, SETTINGS, 403, "MW_ALLOW_SHORT_LEAD"),
        ({"lead_minutes": -1}, LOCAL, 400, "0 to 1440"),
        ({"lead_minutes": True}, LOCAL, 400, "0 to 1440"),
        ({"lead_minutes": "5"}, LOCAL, 400, "0 to 1440"),
    ],
)
def test_bad_bodies_are_4xx_naming_the_problem(body: Any, settings: PlanSettings, status: int, problem: str) -> None:
    world = World()
    world.host(1, ALICE)
    response = call(world, body, settings)
    assert response.status == status
    assert problem in response.body["error"]
    assert world.windows() == []


def test_a_short_lead_is_taken_on_local_runs() -> None:
    world = World()
    world.host(1, ALICE)
    assert call(world, {"lead_minutes": 3}, LOCAL).status == 200
    (window,) = world.windows()
    assert window.start is not None
    assert timedelta(minutes=3) <= window.start - MONDAY < timedelta(minutes=4)
    assert call(World(), {"lead_minutes": None}, SETTINGS).status == 200  # null: the usual rules


@pytest.mark.parametrize(
    ("method", "outage"),
    [
        ("failing_host_ids", FleetUnavailable("Fleet answered 502", status=502)),
        ("time_zones", CalendarUnavailable("quota", status=429)),
    ],
)
def test_an_outage_answers_503_and_the_next_run_books(method: str, outage: Exception) -> None:
    world = World()
    world.host(1, ALICE)
    double: Any = world.fleet if isinstance(outage, FleetUnavailable) else world.calendar
    double.fail_next(method, outage)
    response = call(world)
    assert response.status == 503
    assert "unavailable" in response.body["error"]
    assert call(world).body["windows_booked"] == 1


def test_a_deployment_error_is_one_logged_error_and_a_503_naming_the_fix(caplog: pytest.LogCaptureFixture) -> None:
    world = World()
    world.host(1, ALICE)
    problem = (
        "calendar deployment error: the runtime identity may not sign as mw@p.iam.gserviceaccount.com "
        "(IAM signBlob answered 403): grant it roles/iam.serviceAccountTokenCreator on that service account"
    )
    world.calendar.fail_next("time_zones", CalendarDeploymentError(problem, reason="deploymentError"))
    response = call(world)

    assert (response.status, response.body) == (503, {"error": problem})
    logged = [record for record in caplog.records if record.levelname == "ERROR"]
    assert [getattr(record, "event", None) for record in logged] == ["calendar_deployment_error"]
    assert call(world).body["windows_booked"] == 1  # the lease was freed: the run after the fix books


def test_the_follow_job_syncs_polled_calendars_without_planning() -> None:
    world = World()
    world.host(1, ALICE)
    response = call(world, {"follow_only": True})
    assert response.status == 200
    assert response.body == {"calendars_polled": 0, "calendars_not_due": 0, "calendars_failed": 0}
    assert world.windows() == []  # nothing was planned


def test_follow_only_must_be_exactly_true() -> None:
    world = World()
    response = call(world, {"follow_only": False})
    assert response.status == 400
    assert "lead_minutes" in response.body["error"]
