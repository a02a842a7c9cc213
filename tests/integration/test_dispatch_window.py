"""dispatch_window over real servers on loopback: Tasks emulator → our handler (werkzeug) → stand-in Fleet,
with windows and claims in the Firestore emulator, and tokens from the local OIDC issuer."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import flask
import pytest
import requests

from infra.fleet_server import FleetAdmin, RunningFleet, serve_in_thread
from infra.oidc_issuer import CERTS_PATH, LocalIssuer
from infra.serving import BackgroundServer
from maintenance_windows.adapters.cloud_tasks import CloudTasksQueue, tasks_client
from maintenance_windows.adapters.firestore_store import FirestoreStore
from maintenance_windows.adapters.fleet_http import FLEET_RETRY, FleetHttpClient
from maintenance_windows.auth import CallerVerifier
from maintenance_windows.auth.oidc import OidcVerifier
from maintenance_windows.config.teams import parse_teams
from maintenance_windows.domain.failing_policies import HostSighting
from maintenance_windows.domain.host_cases import HostStatus
from maintenance_windows.domain.ids import task_name
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.flask_bridge import to_request, to_response
from maintenance_windows.handlers.dispatch_window import handle_dispatch_window
from maintenance_windows.ports.store import Write
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.repository import windows as window_records
from maintenance_windows.service.dispatch_context import DispatchContext, DispatchOptions

pytestmark = pytest.mark.stack

TASK_INVOKER = "task-invoker@local-project.iam.gserviceaccount.com"
TEAMS = {
    "defaults": {
        "actions": [
            {
                "policy_id": 1,
                "actions": [
                    {"type": "script", "script_name": "Enable firewall"},
                    {"type": "mdm_command", "apple_request_type": "RestartDevice"},
                ],
            },
            {"policy_id": 2, "actions": [{"type": "software_install", "software_title_id": 9}]},
        ],
        "verify": {"grace_minutes": 0},
    }
}
HOSTS = 4


def seed(hosts: int = HOSTS) -> dict[str, Any]:
    return {
        # Hosts report at their next check-in after a refetch (every second here, as in Fleet every 10 s).
        "settings": {"checkin_interval_seconds": 1},
        "hosts": [
            {
                "id": i,
                "uuid": f"uuid-{i}",
                "hardware_serial": f"SN{i}",
                "platform": "darwin",
                "team_id": 3,
                "display_name": f"Mac {i}",
                "policies": {"1": "fail", "2": "fail"},
            }
            for i in range(1, hosts + 1)
        ],
        "policies": [
            {"id": 1, "name": "Firewall on", "team_id": 3},
            {"id": 2, "name": "Agent installed", "team_id": 3},
        ],
        "scripts": [{"id": 7, "name": "Enable firewall", "team_id": 3}],
        "software_titles": [{"id": 9, "name": "Agent"}],
    }


@dataclass
class Dispatcher:
    url: str
    ctx: DispatchContext
    deliveries: list[tuple[int, str | None]] = field(default_factory=list)

    def statuses(self) -> list[int]:
        return [status for status, _ in self.deliveries]


@contextmanager
def serve_dispatcher(
    build_ctx: Callable[[str], DispatchContext], verifier: CallerVerifier | None
) -> Iterator[Dispatcher]:
    """The handler behind the same Flask bridge main.py uses; every answer is recorded."""
    app = flask.Flask("dispatch_window")
    holder: list[Dispatcher] = []

    @app.post("/")
    def entry() -> tuple[bytes, int, dict[str, str]]:
        answer = handle_dispatch_window(to_request(flask.request, 16 * 1024), holder[0].ctx, verifier)
        holder[0].deliveries.append((answer.status, flask.request.headers.get("X-CloudTasks-TaskName")))
        return to_response(answer)

    with BackgroundServer(app) as served:
        url = served.url + "/"
        holder.append(Dispatcher(url, build_ctx(url)))
        yield holder[0]


@pytest.fixture
def fleet() -> Iterator[RunningFleet]:
    with serve_in_thread(seed()) as running:
        yield running


@pytest.fixture
def admin(fleet: RunningFleet) -> Iterator[FleetAdmin]:
    client = FleetAdmin(fleet.url)
    yield client
    client.close()


def context_factory(
    stack: dict[str, Any], store: FirestoreStore, fleet: RunningFleet
) -> Callable[[str], DispatchContext]:
    def build(url: str) -> DispatchContext:
        # Short backoffs keep the fault test quick; the policy is otherwise production's.
        fast = replace(FLEET_RETRY, base_delay_seconds=0.02, max_delay_seconds=0.2)
        client = FleetHttpClient(fleet.url, fleet.token, retry=fast)
        tasks = CloudTasksQueue(tasks_client(stack["tasks_emulator_host"]), stack["tasks_queue"], url, None, None)
        # Verification re-checks after the hosts' next check-in: 2 s here instead of 5 minutes.
        return DispatchContext(
            store, client, tasks, parse_teams(TEAMS), options=DispatchOptions(recheck_delay=timedelta(seconds=2))
        )

    return build


def store_window(store: FirestoreStore, start: datetime, hosts: int = HOSTS, window_id: str | None = None) -> Window:
    window = Window(
        window_id=window_id or f"it{time.monotonic_ns()}-0001",
        user_key="it",
        user_email="ada@example.com",
        team_id=3,
        host_ids=tuple(range(1, hosts + 1)),
        policy_ids=(1, 2),
        deadline=start + timedelta(days=3),
        created_at=start - timedelta(days=1),
        state=WindowState.SCHEDULED,
        revision=1,
        start=start,
        end=start + timedelta(seconds=2),
    )
    window_records.save(store, [window])
    host_records.record_failures(
        store,
        [
            HostSighting(host_id, policy, start - timedelta(minutes=1))
            for host_id in window.host_ids
            for policy in (1, 2)
        ],
    )
    store.commit(
        [
            Write(
                "set",
                host_records.HOSTS,
                str(host_id),
                {"host_id": host_id, "fleet_display_name": f"Mac {host_id}", "team_id": 3},
            )
            for host_id in window.host_ids
        ]
    )
    return window


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if condition():
            return time.monotonic() - began
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout} s")


def state_of(store: FirestoreStore, window_id: str) -> WindowState | None:
    window = window_records.load(store, window_id)
    return window.state if window else None


def fleet_actions(admin: FleetAdmin) -> list[tuple[int, str]]:
    return sorted((a["host_id"], a["kind"]) for a in admin.state()["actions"])


EXPECTED = sorted(
    (host, kind) for host in range(1, HOSTS + 1) for kind in ("script", "mdm_command", "software_install")
)


def schedule_dispatch(dispatcher: Dispatcher, window: Window, copies: int = 1) -> None:
    name = task_name(window.window_id, window.revision, "dispatch")
    payload = {"window_id": window.window_id, "revision": window.revision, "purpose": "dispatch"}
    assert window.start is not None
    for copy in range(copies):
        # The emulator does not deduplicate names; distinct names make the copies explicit either way.
        dispatcher.ctx.tasks.schedule(f"{name}-copy{copy}", window.start, payload)


# -- through the Tasks emulator ------------------------------------------------------------------------------


def test_task_fires_at_start_sends_actions_once_and_verification_follows(
    stack: dict[str, Any], store: FirestoreStore, fleet: RunningFleet, admin: FleetAdmin
) -> None:
    for host in range(1, HOSTS + 1):  # the stand-in's hosts pass once they get the fix and report back
        admin.pass_on_action(host, 1, "mdm_command", "RestartDevice")
        admin.pass_on_action(host, 2, "software_install", "9")
    with serve_dispatcher(context_factory(stack, store, fleet), None) as dispatcher:
        start = datetime.now(UTC) + timedelta(seconds=2)
        window = store_window(store, start)
        schedule_dispatch(dispatcher, window)
        wait_for(lambda: state_of(store, window.window_id) is not WindowState.SCHEDULED)
        dispatched_at = datetime.now(UTC)
        assert dispatched_at >= start
        assert fleet_actions(admin) == EXPECTED
        wait_for(lambda: state_of(store, window.window_id) is WindowState.VERIFIED)
    closed = {case.host_id for case in host_records.all_hosts(store) if case.status is HostStatus.CLOSED}
    assert closed >= set(range(1, HOSTS + 1))
    assert fleet_actions(admin) == EXPECTED  # verification refetches; it sends no fix again


def test_three_deliveries_send_one_set(
    stack: dict[str, Any], store: FirestoreStore, fleet: RunningFleet, admin: FleetAdmin
) -> None:
    with serve_dispatcher(context_factory(stack, store, fleet), None) as dispatcher:
        window = store_window(store, datetime.now(UTC) + timedelta(seconds=1))
        schedule_dispatch(dispatcher, window, copies=3)
        wait_for(lambda: dispatcher.statuses().count(200) >= 3)
    assert fleet_actions(admin) == EXPECTED
    assert state_of(store, window.window_id) is WindowState.DISPATCHED


def test_each_action_arrives_once_while_fleet_fails_30_percent(
    stack: dict[str, Any], store: FirestoreStore, fleet: RunningFleet, admin: FleetAdmin
) -> None:
    admin.faults(rate_5xx=0.3, status_5xx=500, seed=11)
    with serve_dispatcher(context_factory(stack, store, fleet), None) as dispatcher:
        window = store_window(store, datetime.now(UTC) + timedelta(seconds=1))
        schedule_dispatch(dispatcher, window)
        wait_for(lambda: state_of(store, window.window_id) is WindowState.DISPATCHED, timeout=60)
    failed_sends = [r for r in admin.requests(method="POST", status=500) if r["fault"] == "server_error"]
    assert failed_sends, "the fault injection never hit an action; the test proves nothing"
    assert fleet_actions(admin) == EXPECTED
    assert dispatcher.statuses().count(503) >= 1
    assert dispatcher.statuses()[-1] == 200


# -- authentication ------------------------------------------------------------------------------------------


def test_tokens_are_checked_before_anything_runs(
    stack: dict[str, Any],
    store: FirestoreStore,
    fleet: RunningFleet,
    admin: FleetAdmin,
    issuer: LocalIssuer,
    issuer_url: str,
) -> None:
    verifier_holder: list[OidcVerifier] = []

    class Late:
        """The audience is the handler's own URL, known only once it is served."""

        def verify(self, header: str | None, /) -> object:
            return verifier_holder[0].verify(header)

    with serve_dispatcher(context_factory(stack, store, fleet), Late()) as dispatcher:
        audience = dispatcher.url
        verifier_holder.append(OidcVerifier(audience, [TASK_INVOKER], certs_url=issuer_url + CERTS_PATH))
        window = store_window(store, datetime.now(UTC))
        body = {"window_id": window.window_id, "revision": 1, "purpose": "dispatch"}
        past = datetime.now(UTC) - timedelta(hours=2)
        refusals = {
            "missing": (None, 401),
            "expired": (issuer.mint(audience, TASK_INVOKER, now=past, expires_in=600), 401),
            "wrong audience": (issuer.mint("https://elsewhere.example", TASK_INVOKER), 401),
            "wrong issuer": (issuer.mint(audience, TASK_INVOKER, issuer="https://evil.example"), 401),
            "wrong caller": (issuer.mint(audience, "someone@local-project.iam.gserviceaccount.com"), 403),
        }
        for case, (token, status) in refusals.items():
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            answer = requests.post(audience, json=body, headers=headers, timeout=10)
            assert answer.status_code == status, (case, answer.text)
        assert fleet_actions(admin) == []
        assert state_of(store, window.window_id) is WindowState.SCHEDULED
        token = issuer.mint(audience, TASK_INVOKER)
        accepted = requests.post(audience, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert accepted.status_code == 200, accepted.text
    assert fleet_actions(admin) == EXPECTED
