"""What the reliability suite shares: its sizes, a population of users and hosts, and a rig that drives the
local stack from outside (webhooks, planning, task deliveries) and counts what landed where."""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from infra.client import LocalStack
from maintenance_windows.adapters.cloud_tasks import tasks_client
from maintenance_windows.adapters.firestore_store import FirestoreStore
from maintenance_windows.domain.windows import Window
from maintenance_windows.repository import windows as window_records
from tests.support import FLEET_FIXTURES
from tests.support.stack import COLLECTIONS

#: Where each test leaves its measured figures; docs/reliability.md quotes them.
FIGURES_DIR = Path(__file__).resolve().parents[2] / ".local" / "reliability"
#: Cloud Tasks retries a 5xx; the emulator would too, but these deliveries are ours, so we retry like it.
DELIVERY_ATTEMPTS = 30
#: Our task names: <12 hex>-<window id>-r<revision>-<purpose> (domain/ids.task_name).
TASK_LISTINGS = 4
TASK_NAME = re.compile(r"^[0-9a-f]{12}-(?P<window>[0-9a-f]{20}-\d{4})-r(?P<revision>\d+)-(?P<purpose>[a-z0-9]+)$")
#: The local teams.yaml: policy 1 is fixed by an OS update (an MDM command), policy 2 by a saved script.
EXPECTED_ACTIONS = {"mdm_command": 1, "script": 1}
DOMAIN = "acme.example"
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC", "Australia/Sydney")


@dataclass(frozen=True)
class Size:
    name: str
    windows: int
    #: fleet_webhook's fuzz cases; each of the other three functions gets `endpoint_fuzz_cases`.
    fuzz_cases: int
    endpoint_fuzz_cases: int
    #: Per test; pyproject's default (300 s) suits the CI size only.
    timeout_seconds: int


SIZES = {
    "ci": Size("ci", windows=200, fuzz_cases=300, endpoint_fuzz_cases=200, timeout_seconds=300),
    "large": Size("large", windows=1000, fuzz_cases=10_000, endpoint_fuzz_cases=2_000, timeout_seconds=1800),
}


def current_size() -> Size:
    name = os.environ.get("MW_RELIABILITY_SIZE", "ci")
    if name not in SIZES:
        raise ValueError(f"MW_RELIABILITY_SIZE must be one of {sorted(SIZES)}, not {name!r}")
    return SIZES[name]


@dataclass(frozen=True)
class Population:
    """`count` users, each owning one Mac that fails policies 1 and 2. `tag` keeps every test's users (and
    so its window ids and task names) apart from every other test's, on a stack they all share.
    Long addresses have a test of their own (test_found_bugs.py)."""

    tag: str
    count: int

    @property
    def host_ids(self) -> list[int]:
        return list(range(1, self.count + 1))

    def email(self, host_id: int) -> str:
        return f"{self.tag}{host_id:05d}@{DOMAIN}"

    @property
    def emails(self) -> list[str]:
        return [self.email(host_id) for host_id in self.host_ids]

    def fleet_seed(self) -> dict[str, Any]:
        base = json.loads((Path(__file__).resolve().parents[2] / "infra/local/fleet-seed.json").read_text())
        hosts = [
            {
                "id": host_id,
                "uuid": f"{self.tag.upper()}-{host_id:08d}",
                "hardware_serial": f"SN{host_id:07d}",
                "platform": "darwin",
                "display_name": f"Mac {host_id}",
                "hostname": f"mac-{host_id}",
                "emails": [{"email": self.email(host_id), "source": "idp"}],
                "policies": {"1": "fail", "2": "fail"},
            }
            for host_id in self.host_ids
        ]
        return {"policies": base["policies"], "scripts": base["scripts"], "hosts": hosts}

    def calendar_users(self) -> list[dict[str, str]]:
        return [{"email": email, "timeZone": ZONES[i % len(ZONES)]} for i, email in enumerate(self.emails)]

    def webhooks(self) -> list[dict[str, Any]]:
        """Fleet's failing-policies webhook, from the real fixture, once per policy."""
        return [failing_webhook(policy_id, self.host_ids) for policy_id in (1, 2)]


def failing_webhook(policy_id: int, host_ids: Iterable[int]) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((FLEET_FIXTURES / "failing_policies_webhook.json").read_text())
    payload["policy"]["id"] = policy_id
    payload["policy"]["name"] = f"policy {policy_id}"
    payload["timestamp"] = datetime.now(UTC).isoformat()
    payload["hosts"] = [{"id": h, "hostname": f"mac-{h}", "display_name": f"Mac {h}", "url": ""} for h in host_ids]
    return payload


@dataclass(frozen=True)
class QueuedTask:
    name: str
    window_id: str
    revision: int
    purpose: str
    body: bytes


