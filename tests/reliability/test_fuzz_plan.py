"""plan_windows under hypothesis-generated bodies, on the local stack, with the scheduler's real token: 100
cases, 2,000 with MW_RELIABILITY_SIZE=large.

Its body is empty or {"lead_minutes": n}; anything else must be refused before a planning run starts. Only
bodies that must be refused are sent (a valid one would plan): the hostile classes of hostile.py, at the
root and as lead_minutes, integers out of range or of the wrong type, other fields, other JSON values,
bytes that are no JSON, and bodies over 64 KB (413); 1 in 10 with no or a wrong token (401). Never 5xx. At
the end Firestore is exactly as before, and neither Fleet nor the Calendar was called.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from maintenance_windows.handlers.plan_windows import MAX_BODY_BYTES
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
    splice,
)
from tests.reliability.support import Figures, Population, Rig, current_size

pytestmark = [pytest.mark.stack, pytest.mark.timeout(current_size().timeout_seconds)]
FUZZ = current_size()


@dataclass(frozen=True)
class Case:
    body: bytes
    kind: str
    #: "right", or one of hostile.FORGERIES.
    auth: str = "right"


scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
out_of_range = st.one_of(st.integers(max_value=-1), st.integers(min_value=24 * 60 + 1))
wrong_types = st.one_of(
    st.booleans(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@st.composite
def refused_bodies(draw: st.DrawFn) -> Case:
    kind = draw(
        st.sampled_from(
            [
                "deep nesting at the root",
                "lead_minutes out of range",
                "lead_minutes of a wrong type",
                "another field",
                "not an object",
                "not JSON",
                "over 64 KB",
                *sorted(HOSTILE_LITERALS),
            ]
        )
    )
    if kind == "deep nesting at the root":
        return Case(draw(deep_nesting), kind)
    if kind == "lead_minutes out of range":
        return Case(json.dumps({"lead_minutes": draw(out_of_range)}).encode(), kind)
    if kind == "lead_minutes of a wrong type":
        return Case(json.dumps({"lead_minutes": draw(wrong_types)}).encode(), kind)
    if kind == "another field":
        extra = draw(st.text(min_size=1, max_size=20).filter(lambda name: name != "lead_minutes"))
        body: dict[str, Any] = {extra: draw(json_values)}
        if draw(st.booleans()):
            body["lead_minutes"] = 5
        return Case(json.dumps(body).encode(), kind)
    if kind == "not an object":
        return Case(json.dumps(draw(json_values.filter(lambda value: not isinstance(value, dict)))).encode(), kind)
    if kind == "not JSON":
        raw = draw(st.binary(min_size=1, max_size=100).filter(lambda b: b.strip() and not b.strip().startswith(b"{")))
        return Case(raw, kind)
    if kind == "over 64 KB":
        return Case(b'{"lead_minutes": "' + b"x" * (MAX_BODY_BYTES + draw(st.integers(0, 1000))) + b'"}', kind)
    return Case(splice({"lead_minutes": HOLE}, draw(HOSTILE_LITERALS[kind])), kind)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    case = draw(refused_bodies())
    return Case(case.body, case.kind, draw(credentials))


def expected(case: Case) -> set[int]:
    if case.auth != "right":
        return {FORGERIES[case.auth]}
    return {413} if len(case.body) > MAX_BODY_BYTES else {400}


def test_fuzzed_plan_calls_never_fail_the_server_and_plan_nothing(rig: Rig, figures: Figures) -> None:
    population = Population("p", 2)
    rig.reset(population)
    assert set(rig.replay_webhooks(population, copies=1)) == {202}  # hosts to plan, were a run to start
    before, fleet_before = rig.snapshot(), len(rig.local.fleet.requests())
    calendar_before = rig.local.counters()["total_calls"]
    token, session, answers = MintedToken(rig, "plan_windows", "scheduler"), requests.Session(), FuzzLedger()
    forged = ForgedTokens(rig, "plan_windows", "scheduler")
    url = rig.stack["urls"]["plan_windows"]

    @fuzz_settings(FUZZ.endpoint_fuzz_cases)
    @given(case=cases())
    def check(case: Case) -> None:
        headers = {"Content-Type": "application/json"}
        authorization = f"Bearer {token()}" if case.auth == "right" else forged.header(case.auth)
        if authorization:
            headers["Authorization"] = authorization
        answer = session.post(url, data=case.body, headers=headers, timeout=60)
        answers.count(case.kind if case.auth == "right" else f"credentials: {case.auth}", answer.status_code)
        assert answer.status_code < 500, (answer.status_code, answer.text[:300], case.body[:300])
        assert answer.status_code in expected(case), (answer.status_code, answer.text[:300], case.body[:300])
        assert answer.json()["error"], answer.text

    check()
    written = changed_documents(before, rig.snapshot())
    fleet_requests = len(rig.local.fleet.requests()) - fleet_before
    calendar_calls = rig.local.counters()["total_calls"] - calendar_before
    figures.record(
        "fuzz_plan", **answers.figures(written, fleet_requests=fleet_requests, calendar_calls=calendar_calls)
    )
    print(json.dumps(figures.values["fuzz_plan"]))
    assert answers.server_errors == 0
    assert written == 0
    assert fleet_requests == 0
    assert calendar_calls == 0
    assert answers.statuses[400]
    assert answers.statuses[401]
