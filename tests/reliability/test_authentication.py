"""Every function refuses unauthenticated and wrongly authenticated calls (401/403) and writes nothing.

fleet_webhook, plan_windows and calendar_notifications are called on the local stack. dispatch_window
refuses a tokenless call on the local stack too (its tasks arrive through infra/tasks_relay, which adds
the token the emulator cannot); its full set of token checks is exercised on the same handler served here
behind the OIDC verifier Cloud Run uses, with keys from the stack's issuer, so each token is minted for
that handler's own URL.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import flask
import pytest
import requests

from infra.oidc_issuer import LocalIssuer
from infra.serving import BackgroundServer
from maintenance_windows.adapters.cloud_tasks import CloudTasksQueue, tasks_client
from maintenance_windows.adapters.fleet_http import FleetHttpClient
from maintenance_windows.auth.oidc import OidcVerifier
from maintenance_windows.config.teams import load_teams
from maintenance_windows.domain.ids import task_name
from maintenance_windows.domain.windows import WindowState
from maintenance_windows.flask_bridge import to_request, to_response
from maintenance_windows.handlers.dispatch_window import MAX_BODY_BYTES, handle_dispatch_window
from maintenance_windows.repository import windows as window_records
from maintenance_windows.service.dispatch_context import DispatchContext
from tests.reliability.support import Population, Rig, settle_notifications

pytestmark = pytest.mark.stack

INTRUDER = "intruder@local-project.iam.gserviceaccount.com"
#: Validly signed, but no Google ID token lives longer than an hour.
CENTURY = 100 * 365 * 24 * 3600
Call = Callable[[], requests.Response]


@pytest.fixture
def planned(rig: Rig) -> Population:
    """Two users with failing Macs, booked by a real planning run: windows, tasks and calendar channels."""
    population = Population("a", 2)
    rig.reset(population)
    assert set(rig.replay_webhooks(population, copies=1)) == {202}
    rig.plan_until_complete()
    return population


@pytest.fixture
def trusted_issuer(rig: Rig) -> LocalIssuer:
    """The stack's own issuer key (its certs are what the functions trust): lets us forge expired tokens."""
    return LocalIssuer(Path(rig.stack["root"]) / ".local" / rig.stack["profile"] / "oidc")


@pytest.fixture
def stranger(tmp_path: Path) -> LocalIssuer:
    """A key nobody trusts, minting otherwise perfect tokens."""
    return LocalIssuer(tmp_path / "stranger")


def _refusals(calls: dict[str, tuple[Call, int]]) -> dict[str, int]:
    """Each call's status, where it differs from what was expected."""
    wrong = {}
    for case, (call, expected) in calls.items():
        status = call().status_code
        if status != expected:
            wrong[case] = status
    return wrong


def _calls_to_dependencies(rig: Rig) -> tuple[int, int]:
    return rig.local.counters()["total_calls"], len(rig.local.fleet.requests())


def test_fleet_webhook_refuses_a_missing_or_wrong_secret_and_stores_nothing(rig: Rig) -> None:
    population = Population("a", 2)
    rig.reset(population)
    url, body = rig.stack["urls"]["fleet_webhook"], population.webhooks()[0]
    secret = rig.stack["secrets"]["webhook"]

    def post(headers: dict[str, str] | None = None, params: dict[str, str] | None = None) -> Call:
        return lambda: requests.post(url, json=body, headers=headers or {}, params=params or {}, timeout=30)

    basic = "Basic " + base64.b64encode(b"fleet:" + secret[:-1].encode()).decode()
    calls = {
        "none": (post(), 401),
        "basic, wrong password": (post({"Authorization": basic}), 401),
        "basic, not base64": (post({"Authorization": "Basic %%%"}), 401),
        "bearer, wrong": (post({"Authorization": "Bearer " + secret.upper()}), 401),
        "bearer, empty": (post({"Authorization": "Bearer "}), 401),
        "query token, wrong": (post(params={"token": secret + "x"}), 401),
        "secret in another header": (post({"X-Fleet-Secret": secret}), 401),
        "secret as the scheme": (post({"Authorization": secret}), 401),
    }
    assert _refusals(calls) == {}
    assert rig.snapshot() == {name: {} for name in rig.snapshot()}
    assert post({"Authorization": f"Bearer {secret}"})().status_code == 202  # the refusals were not vacuous


