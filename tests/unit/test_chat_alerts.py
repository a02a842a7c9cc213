"""Chat alerts: once per fact, released when the webhook refuses, in Slack's and Google Chat's shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.test import Client

from infra.chat_server.app import GOOGLE_CHAT_PATH, SLACK_PATH, Receiver, create_app
from maintenance_windows.adapters.memory_store import MemoryStore
from maintenance_windows.domain import alerts
from maintenance_windows.ports.chat import ChatError
from maintenance_windows.ports.store import Write
from maintenance_windows.status.alerts import ALERTS, ChatAlerts
from tests.support.status_fixtures import seed

NOW = datetime(2031, 3, 31, 12, 0, tzinfo=UTC)


class Chat:
    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []
        self.refuse = False

    def post(self, body: dict[str, Any]) -> None:
        if self.refuse:
            raise ChatError("chat webhook answered 500")
        self.posted.append(body)


def setup() -> tuple[MemoryStore, Chat, ChatAlerts]:
    store = MemoryStore()
    seed(store, NOW)
    chat = Chat()
    return store, chat, ChatAlerts(chat, "slack", status_url="https://status.example/")


def test_each_fact_is_alerted_once_and_a_rerun_sends_nothing() -> None:
    store, chat, hook = setup()
    first = hook.send(store, NOW)
    texts = [body["text"] for body in chat.posted]
    assert first == len(chat.posted) == 4  # declined, no email, failed fix, and the digest
    assert any("declined" in t and "<https://status.example/host/3|host 3>" in t for t in texts)
    assert any(t.startswith("*Maintenance windows, daily digest 2031-03-31*") and "25%" in t for t in texts)
    assert hook.send(store, NOW + timedelta(minutes=15)) == 0


def test_a_new_reason_is_a_new_fact_and_the_next_day_brings_a_new_digest() -> None:
    store, chat, hook = setup()
    hook.send(store, NOW)
    store.commit([Write("merge", "hosts", "7", {"email_problem": "two owners"})])
    assert hook.send(store, NOW + timedelta(minutes=15)) == 1
    assert "two owners" in chat.posted[-1]["text"]
    assert hook.send(store, NOW + timedelta(days=1)) == 1  # the digest of the next day
    assert "digest 2031-04-01" in chat.posted[-1]["text"]


def test_a_refused_post_releases_its_claim_so_the_next_run_sends_it() -> None:
    store, chat, hook = setup()
    chat.refuse = True
    assert hook.send(store, NOW) == 0
    assert store.query(ALERTS) == []
    chat.refuse = False
    assert hook.send(store, NOW) == 4
    assert all(doc.get("sent_at") == NOW for _, doc in store.query(ALERTS))


def test_alert_ids_follow_the_fact() -> None:
    one = alerts.attention_alert("declined", 3, "c@x", "declined (2 deletions)", None)
    assert one.alert_id == alerts.attention_alert("declined", 3, "c@x", "declined (2 deletions)", "link").alert_id
    assert one.alert_id != alerts.attention_alert("declined", 4, "c@x", "declined (2 deletions)", None).alert_id


def test_a_long_pause_alerts_once_per_pause() -> None:
    since = NOW - timedelta(days=4)
    assert alerts.pause_alert("team 1", NOW - timedelta(days=1), "rollout", NOW, timedelta(days=3)) is None
    alert = alerts.pause_alert("team 1", since, "rollout", NOW, timedelta(days=3))
    assert alert is not None
    assert "paused for 4 days" in alert.text
    later = alerts.pause_alert("team 1", since, "rollout", NOW + timedelta(days=2), timedelta(days=3))
    assert later is not None
    assert later.alert_id == alert.alert_id


def test_both_formats_are_taken_by_the_local_receiver() -> None:
    receiver = Receiver("tok")
    client = Client(create_app(receiver))
    alert = alerts.digest_alert("2031-03-31", ["fixed within deadline: 25%"], None)
    slack = client.post(SLACK_PATH + "tok", json=alerts.message(alert, "slack"))
    assert (slack.status_code, slack.get_data(as_text=True)) == (200, "ok")
    google = client.post(GOOGLE_CHAT_PATH + "?key=local-key&token=tok", json=alerts.message(alert, "google_chat"))
    assert google.status_code == 200
    assert google.get_json()["name"].startswith("spaces/AAAAlocal/messages/")
    assert [m["format"] for m in receiver.messages()] == ["slack", "google_chat"]


def test_the_receiver_is_as_strict_as_the_documented_webhooks() -> None:
    client = Client(create_app(Receiver("tok")))
    assert client.post(SLACK_PATH + "wrong", json={"text": "x"}).get_data(as_text=True) == "no_service"
    assert client.post(SLACK_PATH + "tok", data="not json").get_data(as_text=True) == "invalid_payload"
    assert client.post(SLACK_PATH + "tok", json={"username": "x"}).get_data(as_text=True) == "no_text"
    assert client.post(GOOGLE_CHAT_PATH + "?key=local-key&token=bad", json={"text": "x"}).status_code == 401
    empty = client.post(GOOGLE_CHAT_PATH + "?key=local-key&token=tok", json={"text": ""})
    assert empty.status_code == 400
    assert empty.get_json()["error"]["status"] == "INVALID_ARGUMENT"
    long = client.post(
        GOOGLE_CHAT_PATH + "?key=local-key&token=tok",
        data=json.dumps({"text": "x" * 5000}),
        content_type="application/json",
    )
    assert long.status_code == 400


def test_alerts_are_wired_only_when_a_webhook_is_configured(monkeypatch: Any) -> None:
    from maintenance_windows import wiring
    from maintenance_windows.config.settings import Settings

    for value, wired in (("none", False), ("", False), ("https://hooks.slack.com/services/T/B/x", True)):
        monkeypatch.setattr(wiring, "settings", lambda value=value: Settings.from_env({"MW_CHAT_WEBHOOK_URL": value}))
        assert (wiring.chat_alerts() is not None) is wired, value
