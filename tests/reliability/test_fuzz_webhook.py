"""fleet_webhook under hypothesis-generated bodies and headers, over HTTP on the local stack: a few hundred
cases (10,000 with MW_RELIABILITY_SIZE=large). Valid-shaped payloads mix with broken ones, extreme ones and
the hostile classes of tests/reliability/hostile.py (deep nesting, integers past 64 bits, timestamps that
overflow in UTC, lone surrogates, NaN, invalid UTF-8), generated on purpose.

The oracle, per case: a missing or wrong secret is 401; a non-JSON content type is 415; a valid payload is
202; a broken or hostile one is 400; payloads with extreme values (huge ids, odd timestamps) may be either,
never 5xx. Writes are checked at the end: the store holds exactly the hosts and policies of the accepted
cases (broken and hostile payloads use ids no valid one uses, so any write of theirs would show)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from maintenance_windows.config.settings import Settings
from tests.reliability.hostile import HOLE, HOSTILE_LITERALS, FuzzLedger, deep_nesting, fuzz_settings, splice
from tests.reliability.support import Figures, Rig, current_size

pytestmark = [pytest.mark.stack, pytest.mark.timeout(current_size().timeout_seconds)]

Expectation = Literal["accepted", "refused", "either", "too large"]
VALID_HOSTS = (1, 999_999)
BROKEN_HOSTS = (10_000_000, 19_999_999)  # never used by a valid case: a write from a broken one would show
VALID_POLICIES = (1, 999)
PAST_NOW = datetime.now() - timedelta(days=1)
BROKEN_POLICIES = (100_000, 199_999)
#: Valid ids up to 2**53 - 1 only: past it the Firestore emulator (JavaScript numbers) fails where Firestore
#: would not. From 2**63 they are refused (hostile cases below).
JSON_SAFE_MAX = 2**53 - 1
#: The function's body limit on the local stack (MW_MAX_BODY_BYTES is not set there: the default).
MAX_WEBHOOK_BYTES = Settings.model_fields["max_body_bytes"].default
#: Headers that would change how the body travels rather than what it says.
TRANSPORT_HEADERS = {
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
    "expect",
    "te",
    "upgrade",
    "trailer",
    "keep-alive",
    "authorization",
    "content-type",
    "content-encoding",
}


@dataclass(frozen=True)
class Case:
    body: bytes
    expect: Expectation
    host_ids: frozenset[int] = frozenset()
    policy_id: int | None = None
    content_type: str = "application/json"
    #: "right", or one of SECRET_FORGERIES.
    auth: str = "right"
    headers: dict[str, str] = field(default_factory=dict)
    kind: str = "valid"


# -- payload strategies ------------------------------------------------------------------------------------

texts = st.text(max_size=40)
optional_texts = st.none() | texts
#: What valid JSON may hold in fields we ignore: no Infinity (json.dumps writes it, but it is no JSON) and no
#: integer past a double's range (orjson refuses those outright).
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64) | finite_floats | texts
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3), max_leaves=8
)


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
            "query": optional_texts,
            "description": optional_texts,
            "resolution": optional_texts,
            "platform": optional_texts,
            "team_id": st.none() | st.integers(0, 2**31),
            "critical": st.none() | st.booleans(),
            "calendar_events_enabled": st.none() | st.booleans(),
            "author_email": texts,
            "passing_host_count": st.integers(0, 10**6),  # fields we ignore
        },
    )
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
    "policy id with a slash": lambda p: p["policy"].update(id=f"{p['policy']['id']}/1"),
    "host id with a slash": lambda p: p["hosts"].append({"id": "1/2"}),
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
        return Case(raw, "refused", kind="broken")
    if kind == "not an object":
        value = draw(json_values.filter(lambda v: not isinstance(v, dict)))
        return Case(json.dumps(value).encode(), "refused", kind="broken")
    payload = draw(payloads(BROKEN_HOSTS, BROKEN_POLICIES))
    BREAKAGES[draw(st.sampled_from(sorted(BREAKAGES)))](payload)
    return Case(json.dumps(payload).encode(), "refused", kind="broken")


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
    return Case(
        body,
        "either",
        frozenset(h["id"] for h in payload["hosts"] if isinstance(h, dict)),
        payload["policy"]["id"],
        kind="extreme",
    )


#: Where each hostile literal goes in an otherwise valid payload (of the broken id range).
HOSTILE_PLACES: dict[str, list[str]] = {
    "deep nesting in a field": ["policy.description", "host.hostname", "extra", "policy.id"],
    "integer beyond 64 bits": ["policy.id", "host.id", "policy.team_id"],
    "timestamp overflowing in UTC": ["timestamp"],
    "lone surrogate": ["policy.name", "host.hostname", "host.display_name", "policy.description", "key"],
    "NaN or Infinity": ["policy.id", "host.id", "policy.team_id"],
    "invalid UTF-8": ["policy.name", "host.hostname", "timestamp"],
}


HOSTILE_KINDS = ("deep nesting at the root", "id from 2^63 to 2^64 - 1", *sorted(HOSTILE_PLACES))


@st.composite
def hostile_cases(draw: st.DrawFn, kinds: tuple[str, ...] = HOSTILE_KINDS) -> Case:
    """The classes that once answered 500 (docs/reliability.md): each must now be a 400 that stores nothing."""
    kind = draw(st.sampled_from(kinds))
    if kind == "deep nesting at the root":
        return Case(draw(deep_nesting), "refused", kind=kind)
    payload = draw(payloads(BROKEN_HOSTS, BROKEN_POLICIES))
    if kind == "id from 2^63 to 2^64 - 1":  # past Firestore's signed 64 bits, within orjson's unsigned ones
        target = payload["policy"] if draw(st.booleans()) else {"id": 0}
        if target is not payload["policy"]:
            payload["hosts"].append(target)
        target["id"] = draw(st.integers(2**63, 2**64 - 1))
        return Case(json.dumps(payload).encode(), "refused", kind=kind)
    place = draw(st.sampled_from(HOSTILE_PLACES[kind]))
    literal = draw(HOSTILE_LITERALS[kind])
    if place == "key":  # a lone surrogate in a field's name rather than its value
        payload["policy"][json.loads(literal) if literal.startswith(b'"') else "x"] = 1
        return Case(json.dumps(payload).encode(), "refused", kind=kind)
    holder, _, name = place.partition(".")
    if holder == "host":
        payload["hosts"].append({"id": BROKEN_HOSTS[0]})
        payload["hosts"][-1][name] = HOLE
    elif holder == "policy":
        payload["policy"][name] = HOLE
    else:
        payload[holder] = HOLE
    return Case(splice(payload, literal), "refused", kind=kind)


@st.composite
def oversized_cases(draw: st.DrawFn) -> Case:
    """A valid payload padded past fleet_webhook's body limit (MW_MAX_BODY_BYTES, 10 MiB): 413 before parsing."""
    payload = draw(payloads(BROKEN_HOSTS, BROKEN_POLICIES))
    payload["policy"]["description"] = HOLE
    padding = b'"' + b"x" * (MAX_WEBHOOK_BYTES + draw(st.integers(0, 4096))) + b'"'
    return Case(splice(payload, padding), "too large", kind="over the body limit")


