"""What the fuzz suites share: the attack classes that once answered 500, as hypothesis strategies of raw
bytes, and a ledger that counts answers per class for the figures.

The classes (docs/reliability.md, "Hostile input"): JSON nested past any sane depth, at the root and inside
a field; integers past 64 bits and past Python's 4,300-digit limit; timestamps that overflow once normalised
to UTC; lone UTF-16 surrogates; NaN and Infinity; invalid UTF-8; ids containing "/" or reserved by Firestore.
Each strategy yields JSON *text* (bytes), because several of these cannot be built with json.dumps at all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from infra.oidc_issuer.issuer import LocalIssuer
from maintenance_windows.handlers.http import MAX_JSON_DEPTH
from tests.reliability.support import Rig, current_size

#: Stands for a raw JSON literal in a payload until `splice` puts the literal in its place.
HOLE = "\u2063hostile\u2063"
_HOLE_JSON = json.dumps(HOLE)


def splice(payload: Any, literal: bytes) -> bytes:
    """The payload as JSON with the one HOLE string replaced by `literal`, verbatim."""
    text = json.dumps(payload).encode()
    assert text.count(_HOLE_JSON.encode()) == 1, "exactly one hole per payload"
    return text.replace(_HOLE_JSON.encode(), literal)


def nested(depth: int, inner: bytes = b"0") -> bytes:
    return b"[" * depth + inner + b"]" * depth


#: Just past our bound, past orjson's own 1,024 and far past Python's recursion limit.
deep_nesting = st.one_of(
    st.integers(MAX_JSON_DEPTH + 1, MAX_JSON_DEPTH + 8),
    st.integers(1_000, 1_100),
    st.integers(5_000, 20_000),
).flatmap(lambda depth: st.sampled_from([nested(depth), b'{"a":' * depth + b"0" + b"}" * depth]))

#: Integers JSON allows and 64 bits do not hold; the long ones are past Python's int-from-string limit.
long_integers = st.one_of(
    st.integers(2**64, 10**40).map(lambda n: str(n).encode()),
    st.integers(-(10**40), -(2**64)).map(lambda n: str(n).encode()),
    st.integers(4_301, 6_000).map(lambda digits: b"9" * digits),
)


@st.composite
def overflowing_timestamps(draw: st.DrawFn) -> bytes:
    """Valid RFC 3339 that overflows once converted to UTC: year 1 ahead of UTC, year 9999 behind it."""
    hours = draw(st.integers(1, 23))
    if draw(st.booleans()):
        moment = datetime(1, 1, 1, draw(st.integers(0, hours - 1)), draw(st.integers(0, 59)))
        stamped = moment.replace(tzinfo=timezone(timedelta(hours=hours)))
    else:
        moment = datetime(9999, 12, 31, draw(st.integers(24 - hours, 23)), draw(st.integers(0, 59)))
        stamped = moment.replace(tzinfo=timezone(-timedelta(hours=hours)))
    return json.dumps(stamped.isoformat()).encode()


#: A string holding one lone UTF-16 surrogate: json.dumps writes it as a \\udXXX escape.
lone_surrogates = st.tuples(st.text(max_size=8), st.integers(0xD800, 0xDFFF), st.text(max_size=8)).map(
    lambda parts: json.dumps(parts[0] + chr(parts[1]) + parts[2]).encode()
)
not_numbers = st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400"])
#: A string whose bytes are not UTF-8.
invalid_utf8 = st.sampled_from([b'"\xff"', b'"\xc3\x28"', b'"\xed\xa0\x80"', b'"a\x80b"'])

HOSTILE_LITERALS: dict[str, st.SearchStrategy[bytes]] = {
    "deep nesting in a field": deep_nesting,
    "integer beyond 64 bits": long_integers,
    "timestamp overflowing in UTC": overflowing_timestamps(),
    "lone surrogate": lone_surrogates,
    "NaN or Infinity": not_numbers,
    "invalid UTF-8": invalid_utf8,
}

#: Ids no document can have, or that are not ours, as JSON strings: "/" (a sub-collection path in
#: Firestore), "." and "..", Firestore's reserved __name__, over-long, non-ASCII.
path_ids = st.one_of(
    st.tuples(st.text("abc0-", min_size=0, max_size=10), st.text("abc0-", min_size=0, max_size=10)).map(
        lambda parts: f"{parts[0]}/{parts[1]}"
    ),
    st.sampled_from([".", "..", "/", "//", "a/b", "windows/x", "__x__", "__name__", "a" * 201]),
    st.text(min_size=1, max_size=12).filter(lambda text: any(ord(c) > 127 for c in text)),
)


def fuzz_settings(cases: int) -> settings:
    """One hypothesis run of `cases` examples against the live stack (derandomized at the CI size)."""
    return settings(
        max_examples=cases,
        deadline=None,
        database=None,
        derandomize=current_size().name == "ci",
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
            HealthCheck.filter_too_much,
        ],
    )


@dataclass
class FuzzLedger:
    """Answers per status and per attack class; what the figures report."""

    statuses: Counter[int] = field(default_factory=Counter)
    by_class: defaultdict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    began: float = field(default_factory=time.monotonic)

    def count(self, kind: str, status: int) -> None:
        self.statuses[status] += 1
        self.by_class[kind][status] += 1

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def figures(self, writes_on_refused: int, **extra: Any) -> dict[str, Any]:
        return {
            "cases": sum(self.statuses.values()),
            "statuses": dict(sorted(self.statuses.items())),
            "server_errors": self.server_errors,
            "writes_on_refused": writes_on_refused,
            "classes": {kind: dict(sorted(counts.items())) for kind, counts in sorted(self.by_class.items())},
            "seconds": round(time.monotonic() - self.began, 1),
            **extra,
        }


def changed_documents(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> int:
    """How many documents were created, changed or deleted between two Rig.snapshot()s."""
    changed = 0
    for name in set(before) | set(after):
        old, new = before.get(name, {}), after.get(name, {})
        changed += sum(1 for doc_id in set(old) | set(new) if old.get(doc_id) != new.get(doc_id))
    return changed


class MintedToken:
    """An ID token for one function and caller, minted at the local issuer and renewed every 5 minutes (the
    issuer's tokens live an hour, and the verifier refuses any that would live longer)."""

    def __init__(self, rig: Rig, function: str, account: str) -> None:
        self._rig, self._function, self._account = rig, function, account
        self._token: tuple[str, float] | None = None

    def __call__(self) -> str:
        if self._token is None or time.monotonic() - self._token[1] > 300:
            stack = self._rig.stack
            minted = self._rig.local.token(stack["urls"][self._function], stack["service_accounts"][self._account])
            self._token = (minted, time.monotonic())
        return self._token[0]


#: Forged or absent credentials for the OIDC-checked functions, each with the status it must get: the
#: token attacks of the first attack run (alg none, HS256 keyed with the public certificate, wrong audience
#: or issuer) and the token checks since (not yet valid, a lifetime longer than Google's hour).
FORGERIES: dict[str, int] = {
    "no token": 401,
    "not a JWT": 401,
    "bad signature": 401,
    "alg none": 401,
    "HS256 with the public key": 401,
    "wrong audience": 401,
    "wrong issuer": 401,
    "expired": 401,
    "not valid for an hour yet": 401,
    "valid for a century": 401,
    "untrusted key": 401,
    "the webhook secret": 401,
    "another caller": 403,
    "email not verified": 403,
}
forgeries = st.sampled_from(sorted(FORGERIES))
#: "right" 4 times in 5, else a forgery.
credentials = st.sampled_from(["right"] * 4 + ["forged"]).flatmap(lambda c: forgeries if c == "forged" else st.just(c))
INTRUDER = "intruder@local-project.iam.gserviceaccount.com"
_CENTURY = 100 * 365 * 24 * 3600


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _resigned(token: str, header: dict[str, str], key: bytes | None) -> str:
    """The token's own claims under another header: unsigned (alg none) or HMAC-SHA256 with `key`."""
    claims = token.split(".")[1].encode()
    signing_input = _b64(json.dumps(header).encode()) + b"." + claims
    signature = _b64(hmac.new(key, signing_input, hashlib.sha256).digest()) if key is not None else b""
    return (signing_input + b"." + signature).decode()


class ForgedTokens:
    """An Authorization header per forgery for one function, minted with the stack's own issuer key (what
    the functions trust) or a stranger's, and renewed every 5 minutes like MintedToken."""

    def __init__(self, rig: Rig, function: str, account: str) -> None:
        self._rig, self._audience = rig, rig.stack["urls"][function]
        self._account = rig.stack["service_accounts"][account]
        self._trusted = LocalIssuer(Path(rig.stack["root"]) / ".local" / rig.stack["profile"] / "oidc")
        self._stranger = LocalIssuer(Path(tempfile.mkdtemp(prefix="stranger-")))
        self._headers: tuple[dict[str, str | None], float] | None = None

    def header(self, forgery: str) -> str | None:
        if self._headers is None or time.monotonic() - self._headers[1] > 300:
            self._headers = (self._mint_all(), time.monotonic())
        return self._headers[0][forgery]

    def _mint_all(self) -> dict[str, str | None]:
        mint, audience, account = self._trusted.mint, self._audience, self._account
        genuine = mint(audience, account)
        certificate = next(iter(self._trusted.certificates().values())).encode()
        tokens = {
            "not a JWT": "not-a-jwt",
            "bad signature": genuine[:-4] + ("AAAA" if not genuine.endswith("AAAA") else "BBBB"),
            "alg none": _resigned(genuine, {"alg": "none", "typ": "JWT"}, None),
            "HS256 with the public key": _resigned(genuine, {"alg": "HS256", "typ": "JWT"}, certificate),
            "wrong audience": mint("https://elsewhere.example/", account),
            "wrong issuer": mint(audience, account, issuer="https://evil.example"),
            "expired": mint(audience, account, now=datetime.now(UTC) - timedelta(hours=2), expires_in=600),
            "not valid for an hour yet": mint(audience, account, not_before=datetime.now(UTC) + timedelta(hours=1)),
            "valid for a century": mint(audience, account, expires_in=_CENTURY),
            "untrusted key": self._stranger.mint(audience, account),
            "the webhook secret": self._rig.stack["secrets"]["webhook"],
            "another caller": mint(audience, INTRUDER),
            "email not verified": mint(audience, account, email_verified=False),
        }
        headers: dict[str, str | None] = {name: f"Bearer {token}" for name, token in tokens.items()}
        return {**headers, "no token": None}
