"""The local Identity-Aware Proxy: anonymous visitors sent to sign in, only the named admins let in."""

from __future__ import annotations

from werkzeug.test import Client

from infra.iap_proxy.app import KEYS_PATH, SESSION_COOKIE, SIGNIN_PATH, LocalIap, create_app


def client() -> Client:
    return Client(create_app(LocalIap("http://127.0.0.1:1", "/aud", ["admin@acme.example"], "right")))


def test_anonymous_visitors_are_sent_to_sign_in() -> None:
    answer = client().get("/host/1")
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"{SIGNIN_PATH}?next=/host/1"


def test_only_an_admin_with_the_password_gets_a_session() -> None:
    browser = client()
    wrong = browser.post(SIGNIN_PATH, data={"email": "admin@acme.example", "password": "wrong", "next": "/"})
    stranger = browser.post(SIGNIN_PATH, data={"email": "eve@acme.example", "password": "right", "next": "/"})
    assert wrong.status_code == stranger.status_code == 403
    assert browser.get_cookie(SESSION_COOKIE) is None
    right = browser.post(SIGNIN_PATH, data={"email": "Admin@acme.example", "password": "right", "next": "/host/1"})
    assert right.status_code == 303
    assert right.headers["Location"] == "/host/1"
    assert browser.get_cookie(SESSION_COOKIE) is not None


def test_sign_in_never_redirects_off_the_host() -> None:
    browser = client()
    for target in ("https://evil.example/", "//evil.example/", "javascript:alert(1)"):
        answer = browser.post(SIGNIN_PATH, data={"email": "admin@acme.example", "password": "right", "next": target})
        assert answer.headers["Location"] == "/"


def test_the_key_set_is_public_and_shaped_like_googles() -> None:
    keys = client().get(KEYS_PATH).get_json()["keys"]
    assert [sorted(key) for key in keys] == [["alg", "crv", "kid", "kty", "use", "x", "y"]]
    assert keys[0]["alg"] == "ES256"
    assert keys[0]["crv"] == "P-256"