header_names = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True).filter(
    lambda name: name.lower() not in TRANSPORT_HEADERS
)
#: Printable ASCII without leading or trailing blanks (requests refuses to send those).
header_values = st.from_regex(r"([!-~]([ -~]{0,58}[!-~])?)?", fullmatch=True)
content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "APPLICATION/JSON"])
other_content_types = st.sampled_from(["text/plain", "", "application/x-www-form-urlencoded", "json", "*/*"])


@st.composite
def cases(draw: st.DrawFn) -> Case:
    # 10 MiB each: rare enough that the large run's few hundred cost seconds, not minutes.
    oversized = draw(st.sampled_from([False] * 49 + [True]))
    case = draw(
        oversized_cases()
        if oversized
        else st.one_of(
            valid_cases(),
            valid_cases(),
            broken_cases(),
            broken_cases(),
            extreme_cases(),
            hostile_cases(),
            hostile_cases(),
        )
    )
    headers = draw(st.dictionaries(header_names, header_values, max_size=4))
    auth = draw(st.sampled_from(["right"] * 4 + ["forged"]))
    if auth == "forged":
        auth = draw(st.sampled_from(sorted(SECRET_FORGERIES)))
    wrong_type = draw(st.sampled_from([False] * 9 + [True]))  # hypothesis favours 0 in integers(0, 9)
    content_type = draw(other_content_types if wrong_type else content_types)
    return Case(case.body, case.expect, case.host_ids, case.policy_id, content_type, auth, headers, case.kind)


# -- the test ----------------------------------------------------------------------------------------------


@dataclass
class Ledger:
    answers: FuzzLedger = field(default_factory=FuzzLedger)
    #: (host, policy) of every accepted sighting: one `host_policies` document each.
    cases: set[tuple[int, int]] = field(default_factory=set)


def expected_statuses(case: Case) -> set[int]:
    if case.auth != "right":
        return {401}
    if case.expect == "too large":  # the size is checked before the content type
        return {413}
    if case.content_type.split(";")[0].strip().lower() != "application/json":
        return {415}
    return {"accepted": {202}, "refused": {400}, "either": {202, 400, 413}}[case.expect]


def _basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"fleet:{password}".encode()).decode()


