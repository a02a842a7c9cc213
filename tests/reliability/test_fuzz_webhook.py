"""fleet_webhook under hypothesis-generated bodies and headers, over HTTP on the local stack: a few hundred
cases (10,000 with MW_RELIABILITY_SIZE=large). Valid-shaped payloads mix with broken ones.

The oracle, per case: a missing or wrong secret is 401; a non-JSON content type is 415; a valid payload is
202; a broken one is 400; payloads with extreme values (huge ids, odd timestamps) may be either, never 5xx.
Writes are checked at the end: the store holds exactly the hosts and policies of the accepted cases (broken
payloads use ids no valid one uses, so any write of theirs would show)."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.support import Figures, Rig, current_size

pytestmark = [pytest.mark.stack, pytest.mark.timeout(current_size().timeout_seconds)]

Expectation = Literal["accepted", "refused", "either"]
VALID_HOSTS = (1, 999_999)
BROKEN_HOSTS = (10_000_000, 19_999_999)  # never used by a valid case: a write from a broken one would show
VALID_POLICIES = (1, 999)
PAST_NOW = datetime.now() - timedelta(days=1)
BROKEN_POLICIES = (100_000, 199_999)
#: Ids up to 2**53 - 1 only: past it the Firestore emulator (JavaScript numbers) fails where Firestore would
#: not, and from 2**63 the product answers 500 (pinned in test_found_bugs.py).
JSON_SAFE_MAX = 2**53 - 1
#: Headers that would change how the body travels rather than what it says.
TRANSPORT_HEADERS = {"content-length", "transfer-encoding", "host", "connection", "expect", "te", "upgrade",
                     "trailer", "keep-alive", "authorization", "content-type", "content-encoding"}  # fmt: skip


@dataclass(frozen=True)
class Case:
    body: bytes
    expect: Expectation
    host_ids: frozenset[int] = frozenset()
    policy_id: int | None = None
    content_type: str = "application/json"
    auth: Literal["right", "none", "wrong"] = "right"
    headers: dict[str, str] = field(default_factory=dict)


# -- payload strategies ------------------------------------------------------------------------------------

texts = st.text(max_size=40)
optional_texts = st.none() | texts
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(texts, inner, max_size=3), max_leaves=8)  # fmt: skip


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    # Not after the run: a timestamp in the future is refused (it would order later sightings as older).
    moment = draw(st.datetimes(min_value=datetime(2001, 1, 1), max_value=PAST_NOW))
    offset = draw(st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]))
    stamped = moment.replace(tzinfo=offset)
    if draw(st.booleans()):  # Go's RFC 3339 with nanoseconds, as Fleet sends it
        return stamped.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{draw(st.integers(0, 10**9 - 1)):09d}Z"
    return stamped.isoformat()


def hosts_strategy(ids: tuple[int, int]) -> st.SearchStrategy[list[dict[str, Any]]]:
    host = st.fixed_dictionaries(
        {"id": st.integers(*ids)},
        optional={"hostname": optional_texts, "display_name": optional_texts, "url": optional_texts},
    )
    return st.lists(host, max_size=5, unique_by=lambda h: h["id"])


def payloads(hosts: tuple[int, int], policies: tuple[int, int]) -> st.SearchStrategy[dict[str, Any]]:
    policy = st.fixed_dictionaries(
        {"id": st.integers(*policies), "name": st.text(min_size=1, max_size=40)},
        optional={
            "query": optional_texts, "description": optional_texts, "resolution": optional_texts,
            "platform": optional_texts, "team_id": st.none() | st.integers(0, 2**31),
            "critical": st.none() | st.booleans(), "calendar_events_enabled": st.none() | st.booleans(),
            "author_email": texts, "passing_host_count": st.integers(0, 10**6),  # fields we ignore
        },
    )  # fmt: skip
    return st.fixed_dictionaries(
        {"timestamp": timestamps(), "policy": policy, "hosts": hosts_strategy(hosts)},
        optional={"extra": json_values},
    )


def valid_cases() -> st.SearchStrategy[Case]:
    return payloads(VALID_HOSTS, VALID_POLICIES).map(
        lambda p: Case(json.dumps(p).encode(), "accepted", frozenset(h["id"] for h in p["hosts"]), p["policy"]["id"])
    )


BREAKAGES: dict[str, Any] = {
    "no timestamp": lambda p: p.pop("timestamp"),
    "no policy": lambda p: p.pop("policy"),
    "no hosts": lambda p: p.pop("hosts"),
    "policy id as text": lambda p: p["policy"].update(id=str(p["policy"]["id"])),
    "policy id zero": lambda p: p["policy"].update(id=0),
    "policy id float": lambda p: p["policy"].update(id=p["policy"]["id"] + 0.5),
    "policy id bool": lambda p: p["policy"].update(id=True),
    "empty name": lambda p: p["policy"].update(name=""),
    "name not text": lambda p: p["policy"].update(name=12),
    "hosts not a list": lambda p: p.update(hosts={"id": 1}),
    "host without id": lambda p: p["hosts"].append({"hostname": "x"}),
    "host id negative": lambda p: p["hosts"].append({"id": -BROKEN_HOSTS[0]}),
    "host not an object": lambda p: p["hosts"].append("host"),
    "timestamp not a time": lambda p: p.update(timestamp="yesterday"),
    "timestamp a number": lambda p: p.update(timestamp=1718717238),
    "critical as text": lambda p: p["policy"].update(critical="yes"),
    "team id as text": lambda p: p["policy"].update(team_id="7"),
    "policy empty": lambda p: p.update(policy={}),
    "timestamp in the future": lambda p: p.update(timestamp="9999-12-31T23:59:59Z"),
}


@st.composite
def broken_cases(draw: st.DrawFn) -> Case:
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "not json", "not an object"]))
    if kind == "not json":
        raw = draw(st.binary(max_size=200).filter(lambda b: not _parses_as_object(b)))
        return Case(raw, "refused")
    if kind == "not an object":
        return Case(json.dumps(draw(json_values.filter(lambda v: not isinstance(v, dict)))).encode(), "refused")
    payload = draw(payloads(BROKEN_HOSTS, BROKEN_POLICIES))
    BREAKAGES[draw(st.sampled_from(sorted(BREAKAGES)))](payload)
    return Case(json.dumps(payload).encode(), "refused")


def _parses_as_object(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except (UnicodeDecodeError, ValueError):
        return False


@st.composite
def extreme_cases(draw: st.DrawFn) -> Case:
    """Valid in shape, with values at or past the edges: the answer may be 202 or 400, never 5xx."""
    payload = draw(payloads(BROKEN_HOSTS, BROKEN_POLICIES))
    # Big payloads are rare: each writes hundreds of documents, and the emulator slows as collections grow.
    edge = draw(st.sampled_from(["huge host id", "huge policy id", "free timestamp", "odd text"] * 3 + ["many hosts"]))
    if edge == "huge host id":
        payload["hosts"].append({"id": draw(st.integers(2**31, JSON_SAFE_MAX))})
    elif edge == "huge policy id":
        payload["policy"]["id"] = draw(st.integers(2**31, JSON_SAFE_MAX))
    elif edge == "free timestamp":
        payload["timestamp"] = draw(st.text(max_size=40) | st.from_regex(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[^\n]{0,12}"))
    elif edge == "odd text":
        payload["policy"]["name"] = draw(st.sampled_from(["\x00", "\ud800", "\u202e", "é" * 1500, "\U0001f4a9"]))
    else:
        # A fresh id range per case: reusing one would grow the same host documents case after case until a
        # batched read of them passes the emulator's 4 MB gRPC message limit (a 500, see docs/reliability.md).
        first = draw(st.integers(BROKEN_HOSTS[0], BROKEN_HOSTS[1] - 1000))
        payload["hosts"] = [{"id": first + n} for n in range(draw(st.integers(200, 1000)))]
    body = json.dumps(payload).encode()
    return Case(body, "either", frozenset(h["id"] for h in payload["hosts"] if isinstance(h, dict)),
                payload["policy"]["id"])  # fmt: skip


header_names = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True).filter(
    lambda name: name.lower() not in TRANSPORT_HEADERS
)
#: Printable ASCII without leading or trailing blanks (requests refuses to send those).
header_values = st.from_regex(r"([!-~]([ -~]{0,58}[!-~])?)?", fullmatch=True)
content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "APPLICATION/JSON"])
other_content_types = st.sampled_from(["text/plain", "", "application/x-www-form-urlencoded", "json", "*/*"])


@st.composite
def cases(draw: st.DrawFn) -> Case:
    case = draw(st.one_of(valid_cases(), valid_cases(), broken_cases(), broken_cases(), extreme_cases()))
    headers = draw(st.dictionaries(header_names, header_values, max_size=4))
    auth: Literal["right", "none", "wrong"] = draw(st.sampled_from(["right"] * 8 + ["none", "wrong"]))
    wrong_type = draw(st.sampled_from([False] * 9 + [True]))  # hypothesis favours 0 in integers(0, 9)
    content_type = draw(other_content_types if wrong_type else content_types)
    return Case(case.body, case.expect, case.host_ids, case.policy_id, content_type, auth, headers)


# -- the test ----------------------------------------------------------------------------------------------


@dataclass
class Ledger:
    statuses: Counter[int] = field(default_factory=Counter)
    by_expectation: Counter[str] = field(default_factory=Counter)
    #: (host, policy) of every accepted sighting: one `host_policies` document each.
    cases: set[tuple[int, int]] = field(default_factory=set)


def expected_statuses(case: Case) -> set[int]:
    if case.auth != "right":
        return {401}
    if case.content_type.split(";")[0].strip().lower() != "application/json":
        return {415}
    return {"accepted": {202}, "refused": {400}, "either": {202, 400, 413}}[case.expect]


def send(rig: Rig, session: requests.Session, case: Case) -> requests.Response:
    secret = rig.stack["secrets"]["webhook"]
    headers = {**case.headers, "Content-Type": case.content_type}
    if case.auth == "right":
        headers["Authorization"] = f"Bearer {secret}"
    elif case.auth == "wrong":
        headers["Authorization"] = f"Bearer {secret}-not"
    return session.post(rig.stack["urls"]["fleet_webhook"], data=case.body, headers=headers, timeout=60)


FUZZ = current_size()


def test_fuzzed_webhooks_never_fail_the_server_and_invalid_ones_write_nothing(rig: Rig, figures: Figures) -> None:
    rig.store.client  # noqa: B018  # the `store` fixture behind rig has wiped Firestore
    ledger = Ledger()
    session = requests.Session()
    began = time.monotonic()

    @settings(max_examples=FUZZ.fuzz_cases, deadline=None, database=None, derandomize=FUZZ.name == "ci",
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(case=cases())
    def check(case: Case) -> None:
        answer = send(rig, session, case)
        ledger.statuses[answer.status_code] += 1
        ledger.by_expectation[f"{case.auth}/{case.expect}/{answer.status_code}"] += 1
        assert answer.status_code < 500, (answer.status_code, answer.text[:300], case.body[:300])
        assert answer.status_code in expected_statuses(case), (answer.status_code, answer.text[:300], case)
        if answer.status_code == 202 and case.policy_id is not None:
            ledger.cases |= {(host_id, case.policy_id) for host_id in case.host_ids}

    check()
    elapsed = time.monotonic() - began
    stored = rig.snapshot()
    assert {(doc["host_id"], doc["policy_id"]) for doc in stored["host_policies"].values()} == ledger.cases
    assert all(not documents for name, documents in stored.items() if name != "host_policies")
    assert ledger.statuses[202]
    assert ledger.statuses[400]
    assert ledger.statuses[401]
    assert ledger.statuses[415]
    figures.record("fuzz", cases=sum(ledger.statuses.values()), statuses=dict(ledger.statuses),
                   server_errors=sum(n for s, n in ledger.statuses.items() if s >= 500),
                   seconds=round(elapsed, 1))  # fmt: skip
    print(json.dumps(figures.values["fuzz"]))
