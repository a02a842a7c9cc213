"""Ingestion: a 10,000-host failing-policy webhook, our batched idempotent write against per-host writes.

Runs on the Firestore emulator, whose writes slow down as a collection grows (docs/performance.md), so the
commit and RPC counts are the figures to compare; wall time is reported with that caveat.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from typing import Any

from infra.bench.processes import ROOT, free_port, progress, serving
from maintenance_windows.adapters.firestore_store import FirestoreStore
from maintenance_windows.handlers.fleet_webhook import WebhookSettings, handle_fleet_webhook
from maintenance_windows.handlers.http import HttpRequest


def _payload(hosts: int) -> bytes:
    return json.dumps({
        "timestamp": datetime.now(UTC).isoformat(),
        "policy": {"id": 1, "name": "Disk encryption enabled", "description": "", "resolution": "",
                   "platform": "darwin", "critical": False, "team_id": None, "calendar_events_enabled": True},
        "hosts": [{"id": i, "hostname": f"h{i}", "display_name": f"Host {i}", "url": f"https://fleet/hosts/{i}"}
                  for i in range(1, hosts + 1)],
    }).encode()  # fmt: skip


def _request(body: bytes) -> HttpRequest:
    return HttpRequest("POST", {"Authorization": "Bearer bench"}, {}, body, "application/json", len(body))


def run(hosts: int) -> dict[str, Any]:
    port = free_port()
    body = _payload(hosts)
    settings = WebhookSettings(secrets=["bench"], max_body_bytes=64 * 1024 * 1024)  # type: ignore[list-item]
    with serving(["node", str(ROOT / "infra/firestore/server.js"), str(port)], port, "firestore"):
        os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{port}"
        ours = FirestoreStore.connect("bench-batched")
        progress(f"batched webhook, {hosts:,} hosts")
        started = time.monotonic()
        answer = handle_fleet_webhook(_request(body), ours, settings)
        batched_seconds = time.monotonic() - started
        first = ours.stats.snapshot()
        started = time.monotonic()
        again = handle_fleet_webhook(_request(body), ours, settings)
        redelivery_seconds = time.monotonic() - started
        redelivery = {key: value - first[key] for key, value in ours.stats.snapshot().items()}

        progress(f"reference: one write per host, {hosts:,} hosts")
        reference = FirestoreStore.connect("bench-per-host")
        collection = reference.client.collection("hosts")
        started = time.monotonic()
        for host in json.loads(body)["hosts"]:
            collection.document(str(host["id"])).set({"host_id": host["id"], "failing_policy_ids": [1]}, merge=True)
        per_host_seconds = time.monotonic() - started
    return {
        "hosts": hosts,
        "batched": {"status": answer.status, "rpcs": first["rpcs"], "commits": first["commits"],
                    "writes": first["writes"], "seconds": round(batched_seconds, 1)},
        "redelivery": {"status": again.status, **redelivery, "seconds": round(redelivery_seconds, 1)},
        "per_host_reference": {"rpcs": hosts, "commits": hosts, "seconds": round(per_host_seconds, 1)},
    }  # fmt: skip
