"""dispatch_window under hypothesis-generated task bodies and headers, on the local stack, with the task
invoker's real token (the body is what is attacked): 100 cases, 2,000 with MW_RELIABILITY_SIZE=large.

The world: two users with booked windows whose start is moved three days ahead, so that every well-formed
task for them is one that may not act yet. No case may change anything, so the oracle is simple: a body we
cannot read is 400 (413 when over 16 KB), a missing or forged token 401 (403 for another caller), every
well-formed window task 200 with the no-op it names (early, stale, ignored), and a well-formed chunk task
for a chunk that does not exist 200 `ingested_before`; never 5xx. At the end Firestore, the task queue and
Fleet must be exactly as before.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from hypothesis import example, given
from hypothesis import strategies as st

from maintenance_windows.domain.windows import Window
from maintenance_windows.handlers.dispatch_window import MAX_BODY_BYTES
from maintenance_windows.repository import windows as window_records
from tests.reliability.hostile import (
    FORGERIES,
    HOLE,
    HOSTILE_LITERALS,
    ForgedTokens,
    FuzzLedger,
    MintedToken,
    changed_documents,
    credentials,
    deep_nesting,
    fuzz_settings,
    path_ids,
    splice,
)
from tests.reliability.support import Figures, Population, Rig, current_size

pytestmark = [pytest.mark.stack, pytest.mark.timeout(current_size().timeout_seconds)]
FUZZ = current_size()
PURPOSES = ("dispatch", "verify", "recheck", "webhook")
#: Firestore's reserved ids match TaskBody's pattern; the store guard refuses them (a "path id" case).
RESERVED = re.compile(r"__.*__")
#: Values TaskBody refuses (strict: no "1" for 1, no 1.5, no true), per field.
WRONG_VALUES: dict[str, list[Any]] = {
    "window_id": [None, True, 1.5, 7, [], {}, ""],
    "revision": [None, True, 1.5, "1", [], -1, 2**63],
    "purpose": [None, 1, "explode", "", "Dispatch"],
    "attempt": [None, True, 1.5, "1", -1, 1001],
}
#: What each purpose answers for a current window three days ahead.
CURRENT_NO_OPS = {"dispatch": "early", "verify": "ignored", "recheck": "ignored", "webhook": "ignored"}
#: A chunk id as the webhook names them (domain/ids.webhook_chunk_id); none exists in this test's world.
CHUNK_ID = r"[0-9a-f]{20}-[0-9]{4}"


@dataclass(frozen=True)
class Case:
    body: bytes
    kind: str
    #: What a well-formed body must answer with the right token: its no-op status; None when refused (400).
    no_op: str | None = None
    #: "right", or one of hostile.FORGERIES.
    auth: str = "right"
    headers: dict[str, str] = field(default_factory=dict)


def well_formed(windows: list[Window]) -> st.SearchStrategy[Case]:
    """Bodies TaskBody accepts, for our windows or for none; each one a no-op here."""

    @st.composite
    def build(draw: st.DrawFn) -> Case:
        window = draw(st.sampled_from(windows))
        purpose = draw(st.sampled_from(PURPOSES))
        body: dict[str, Any] = {"window_id": window.window_id, "revision": window.revision, "purpose": purpose}
        if draw(st.booleans()):
            body["attempt"] = draw(st.integers(0, 1000))
        kind = draw(st.sampled_from(["current", "stale revision", "unknown window"]))
        if kind == "stale revision":
            body["revision"] = draw(st.integers(0, 2**63 - 1).filter(lambda r: r != window.revision))
            return Case(json.dumps(body).encode(), kind, "stale")
        if kind == "unknown window":
            unknown = st.from_regex(r"[A-Za-z0-9_-]{1,200}", fullmatch=True).filter(lambda i: not RESERVED.fullmatch(i))
            body["window_id"] = draw(unknown)
            return Case(json.dumps(body).encode(), kind, "ignored")
        # Three days early for a dispatch; a scheduled window is not verified, nor awaits a compatible
        # webhook; its task is not a re-check.
        return Case(json.dumps(body).encode(), f"current window, {purpose}", CURRENT_NO_OPS[purpose])

    @st.composite
    def chunk(draw: st.DrawFn) -> Case:
        body = {"purpose": "ingest", "chunk_id": draw(st.from_regex(CHUNK_ID, fullmatch=True))}
        return Case(json.dumps(body).encode(), "chunk task, no such chunk", "ingested_before")

    return st.one_of(build(), build(), chunk())


@st.composite
def refused(draw: st.DrawFn, windows: list[Window]) -> Case:
    """Bodies that must be refused with 400: hostile literals, ids that are no document path, wrong types."""
    window = draw(st.sampled_from(windows))
    body: dict[str, Any] = {"window_id": window.window_id, "revision": window.revision, "purpose": "dispatch"}
    kind = draw(
        st.sampled_from(
            [
                "deep nesting at the root",
                "path id",
                "wrong type",
                "not JSON",
                "extra field",
                "chunk task, path id",
                "chunk task, extra field",
                "over 16 KB",
                *sorted(HOSTILE_LITERALS),
            ]
        )
    )
    if kind == "deep nesting at the root":
        return Case(draw(deep_nesting), kind)
    if kind == "not JSON":
        return Case(draw(st.binary(max_size=100).filter(lambda raw: not raw.strip().startswith(b"{"))), kind)
    if kind == "path id":
        body["window_id"] = draw(path_ids)
        return Case(json.dumps(body).encode(), kind)
    if kind == "chunk task, path id":
        chunk_id = draw(path_ids | st.from_regex(CHUNK_ID, fullmatch=True).map(lambda i: i + "/x"))
        return Case(json.dumps({"purpose": "ingest", "chunk_id": chunk_id}).encode(), kind)
    if kind == "chunk task, extra field":
        return Case(json.dumps({"purpose": "ingest", "chunk_id": "0" * 20 + "-0000", **body}).encode(), kind)
    if kind == "over 16 KB":
        body["window_id"] = "a" * (MAX_BODY_BYTES + draw(st.integers(1, 4096)))
        return Case(json.dumps(body).encode(), kind)
    if kind == "extra field":
        body[draw(st.text(min_size=1, max_size=20).filter(lambda k: k not in body and k != "attempt"))] = 1
        return Case(json.dumps(body).encode(), kind)
    if kind == "wrong type":
        name = draw(st.sampled_from(sorted(WRONG_VALUES)))
        body[name] = draw(st.sampled_from(WRONG_VALUES[name]))
        return Case(json.dumps(body).encode(), kind)
    body[draw(st.sampled_from(["window_id", "revision", "attempt"]))] = HOLE
    return Case(splice(body, draw(HOSTILE_LITERALS[kind])), kind)


retry_counts = st.one_of(st.integers(0, 10).map(str), st.sampled_from(["99999999999999999999", "-1", "x", "²"]))


@st.composite
def cases(draw: st.DrawFn, windows: list[Window]) -> Case:
    case = draw(st.one_of(well_formed(windows), refused(windows), refused(windows)))
    headers = {"X-CloudTasks-TaskRetryCount": draw(retry_counts), "X-CloudTasks-QueueName": "maintenance-windows"}
    auth = draw(credentials)
    return Case(case.body, case.kind, case.no_op, auth, headers)


def expected(case: Case) -> set[int]:
    if case.auth != "right":
        return {FORGERIES[case.auth]}
    if case.no_op is None:
        return {400, 413} if len(case.body) > MAX_BODY_BYTES else {400}
    return {200}


def test_fuzzed_tasks_never_fail_the_server_and_change_nothing(rig: Rig, figures: Figures) -> None:
    population = Population("f", 2)
    rig.reset(population)
    assert set(rig.replay_webhooks(population, copies=1)) == {202}
    rig.plan_until_complete()
    windows = rig.move_window_starts(
        [w.window_id for w in window_records.all_windows(rig.store)],
        datetime.now(UTC).replace(microsecond=0) + timedelta(days=3),
    )
    before = rig.snapshot()
    tasks_before = {task.name for task in rig.queued_tasks()}
    fleet_before = len(rig.local.fleet.requests())
    token, session, answers = MintedToken(rig, "dispatch_window", "task_invoker"), requests.Session(), FuzzLedger()
    forged = ForgedTokens(rig, "dispatch_window", "task_invoker")
    url = rig.stack["urls"]["dispatch_window"]

    @fuzz_settings(FUZZ.endpoint_fuzz_cases)
    @given(case=cases(windows))
    # The attack run's own case, and a reserved id that passes TaskBody's pattern: the store guard's 400.
    @example(case=Case(json.dumps({"window_id": "a/b", "revision": 1, "purpose": "dispatch"}).encode(), "path id"))
    @example(case=Case(json.dumps({"window_id": "__x__", "revision": 1, "purpose": "dispatch"}).encode(), "path id"))
    def check(case: Case) -> None:
        headers = {**case.headers, "Content-Type": "application/json"}
        authorization = f"Bearer {token()}" if case.auth == "right" else forged.header(case.auth)
        if authorization:
            headers["Authorization"] = authorization
        answer = session.post(url, data=case.body, headers=headers, timeout=60)
        answers.count(case.kind if case.auth == "right" else f"credentials: {case.auth}", answer.status_code)
        assert answer.status_code < 500, (answer.status_code, answer.text[:300], case.body[:300])
        assert answer.status_code in expected(case), (answer.status_code, answer.text[:300], case)
        if answer.status_code == 200:
            assert answer.json()["status"] == case.no_op, (answer.text[:300], case)

    check()
    written = changed_documents(before, rig.snapshot())
    enqueued = len({task.name for task in rig.queued_tasks()} - tasks_before)
    fleet_requests = len(rig.local.fleet.requests()) - fleet_before
    figures.record("fuzz_dispatch", **answers.figures(written, tasks_enqueued=enqueued, fleet_requests=fleet_requests))
    print(json.dumps(figures.values["fuzz_dispatch"]))
    assert answers.server_errors == 0
    assert written == 0
    assert enqueued == 0
    assert fleet_requests == 0
    assert answers.statuses[200]
    assert answers.statuses[400]
    assert answers.statuses[401]
