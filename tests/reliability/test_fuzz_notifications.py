"""calendar_notifications, the public endpoint with no body, under hypothesis-generated X-Goog-* headers on
the local stack: 100 cases, 2,000 with MW_RELIABILITY_SIZE=large.

The channels the planner opened have tokens only Google (the stand-in) knows; one more channel is planted
in Firestore with a token the test knows, so that the headers read after authentication are attacked too.
The oracle follows the handler's order: a channel id we never make is 400 (before any read: "a/b" once
reached Firestore as a path and answered 500), an unknown one 401, a known one with a wrong token or
resource 403; with the right token, `sync` and `not_exists` are 200 and nothing else, and an `exists` whose
message number is not a positive 64-bit integer (past 64 bits, "²", "-1") is 400. A valid `exists` message
would follow the calendar, so none is sent. Never 5xx. At the end Firestore (follow_pending included) is
exactly as before and the Calendar was not called.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from hypothesis import example, given
from hypothesis import strategies as st

from maintenance_windows.auth.channel_tokens import new_channel_token, token_digest
from maintenance_windows.repository import channels as channel_records
from maintenance_windows.repository import windows as window_records
from tests.reliability.hostile import FuzzLedger, changed_documents, fuzz_settings
from tests.reliability.support import Figures, Population, Rig, current_size

pytestmark = [pytest.mark.stack, pytest.mark.timeout(current_size().timeout_seconds)]
FUZZ = current_size()
#: The ids calendar_notifications can look up (service/channels.is_channel_id), less Firestore's
#: reserved __name__ form, which the store guard refuses with 400 too.
OURS = re.compile(r"[A-Za-z0-9_-]{1,64}")
RESERVED = re.compile(r"__.*__")
#: The channel planted with a token this test knows.
PLANTED_ID, PLANTED_TOKEN, PLANTED_RESOURCE = str(uuid.uuid4()), new_channel_token(), "planted-resource"


@dataclass(frozen=True)
class Case:
    headers: dict[str, str]
    kind: str
    expected: int


#: Header text as HTTP carries it (latin-1, as werkzeug decodes it), without the CR, LF and outer blanks that
#: requests refuses to send.
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=80
).map(str.strip)
message_numbers = st.one_of(
    st.integers(1, 2**63 - 1).map(str),
    st.integers(2**63, 10**30).map(str),
    st.sampled_from(["0", "-1", "", "1.5", "1e3", "²", "³", "¹²", "0x10", "+5", "99999999999999999999"]),
    header_text,
)
states = st.one_of(st.sampled_from(["exists", "sync", "not_exists", "EXISTS", ""]), header_text)
hostile_ids = st.one_of(
    st.sampled_from(["a/b", "/", "..", ".", "__x__", "__name__", "x" * 65, "café", "a b", "a+b=", "a%2Fb"]),
    header_text.filter(lambda text: not OURS.fullmatch(text) and text != ""),
)


def bad_message_number(raw: str) -> bool:
    return not (raw.isascii() and raw.isdigit() and 0 < int(raw) < 2**63)


@st.composite
def cases(draw: st.DrawFn, known: list[dict[str, Any]]) -> Case:
    channel = draw(st.sampled_from(known))
    kind = draw(
        st.sampled_from(
            [
                "hostile channel id",
                "unknown channel",
                "known channel, wrong token",
                "no channel id",
                "right token",
                "right token",
                "right token, message number out of range",
                "right token, wrong resource",
            ]
        )
    )
    headers: dict[str, str] = {}
    if kind.startswith("right token"):
        headers = {
            "X-Goog-Channel-ID": PLANTED_ID,
            "X-Goog-Channel-Token": PLANTED_TOKEN,
            "X-Goog-Resource-ID": "forged" if kind == "right token, wrong resource" else PLANTED_RESOURCE,
        }
        if kind == "right token, message number out of range":
            number = draw(message_numbers.filter(bad_message_number))
            return Case({**headers, "X-Goog-Resource-State": "exists", "X-Goog-Message-Number": number}, kind, 400)
        if kind != "right token":
            return Case({**headers, "X-Goog-Resource-State": "exists", "X-Goog-Message-Number": "5"}, kind, 403)
        state = draw(st.sampled_from(["sync", "not_exists", "exists", "exists"]) | states)
        number = draw(message_numbers.filter(bad_message_number) if state == "exists" else message_numbers)
        headers |= {"X-Goog-Resource-State": state, "X-Goog-Message-Number": number}
        named = {"exists": "message number out of range", "sync": "sync", "not_exists": "not_exists"}
        return Case(
            headers, f"right token, {named.get(state, 'odd state')}", 200 if state in ("sync", "not_exists") else 400
        )
    if kind == "hostile channel id":
        headers["X-Goog-Channel-ID"] = draw(hostile_ids)
        expected = 400
    elif kind == "unknown channel":
        headers["X-Goog-Channel-ID"] = draw(
            st.from_regex(OURS, fullmatch=True).filter(lambda i: not RESERVED.fullmatch(i) and i != channel["id"])
        )
        expected = 401
    elif kind == "known channel, wrong token":
        headers["X-Goog-Channel-ID"] = channel["id"]
        expected = 403
    else:
        expected = 401
    if draw(st.booleans()):
        headers["X-Goog-Channel-Token"] = draw(header_text)
    if draw(st.booleans()):
        headers["X-Goog-Resource-ID"] = draw(st.sampled_from([channel["resourceId"], "forged"]) | header_text)
    headers["X-Goog-Resource-State"] = draw(states)
    headers["X-Goog-Message-Number"] = draw(message_numbers)
    if draw(st.booleans()):
        headers["X-Goog-Channel-Expiration"] = draw(header_text)
    return Case(headers, kind, expected)


def test_fuzzed_push_messages_never_fail_the_server_and_change_nothing(rig: Rig, figures: Figures) -> None:
    population = Population("n", 2)
    rig.reset(population)
    assert set(rig.replay_webhooks(population, copies=1)) == {202}
    rig.plan_until_complete()
    known = rig.local.calendar("GET", "channels")["channels"]
    assert len(known) == 2, known
    (window, *_) = window_records.all_windows(rig.store)
    now = datetime.now(UTC)
    planted = channel_records.ChannelRecord(
        PLANTED_ID,
        window.user_key,
        window.user_email,
        token_digest(PLANTED_TOKEN),
        channel_records.ChannelState.CURRENT,
        now,
        PLANTED_RESOURCE,
        now + timedelta(days=7),
        "planted-sync-token",
    )
    rig.store.commit([channel_records.save(planted)])
    before, calendar_calls = rig.snapshot(), rig.local.counters()["total_calls"]
    session, answers, url = requests.Session(), FuzzLedger(), rig.stack["urls"]["calendar_notifications"]

    @fuzz_settings(FUZZ.endpoint_fuzz_cases)
    @given(case=cases(known))
    # The attack run's two cases: a "/" in the channel id, a message number past 64 bits.
    @example(case=Case({"X-Goog-Channel-ID": "a/b", "X-Goog-Resource-State": "exists"}, "hostile channel id", 400))
    @example(
        case=Case(
            {
                "X-Goog-Channel-ID": PLANTED_ID,
                "X-Goog-Channel-Token": PLANTED_TOKEN,
                "X-Goog-Resource-ID": PLANTED_RESOURCE,
                "X-Goog-Resource-State": "exists",
                "X-Goog-Message-Number": "99999999999999999999",
            },
            "right token, message number out of range",
            400,
        )
    )
    def check(case: Case) -> None:
        answer = session.post(url, headers=case.headers, timeout=60)
        answers.count(case.kind, answer.status_code)
        assert answer.status_code < 500, (answer.status_code, answer.text[:300], case)
        assert answer.status_code == case.expected, (answer.status_code, answer.text[:300], case)
        assert answer.json()["error" if case.expected != 200 else "status"], answer.text

    check()
    written = changed_documents(before, rig.snapshot())
    calls = rig.local.counters()["total_calls"] - calendar_calls
    figures.record("fuzz_notifications", **answers.figures(written, calendar_calls=calls))
    print(json.dumps(figures.values["fuzz_notifications"]))
    assert answers.server_errors == 0
    assert written == 0
    assert calls == 0
    assert answers.statuses[200]
    assert answers.statuses[400]
    assert answers.statuses[401]
    assert answers.statuses[403]
