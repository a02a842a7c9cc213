"""Concurrent webhooks on the local stack: N webhooks for N policies of one new host at once lose none, and
identical ones count each new host once. docs/reliability.md quotes the figures this writes."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from maintenance_windows.repository import hosts as host_records
from tests.reliability.support import Figures, Rig, failing_webhook

pytestmark = pytest.mark.stack

CONCURRENT = (2, 20, 50)
TRIALS = 3


def _post_all(rig: Rig, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(max_workers=len(payloads)) as pool:
        answers = list(pool.map(rig.local.replay, payloads))
    assert [answer.status_code for answer in answers] == [202] * len(payloads), [a.text for a in answers]
    return [answer.json() for answer in answers]


def test_concurrent_webhooks_for_one_host_lose_no_policy(rig: Rig, figures: Figures) -> None:
    kept: dict[str, list[int]] = {}
    #: hosts_new summed over the answers: each webhook created one new (host, policy) case.
    counted_new: dict[str, list[int]] = {}
    host_id = 9_000
    for count in CONCURRENT:
        for _ in range(TRIALS):
            host_id += 1  # a new host each trial, as in the report: the race is for creating its case
            answers = _post_all(rig, [failing_webhook(policy_id, [host_id]) for policy_id in range(1, count + 1)])
            counted_new.setdefault(str(count), []).append(sum(answer["hosts_new"] for answer in answers))
            cases = {case.host_id: case for case in host_records.all_hosts(rig.store)}
            kept.setdefault(str(count), []).append(len(cases[host_id].failing_policy_ids))
    figures.record(
        "concurrent_webhooks",
        policies_kept={n: f"{sorted(k)} of {n}" for n, k in kept.items()},
        new_cases_counted={n: f"{sorted(k)} of {n}" for n, k in counted_new.items()},
    )
    print(json.dumps(figures.values["concurrent_webhooks"]))
    assert kept == {str(n): [n] * TRIALS for n in CONCURRENT}
    assert counted_new == kept


def test_identical_concurrent_webhooks_count_each_new_host_once(rig: Rig, figures: Figures) -> None:
    payload = failing_webhook(1, [8_001, 8_002])
    answers = _post_all(rig, [payload] * 20)
    new = sum(answer["hosts_new"] for answer in answers)
    figures.record(
        "concurrent_webhooks",
        identical_20_for_2_hosts={
            "hosts_new": new,
            "hosts_updated": sum(a["hosts_updated"] for a in answers),
            "hosts_unchanged": sum(a["hosts_unchanged"] for a in answers),
        },
    )
    assert new == 2
    assert [case.failing_policy_ids for case in host_records.all_hosts(rig.store)] == [(1,), (1,)]