def test_plan_windows_refuses_every_wrong_token_and_plans_nothing(
    rig: Rig, trusted_issuer: LocalIssuer, stranger: LocalIssuer
) -> None:
    population = Population("a", 2)
    rig.reset(population)
    assert set(rig.replay_webhooks(population, copies=1)) == {202}
    url, scheduler = rig.stack["urls"]["plan_windows"], rig.stack["service_accounts"]["scheduler"]
    before, dependencies = rig.snapshot(), _calls_to_dependencies(rig)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=2)
    an_hour_on = datetime.now(UTC) + timedelta(hours=1)

    def plan(authorization: str | None) -> Call:
        headers = {"Authorization": authorization} if authorization else {}
        return lambda: requests.post(url, json={}, headers=headers, timeout=60)

    def bearer(token: str) -> str:
        return f"Bearer {token}"

    calls = {
        "none": (plan(None), 401),
        "not a JWT": (plan(bearer("not-a-jwt")), 401),
        "webhook secret": (plan(bearer(rig.stack["secrets"]["webhook"])), 401),
        "basic scheme": (plan("Basic " + base64.b64encode(b"scheduler:x").decode()), 401),
        "wrong audience": (plan(bearer(trusted_issuer.mint("https://elsewhere.example/", scheduler))), 401),
        "expired": (plan(bearer(trusted_issuer.mint(url, scheduler, now=an_hour_ago, expires_in=600))), 401),
        "wrong issuer": (plan(bearer(trusted_issuer.mint(url, scheduler, issuer="https://evil.example"))), 401),
        "not valid for an hour yet": (plan(bearer(trusted_issuer.mint(url, scheduler, not_before=an_hour_on))), 401),
        "valid for a century": (plan(bearer(trusted_issuer.mint(url, scheduler, expires_in=CENTURY))), 401),
        "unverified email": (plan(bearer(trusted_issuer.mint(url, scheduler, email_verified=False))), 403),
        "untrusted key": (plan(bearer(stranger.mint(url, scheduler))), 401),
        "wrong caller": (plan(bearer(trusted_issuer.mint(url, INTRUDER))), 403),
    }
    assert _refusals(calls) == {}
    assert rig.snapshot() == before
    assert _calls_to_dependencies(rig) == dependencies  # not one Calendar or Fleet call either
    accepted = plan(bearer(trusted_issuer.mint(url, scheduler)))()
    assert accepted.status_code == 200
    assert accepted.json()["windows_booked"] == 2


@pytest.mark.usefixtures("planned")
def test_calendar_notifications_refuses_unknown_channels_and_wrong_tokens(rig: Rig) -> None:
    (channel, *_) = rig.local.calendar("GET", "channels")["channels"]
    url = rig.stack["urls"]["calendar_notifications"]
    before, dependencies = rig.snapshot(), _calls_to_dependencies(rig)

    def notify(**headers: str) -> Call:
        base = {
            "X-Goog-Resource-State": "exists",
            "X-Goog-Message-Number": "99",
            "X-Goog-Resource-ID": channel["resourceId"],
        }
        sent = {**base, **{key.replace("_", "-"): value for key, value in headers.items()}}
        return lambda: requests.post(url, headers=sent, timeout=30)

    calls = {
        "no channel": (notify(), 401),
        "unknown channel": (notify(**{"X-Goog-Channel-ID": "not-ours", "X-Goog-Channel-Token": "x"}), 401),
        "known channel, no token": (notify(**{"X-Goog-Channel-ID": channel["id"]}), 403),
        "known channel, wrong token": (
            notify(**{"X-Goog-Channel-ID": channel["id"], "X-Goog-Channel-Token": "guessed"}),
            403,
        ),
        "known channel, empty token": (
            notify(**{"X-Goog-Channel-ID": channel["id"], "X-Goog-Channel-Token": ""}),
            403,
        ),
    }
    assert _refusals(calls) == {}
    assert rig.snapshot() == before
    assert _calls_to_dependencies(rig) == dependencies  # nothing was synced
    # The same channel with the token Google holds (the stand-in's own push) is followed: the refusals above
    # were about the credentials, not a dead channel.
    (window,) = [w for w in window_records.all_windows(rig.store) if w.user_email == channel["user"]]
    assert window.start is not None
    assert window.end is not None
    moved = {
        "start": (window.start + timedelta(hours=1)).isoformat(),
        "end": (window.end + timedelta(hours=1)).isoformat(),
    }
    rig.local.calendar("POST", f"users/{window.user_email}/events/{window.event_id}/move", moved)
    settle_notifications(rig, quiet=0.5, timeout=30)
    followed = window_records.load(rig.store, window.window_id)
    assert followed is not None
    assert followed.revision == window.revision + 1


