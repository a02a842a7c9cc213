"""Ingestion: a failing-policies webhook of 10,000 and 50,000 hosts, answered within Fleet's 30 s.

Fleet posts the webhook with a 30-second client timeout and by default puts every failing host of a policy
in one request. Two designs, each size on an empty Firestore emulator:

- **chunked** (the product): the payload goes over HTTP to fleet_webhook on a local stack (Firestore and
  Tasks emulators, the tasks relay, fleet_webhook and dispatch_window under functions-framework), which
  stores it as chunks, queues one task per chunk and answers; the tasks fold the chunks in through the
  relay and dispatch_window. `ack` is the answer's time; `stored` the time until no chunk is left and every
  host's policy case is in Firestore.
- **single request** (before chunks): the whole payload folded in by one call, in process, as fleet_webhook
  did inside its request, so its answer comes only when everything is stored (`ack` = `stored`).

The emulator's inserts slow down as a collection grows (each new document copies the collection's index:
about 0.1 s a document at 25,000 documents, docs/performance.md), so `stored` is the emulator's figure more
than the product's, and each design is followed for at most `stored_timeout` seconds: the figures then say
how many hosts were stored by then. The commit counts are the comparable part.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from infra import stack as local_stack
from infra.bench.processes import ROOT, free_port, progress, serving
from infra.ports import PortInUse
from maintenance_windows.adapters.firestore_store import FirestoreStore
from maintenance_windows.domain.failing_policies import FailingPoliciesWebhook, sightings_of
from maintenance_windows.repository.hosts import HOST_POLICIES, record_failures
from maintenance_windows.service.ingestion import CHUNKS

PROFILE = "bench"
COMPONENTS = {"firestore", "tasks", "oidc", "tasks_relay", "fleet_webhook", "dispatch_window"}
FLEET_TIMEOUT_SECONDS = 30.0


def _payload(hosts: int) -> bytes:
    return json.dumps(
        {
            "timestamp": (datetime.now(UTC) - timedelta(seconds=1)).isoformat(),
            "policy": {
                "id": 1,
                "name": "Disk encryption enabled",
                "description": "",
                "resolution": "",
                "platform": "darwin",
                "critical": False,
                "team_id": None,
                "calendar_events_enabled": True,
            },
            "hosts": [
                {"id": i, "hostname": f"h{i}", "display_name": f"Host {i}", "url": f"https://fleet/hosts/{i}"}
                for i in range(1, hosts + 1)
            ],
        }
    ).encode()


def _count(store: FirestoreStore, collection: str) -> int:
    result = store.client.collection(collection).count().get()  # type: ignore[no-untyped-call]
    return int(result[0][0].value)


def chunked(hosts: int, timeout: float) -> dict[str, Any]:
    """The product on a local stack: answer time, and time until every host is stored."""
    body = _payload(hosts)
    info = _up()
    try:
        os.environ["FIRESTORE_EMULATOR_HOST"] = info["firestore_emulator_host"]
        store = FirestoreStore.connect(info["project"])
        progress(f"chunked: posting a {hosts:,}-host webhook ({len(body) / 1e6:.1f} MB) to the local stack")
        started = time.monotonic()
        answer = requests.post(
            info["urls"]["fleet_webhook"],
            data=body,
            timeout=120,
            headers={"Content-Type": "application/json"},
            auth=("fleet", info["secrets"]["webhook"]),
        )
        ack = time.monotonic() - started
        reply = answer.json()
        while _count(store, CHUNKS) and time.monotonic() - started < timeout:
            time.sleep(0.5)
        stored_seconds = time.monotonic() - started
        stored = _count(store, HOST_POLICIES)
        progress(f"chunked: answered in {ack:.2f} s, {stored:,} hosts stored after {stored_seconds:.0f} s")
        started = time.monotonic()
        again = requests.post(
            info["urls"]["fleet_webhook"],
            data=body,
            timeout=120,
            headers={"Content-Type": "application/json"},
            auth=("fleet", info["secrets"]["webhook"]),
        )
        redelivery_ack = time.monotonic() - started
    finally:
        local_stack.down(PROFILE)
    return {
        "status": answer.status_code,
        "answer": reply,
        "ack_seconds": round(ack, 2),
        "within_fleet_timeout": ack < FLEET_TIMEOUT_SECONDS,
        "all_stored": stored == hosts,
        "stored_seconds": round(stored_seconds, 1) if stored == hosts else f"> {stored_seconds:.0f}",
        "hosts_stored": stored,
        "redelivery": {
            "status": again.status_code,
            "ack_seconds": round(redelivery_ack, 2),
            "same_delivery": again.json().get("delivery_id") == reply.get("delivery_id"),
        },
    }


def _up(attempts: int = 20) -> dict[str, Any]:
    """The stack's ports lie in the kernel's ephemeral range (32768-60999), where a busy machine's outgoing
    connections briefly hold ports too: wait for them rather than fail the run."""
    for _ in range(attempts - 1):
        try:
            return local_stack.up(PROFILE, COMPONENTS)
        except PortInUse as busy:
            progress(f"{busy}; trying again in 15 s")
            time.sleep(15)
    return local_stack.up(PROFILE, COMPONENTS)


def single_request(hosts: int, timeout: float) -> dict[str, Any]:
    """Every host folded in before the answer, as one request did before chunks (in process, same code)."""
    body = _payload(hosts)
    port = free_port()
    outcome: dict[str, Any] = {}

    def fold_in() -> None:
        try:
            outcome["counts"] = record_failures(store, sightings_of(FailingPoliciesWebhook.model_validate_json(body)))
        except Exception as stopped:  # noqa: BLE001  # whatever a stopped emulator makes the client raise
            outcome["error"] = type(stopped).__name__

    with serving(["node", str(ROOT / "infra/firestore/server.js"), f"--port={port}"], port, "firestore"):
        os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{port}"
        store = FirestoreStore.connect("bench-single-request")
        progress(f"single request: folding {hosts:,} hosts in before answering (at most {timeout:.0f} s)")
        started = time.monotonic()
        worker = threading.Thread(target=fold_in, daemon=True)
        worker.start()
        worker.join(timeout)
        seconds = time.monotonic() - started
        if worker.is_alive():
            stored = _count(store, HOST_POLICIES)
            progress(f"single request: no answer after {seconds:.0f} s ({stored:,} hosts stored); stopped")
            return {
                "answered": False,
                "ack_seconds": f"> {seconds:.0f}",
                "within_fleet_timeout": False,
                "hosts_stored_by_then": stored,
            }
        first = store.stats.snapshot()
        started = time.monotonic()
        record_failures(store, sightings_of(FailingPoliciesWebhook.model_validate_json(body)))
        redelivery_seconds = time.monotonic() - started
        redelivery = {key: value - first[key] for key, value in store.stats.snapshot().items()}
    progress(f"single request: answered (and stored) after {seconds:.0f} s")
    return {
        "answered": True,
        "ack_seconds": round(seconds, 1),
        "stored_seconds": round(seconds, 1),
        "within_fleet_timeout": seconds < FLEET_TIMEOUT_SECONDS,
        "hosts_new": outcome["counts"].hosts_new,
        "rpcs": first["rpcs"],
        "commits": first["commits"],
        "writes": first["writes"],
        "redelivery": {**redelivery, "seconds": round(redelivery_seconds, 1)},
    }


def run(sizes: list[int], stored_timeout: float = 900.0) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for hosts in sizes:
        results[str(hosts)] = {
            "hosts": hosts,
            "chunked": chunked(hosts, stored_timeout),
            "single_request": single_request(hosts, stored_timeout),
        }
    return results
