"""Shared secrets (fleet_webhook) and channel tokens (calendar_notifications)."""

from __future__ import annotations

import base64
import hmac

import pytest
from pydantic import SecretStr
from werkzeug.datastructures import Headers

from maintenance_windows.auth.channel_tokens import new_channel_token, token_digest, token_matches
from maintenance_windows.auth.shared_secret import presented_secrets, secret_matches


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class TestPresentedSecrets:
    def test_basic_password_with_any_user_name(self) -> None:
        assert presented_secrets({"Authorization": basic("fleet", "s3cret")}, {}) == ["s3cret"]
        assert presented_secrets({"Authorization": basic("", "s3cret")}, {}) == ["s3cret"]

    def test_basic_password_may_contain_colons_and_non_ascii(self) -> None:
        assert presented_secrets({"Authorization": basic("u", "a:b:ç")}, {}) == ["a:b:ç"]

    def test_bearer_token(self) -> None:
        assert presented_secrets({"Authorization": "Bearer tok-123"}, {}) == ["tok-123"]

    def test_query_token(self) -> None:
        assert presented_secrets({}, {"token": "q-456"}) == ["q-456"]

    def test_all_present_forms_are_returned(self) -> None:
        found = presented_secrets({"Authorization": basic("fleet", "from-basic")}, {"token": "from-query"})
        assert found == ["from-basic", "from-query"]

    def test_header_name_and_scheme_are_case_insensitive(self) -> None:
        assert presented_secrets({"authorization": "bearer tok"}, {}) == ["tok"]
        assert presented_secrets({"AUTHORIZATION": basic("u", "p").replace("Basic", "BASIC")}, {}) == ["p"]

    def test_werkzeug_headers_are_accepted(self) -> None:
        headers = Headers([("Authorization", basic("fleet", "s3cret"))])
        assert presented_secrets(headers, {}) == ["s3cret"]

    @pytest.mark.parametrize(
        "authorization",
        [
            "Basic !!!not-base64!!!",
            "Basic " + base64.b64encode(b"no-colon-here").decode(),
            "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),  # not UTF-8
            "Basic " + base64.b64encode(b"user:").decode(),  # empty password
            "Basic",
            "Bearer",
            "Bearer    ",
            "Digest username=x",
            "",
        ],
    )
    def test_malformed_or_foreign_credentials_count_as_absent(self, authorization: str) -> None:
        assert presented_secrets({"Authorization": authorization}, {}) == []

    def test_nothing_presented(self) -> None:
        assert presented_secrets({"Content-Type": "application/json"}, {"other": "x", "token": ""}) == []


class TestSecretMatches:
    def test_matching_secret(self) -> None:
        assert secret_matches(["s3cret"], [SecretStr("s3cret")])
        assert secret_matches(["s3cret"], ["s3cret"])

    def test_wrong_secret_and_prefixes_do_not_match(self) -> None:
        assert not secret_matches(["s3cre"], [SecretStr("s3cret")])
        assert not secret_matches(["s3cret!"], [SecretStr("s3cret")])
        assert not secret_matches(["S3CRET"], [SecretStr("s3cret")])

    def test_rotation_accepts_either_valid_secret(self) -> None:
        valid = [SecretStr("old-secret"), SecretStr("new-secret")]
        assert secret_matches(["old-secret"], valid)
        assert secret_matches(["new-secret"], valid)
        assert not secret_matches(["retired-secret"], valid)

    def test_any_presented_secret_may_match(self) -> None:
        assert secret_matches(["wrong", "s3cret"], [SecretStr("s3cret")])

    def test_no_valid_secrets_never_matches(self) -> None:
        assert not secret_matches(["anything"], [])
        assert not secret_matches([""], [])

    def test_empty_strings_never_match(self) -> None:
        assert not secret_matches([""], [SecretStr("")])
        assert not secret_matches([], [SecretStr("s3cret")])

    def test_every_pair_is_compared_in_constant_time(self, monkeypatch: pytest.MonkeyPatch) -> None:
        calls: list[tuple[bytes, bytes]] = []
        real_compare = hmac.compare_digest

        def recording_compare(a: bytes, b: bytes) -> bool:
            calls.append((a, b))
            return real_compare(a, b)

        monkeypatch.setattr(hmac, "compare_digest", recording_compare)
        valid = [SecretStr("first"), SecretStr("second"), SecretStr("third")]

        # A match on the first valid secret must not cut the loop short.
        assert secret_matches(["first", "nope"], valid)

        assert len(calls) == 6
        # Fixed-length digests: the secrets' lengths are not visible to the comparison.
        assert {len(a) for a, _ in calls} == {32}
        assert {len(b) for _, b in calls} == {32}


class TestChannelTokens:
    def test_new_tokens_are_256_bit_url_safe_and_unique(self) -> None:
        tokens = {new_channel_token() for _ in range(50)}
        assert len(tokens) == 50
        for token in tokens:
            assert len(token) == 43  # 32 bytes in unpadded base64
            assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    def test_digest_is_sha256_hex(self) -> None:
        assert token_digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

    def test_token_matches_its_digest_only(self) -> None:
        token = new_channel_token()
        stored = token_digest(token)
        assert token_matches(token, stored)
        assert token_matches(token, stored.upper())
        assert not token_matches(token + "x", stored)
        assert not token_matches(new_channel_token(), stored)

    @pytest.mark.parametrize("presented", [None, ""])
    def test_missing_token_never_matches(self, presented: str | None) -> None:
        assert not token_matches(presented, token_digest(""))

    def test_empty_or_garbage_digest_never_matches(self) -> None:
        assert not token_matches("token", "")
        assert not token_matches("token", "ünïcode")

    def test_compare_is_constant_time(self, monkeypatch: pytest.MonkeyPatch) -> None:
        calls: list[tuple[bytes, bytes]] = []

        def recording_compare(a: bytes, b: bytes) -> bool:
            calls.append((a, b))
            return a == b

        monkeypatch.setattr(hmac, "compare_digest", recording_compare)
        assert token_matches("token", token_digest("token"))
        assert len(calls) == 1