@contextmanager
def _served_dispatcher(rig: Rig, verifier: Any) -> Iterator[str]:
    app = flask.Flask("dispatch_window")
    client = FleetHttpClient(rig.stack["urls"]["fleet"], rig.stack["secrets"]["fleet_api_token"])
    holder: list[str] = []

    @app.post("/")
    def entry() -> tuple[bytes, int, dict[str, str]]:
        tasks = CloudTasksQueue(tasks_client(rig.stack["tasks_emulator_host"]), rig.queue, holder[0], None, None)
        ctx = DispatchContext(rig.store, client, tasks, load_teams(rig.stack["team_config"]))
        return to_response(handle_dispatch_window(to_request(flask.request, MAX_BODY_BYTES), ctx, verifier))

    with BackgroundServer(app) as served:
        holder.append(served.url + "/")
        yield holder[0]


@pytest.mark.usefixtures("planned")
def test_dispatch_window_refuses_every_wrong_token_and_sends_nothing(
    rig: Rig, trusted_issuer: LocalIssuer, stranger: LocalIssuer
) -> None:
    (window, *_) = rig.start_windows_now(w.window_id for w in window_records.all_windows(rig.store))
    body = {"window_id": window.window_id, "revision": window.revision, "purpose": "dispatch"}
    invoker = rig.stack["service_accounts"]["task_invoker"]
    on_the_stack = requests.post(rig.stack["urls"]["dispatch_window"], timeout=30, json=body)
    assert on_the_stack.status_code == 401  # no token: refused on the local stack as in the cloud

    audience: list[str] = []

    class VerifierForServedUrl:
        """The audience is the served handler's own URL, known once it listens."""

        def verify(self, header: str | None, /) -> object:
            certs = rig.stack["function_env"]["MW_OIDC_CERTS_URL"]
            return OidcVerifier(audience[0], [invoker], certs_url=certs).verify(header)

    with _served_dispatcher(rig, VerifierForServedUrl()) as url:
        audience.append(url)
        before, fleet_before = rig.snapshot(), len(rig.local.fleet.requests())
        an_hour_ago = datetime.now(UTC) - timedelta(hours=2)
        an_hour_on = datetime.now(UTC) + timedelta(hours=1)

        def dispatch(token: str | None) -> Call:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return lambda: requests.post(url, json=body, headers=headers, timeout=60)

        calls = {
            "none": (dispatch(None), 401),
            "not a JWT": (dispatch("x.y.z"), 401),
            "wrong audience": (dispatch(trusted_issuer.mint(rig.stack["urls"]["plan_windows"], invoker)), 401),
            "expired": (dispatch(trusted_issuer.mint(url, invoker, now=an_hour_ago, expires_in=600)), 401),
            "wrong issuer": (dispatch(trusted_issuer.mint(url, invoker, issuer="https://evil.example")), 401),
            "not valid for an hour yet": (dispatch(trusted_issuer.mint(url, invoker, not_before=an_hour_on)), 401),
            "valid for a century": (dispatch(trusted_issuer.mint(url, invoker, expires_in=CENTURY)), 401),
            "untrusted key": (dispatch(stranger.mint(url, invoker)), 401),
            "the scheduler": (dispatch(trusted_issuer.mint(url, rig.stack["service_accounts"]["scheduler"])), 403),
            "wrong caller": (dispatch(trusted_issuer.mint(url, INTRUDER)), 403),
        }
        assert _refusals(calls) == {}
        assert rig.snapshot() == before
        assert len(rig.local.fleet.requests()) == fleet_before
        accepted = dispatch(trusted_issuer.mint(url, invoker))()
        assert accepted.status_code == 200, accepted.text
    dispatched = window_records.load(rig.store, window.window_id)
    assert dispatched is not None
    assert dispatched.state is WindowState.DISPATCHED
    assert rig.actions_by_host()[window.host_ids[0]] == {"mdm_command": 1, "script": 1}
    assert task_name(window.window_id, window.revision, "verify") in {t.name for t in rig.queued_tasks()}