@dataclass
class Delivery:
    """One task delivered the way Cloud Tasks does: repeated on 5xx until it answers 2xx."""

    statuses: list[int] = field(default_factory=list)

    @property
    def final(self) -> int:
        return self.statuses[-1]


class Rig:
    """The local stack seen from outside, plus the counts the reliability checks need."""

    def __init__(self, stack: dict[str, Any], store: FirestoreStore) -> None:
        self.stack = stack
        self.store = store
        self.local = LocalStack(stack, timeout=600)
        self.queue = stack["tasks_queue"]
        self.tasks = tasks_client(stack["tasks_emulator_host"])
        self.http = requests.Session()

    # -- resetting the stand-ins ------------------------------------------------------------------------

    def reset(self, population: Population) -> None:
        """Every stand-in back to a known state for this population; Firestore is wiped by `store`."""
        self.local.fleet.clear_faults()
        self.local.fleet.clear_requests()
        self.local.seed_fleet(population.fleet_seed())
        self.local.reset_calendar(population.calendar_users())
        self.calendar_config(fault_rate=0.0, push_duplicates=1, latency_ms=0)
        self.purge_tasks()

    def calendar_config(self, **changes: Any) -> None:
        self.local.calendar("PUT", "config", changes)

    def purge_tasks(self) -> None:
        """Tasks of earlier tests would otherwise fire later against whatever the store then holds."""
        self.tasks.purge_queue(name=self.queue)

    # -- Fleet's and Cloud Scheduler's side -----------------------------------------------------------

    def replay_webhooks(self, population: Population, copies: int) -> list[int]:
        statuses: list[int] = []
        for payload in population.webhooks():
            statuses.extend(self.local.replay(payload).status_code for _ in range(copies))
        return statuses

    def plan_until_complete(self, attempts: int = 10) -> list[dict[str, Any]]:
        """Call plan_windows as the scheduler until a run completes with nothing left to book, as the
        scheduler's next runs would; 503s (a dependency down) are retried like the next run."""
        reports: list[dict[str, Any]] = []
        for _ in range(attempts):
            answer = self.local.plan()
            reports.append({"status": answer.status_code, **(answer.json() if answer.content else {})})
            if answer.status_code == 200 and answer.json()["complete"] and not self.unbooked_windows():
                return reports
        raise AssertionError(f"planning never completed: {reports}")

    def start_windows_now(self, window_ids: Iterable[str]) -> list[Window]:
        """Move the windows' start to a minute ago: what waiting for it would do. dispatch_window refuses a
        dispatch task before its window's start, and the suite delivers tasks at once instead of waiting."""
        return self.move_window_starts(window_ids, datetime.now(UTC) - timedelta(minutes=1))

    def move_window_starts(self, window_ids: Iterable[str], start: datetime) -> list[Window]:
        """Set the windows' start (and end, keeping the duration) in Firestore, revision unchanged, so their
        queued task still applies; the calendar events keep their time."""
        moved = []
        for window_id in window_ids:
            window = window_records.load(self.store, window_id)
            assert window is not None, window_id
            assert window.start is not None, window_id
            assert window.end is not None, window_id
            moved.append(replace(window, start=start, end=start + (window.end - window.start)))
        window_records.save(self.store, moved)
        return moved

    def log_events(self, function: str, event: str) -> list[dict[str, Any]]:
        """The structured log lines of one function carrying `event` (the stack keeps a log per function)."""
        path = Path(self.stack["root"]) / ".local" / self.stack["profile"] / "logs" / f"{function}.log"
        found = []
        for line in path.read_text().splitlines():
            if f'"{event}"' in line:
                try:
                    found.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return found

    def unbooked_windows(self) -> list[Window]:
        return [w for w in window_records.open_windows(self.store) if w.state.value in ("new", "planned")]

    # -- tasks ------------------------------------------------------------------------------------------

    def queued_tasks(self) -> list[QueuedTask]:
        """Every queued task. The emulator's scheduler pops a not-yet-due task and appends it again, so one
        listing can miss the task in its hands; the union of a few listings cannot."""
        found: dict[str, QueuedTask] = {}
        for listing in range(TASK_LISTINGS):
            if listing:
                time.sleep(0.05)
            for task in self.tasks.list_tasks(parent=self.queue):
                name = task.name.rsplit("/", 1)[-1]
                match = TASK_NAME.match(name)
                if match and name not in found:
                    found[name] = QueuedTask(
                        name, match["window"], int(match["revision"]), match["purpose"], task.http_request.body
                    )
        return list(found.values())

    def deliver(self, body: bytes, copies: int, workers: int = 8) -> list[Delivery]:
        """`copies` concurrent deliveries of one task body to dispatch_window, each retried on 5xx."""
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(lambda _: self._deliver_until_done(body), range(copies)))

    def deliver_all(self, bodies: list[bytes], copies: int, workers: int = 8) -> list[Delivery]:
        """Every body `copies` times, all interleaved (copies of one body run at the same time)."""
        jobs = [body for body in bodies for _ in range(copies)]
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(self._deliver_until_done, jobs))

    def _deliver_until_done(self, body: bytes) -> Delivery:
        delivery = Delivery()
        for attempt in range(DELIVERY_ATTEMPTS):
            answer = self.local.deliver_task(body, timeout=120)  # with the invoker's token, as Cloud Tasks
            delivery.statuses.append(answer.status_code)
            if answer.status_code < 500:
                return delivery
            time.sleep(min(0.05 * 2**attempt, 1.0))
        return delivery

    # -- counting ---------------------------------------------------------------------------------------

    def events_by_window(self, population: Population) -> dict[str, list[dict[str, Any]]]:
        """Our events (deleted ones included) in every user's calendar, grouped by mw_window_id."""
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        with ThreadPoolExecutor(8) as pool:
            for events in pool.map(lambda email: self.local.our_events(email, include_deleted=True), population.emails):
                for event in events:
                    grouped[event["extendedProperties"]["private"]["mw_window_id"]].append(event)
        return dict(grouped)

    def actions_by_host(self) -> dict[int, dict[str, int]]:
        return {int(host): kinds for host, kinds in self.local.fleet.actions_by_host().items()}

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every document the product could have written, for before/after comparisons."""
        return {
            name: {doc.id: doc.to_dict() for doc in self.store.client.collection(name).stream()} for name in COLLECTIONS
        }


def tasks_per_window_revision(tasks: Iterable[QueuedTask], purpose: str) -> Counter[tuple[str, int]]:
    return Counter((task.window_id, task.revision) for task in tasks if task.purpose == purpose)


def wait_until(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.2) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if condition():
            return time.monotonic() - began
        time.sleep(poll)
    raise AssertionError(f"{what}: not within {timeout} s")


def settle_notifications(rig: Rig, quiet: float = 1.5, timeout: float | None = None) -> None:
    """Until the calendar has pushed everything and calendar_notifications left no message pending. By default
    for at most half the size's test time: the large size's 20,000 pushes took 10 minutes on a loaded machine."""
    timeout = timeout if timeout is not None else max(600, current_size().timeout_seconds / 2)
    last: tuple[int, int] | None = None
    stable_since = time.monotonic()

    def settled() -> bool:
        nonlocal last, stable_since
        counters = rig.local.counters()
        now = (counters["notifications_sent"], counters["notifications_failed"])
        if now != last:
            last, stable_since = now, time.monotonic()
            return False
        pending = rig.store.client.collection("follow_pending").limit(1).get()
        return time.monotonic() - stable_since >= quiet and not pending

    wait_until(settled, timeout, "calendar notifications never settled", poll=0.25)


class Figures:
    """Measured figures of one run, written to .local/reliability/figures-<size>.json at the end."""

    def __init__(self, size: Size) -> None:
        self.size = size
        self.values: dict[str, dict[str, Any]] = {}

    def record(self, test: str, **values: Any) -> None:
        self.values.setdefault(test, {}).update(values)

    def write(self) -> Path:
        """Merged into the file of earlier runs at this size, so running one test updates only its figures."""
        FIGURES_DIR.mkdir(parents=True, exist_ok=True)
        path = FIGURES_DIR / f"figures-{self.size.name}.json"
        earlier = json.loads(path.read_text()) if path.exists() else {}
        merged = {**earlier, "size": self.size.name, "windows": self.size.windows, **self.values}
        path.write_text(json.dumps(merged, indent=2, default=str))
        return path


#: The fuzz figures' keys, and what each one tried.
FUZZ_SUITES = {
    "fuzz": "fleet_webhook, all kinds mixed",
    "fuzz_hostile": "fleet_webhook, one attack class",
    "fuzz_dispatch": "dispatch_window",
    "fuzz_plan": "plan_windows",
    "fuzz_notifications": "calendar_notifications",
}


def fuzz_rows(values: dict[str, dict[str, Any]]) -> list[tuple[str, int, int, int]]:
    """(suite, cases, 5xx, writes on refused calls) for every fuzz figure recorded, then their total."""
    rows = []
    for name, suite in FUZZ_SUITES.items():
        figure = values.get(name)
        if figure is None:
            continue
        # fuzz_hostile holds one figure per attack class; the others are one figure each.
        for label, one in figure.items() if name == "fuzz_hostile" else [(None, figure)]:
            rows.append(
                (f"{suite}: {label}" if label else suite, one["cases"], one["server_errors"], one["writes_on_refused"])
            )
    if rows:
        rows.append(("total", sum(r[1] for r in rows), sum(r[2] for r in rows), sum(r[3] for r in rows)))
    return rows