Credentials = tuple[dict[str, str], dict[str, str]]
#: Ways to present a secret that is not the webhook's, each as (headers, query parameters) for the secret.
SECRET_FORGERIES: dict[str, Callable[[str], Credentials]] = {
    "no secret": lambda _secret: ({}, {}),
    "bearer, wrong": lambda secret: ({"Authorization": f"Bearer {secret}-not"}, {}),
    "bearer, a prefix of it": lambda secret: ({"Authorization": f"Bearer {secret[:-1]}"}, {}),
    "bearer, upper case": lambda secret: ({"Authorization": f"Bearer {secret.upper()}x"}, {}),
    "bearer, empty": lambda _secret: ({"Authorization": "Bearer "}, {}),
    "basic, wrong password": lambda secret: ({"Authorization": _basic(secret + "x")}, {}),
    "basic, not base64": lambda _secret: ({"Authorization": "Basic %%%"}, {}),
    "query token, wrong": lambda secret: ({}, {"token": secret[::-1] + "x"}),
    "secret in another header": lambda secret: ({"X-Fleet-Secret": secret}, {}),
    "secret as the scheme": lambda secret: ({"Authorization": secret}, {}),
    "an OIDC-shaped token": lambda _secret: ({"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."}, {}),
}


def send(rig: Rig, session: requests.Session, case: Case) -> requests.Response:
    secret = rig.stack["secrets"]["webhook"]
    headers = {**case.headers, "Content-Type": case.content_type}
    params: dict[str, str] = {}
    if case.auth == "right":
        headers["Authorization"] = f"Bearer {secret}"
    else:
        forged, params = SECRET_FORGERIES[case.auth](secret)
        headers |= forged
    return session.post(rig.stack["urls"]["fleet_webhook"], data=case.body, headers=headers, params=params, timeout=60)


def counted_as(case: Case) -> str:
    return case.kind if case.auth == "right" else f"credentials: {case.auth}"


FUZZ = current_size()


def test_fuzzed_webhooks_never_fail_the_server_and_invalid_ones_write_nothing(rig: Rig, figures: Figures) -> None:
    rig.store.client  # noqa: B018  # the `store` fixture behind rig has wiped Firestore
    ledger = Ledger()
    session = requests.Session()

    @fuzz_settings(FUZZ.fuzz_cases)
    @given(case=cases())
    def check(case: Case) -> None:
        answer = send(rig, session, case)
        ledger.answers.count(counted_as(case), answer.status_code)
        assert answer.status_code < 500, (answer.status_code, answer.text[:300], case.body[:300])
        assert answer.status_code in expected_statuses(case), (answer.status_code, answer.text[:300], case)
        if answer.status_code == 202 and case.policy_id is not None:
            ledger.cases |= {(host_id, case.policy_id) for host_id in case.host_ids}

    check()
    stored = rig.snapshot()
    stored_cases = {(doc["host_id"], doc["policy_id"]) for doc in stored["host_policies"].values()}
    # Every refused case's ids lie outside what the accepted ones used: whatever else is stored, they wrote.
    stray = len(stored_cases - ledger.cases)
    stray += sum(len(documents) for name, documents in stored.items() if name != "host_policies")
    figures.record("fuzz", **ledger.answers.figures(stray))
    print(json.dumps(figures.values["fuzz"]))
    assert ledger.answers.server_errors == 0
    assert stray == 0
    assert stored_cases == ledger.cases  # and the accepted ones did
    statuses = ledger.answers.statuses
    assert statuses[202]
    assert statuses[400]
    assert statuses[401]
    assert statuses[415]


#: Cases per hostile class in the test below (the mixed run above draws them too, at random).
HOSTILE_CASES_PER_KIND = max(10, FUZZ.endpoint_fuzz_cases // 8)


@pytest.mark.parametrize("kind", HOSTILE_KINDS)
def test_every_hostile_class_is_refused_with_a_named_400_and_writes_nothing(
    rig: Rig, figures: Figures, kind: str
) -> None:
    """Each class on its own, so that every one is tried at every size, with the right secret and type."""
    rig.store.client  # noqa: B018  # the `store` fixture behind rig has wiped Firestore
    answers, session = FuzzLedger(), requests.Session()

    @fuzz_settings(HOSTILE_CASES_PER_KIND)
    @given(case=hostile_cases((kind,)))
    def check(case: Case) -> None:
        answer = send(rig, session, case)
        answers.count(case.kind, answer.status_code)
        assert answer.status_code == 400, (answer.status_code, answer.text[:300], case.body[:300])
        assert answer.json()["error"], answer.text

    check()
    written = sum(len(documents) for documents in rig.snapshot().values())
    figures.record("fuzz_hostile", **{kind: answers.figures(written)})
    assert answers.server_errors == 0
    assert written == 0
    assert answers.statuses[400] >= HOSTILE_CASES_PER_KIND // 2
