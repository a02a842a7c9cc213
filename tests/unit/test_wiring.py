"""wiring: what each function builds at cold start from its environment, and what stops a bad configuration.

No client here talks to anything: Firestore is pointed at an emulator address nobody listens on, the
calendar at a local endpoint, and Fleet, Gemini and Cloud Tasks clients are built only when first used.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from maintenance_windows import wiring
from maintenance_windows.adapters.caldav import CalDavCalendarAdapter
from maintenance_windows.adapters.calendar_router import CalendarRouter
from maintenance_windows.adapters.firestore_store import FirestoreStore
from maintenance_windows.adapters.google_calendar import GoogleCalendarAdapter
from maintenance_windows.adapters.lazy import LazyTaskQueue
from maintenance_windows.auth import AuthError
from maintenance_windows.auth.oidc import OidcVerifier
from maintenance_windows.config.settings import ConfigurationError
from maintenance_windows.repository.guarded_store import GuardedStore
from maintenance_windows.service.channels import ChannelKeeper
from maintenance_windows.service.polling import PolledFollower

BASE = {
    "MW_PROJECT": "unit-project",
    "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9",
    "MW_WEBHOOK_SECRETS": "first, second",
    "MW_CALENDAR_CREDENTIALS": "local",
    "MW_CALENDAR_API_ENDPOINT": "http://127.0.0.1:9/calendar/v3/",
    "MW_PLAN_URL": "https://plan.example",
    "MW_SCHEDULER_SA": "scheduler@unit-project.iam.gserviceaccount.com",
    "MW_NOTIFICATIONS_URL": "https://notify.example",
    "MW_PLAN_TIME_BUDGET_SECONDS": "90",
}
DISPATCH = {
    "MW_FLEET_URL": "https://fleet.example",
    "MW_FLEET_API_TOKEN": "token",
    "MW_TASKS_QUEUE": "projects/unit-project/locations/europe-west1/queues/windows",
    "MW_TASKS_EMULATOR_HOST": "127.0.0.1:9",
    "MW_DISPATCH_URL": "https://dispatch.example",
    "MW_TASK_INVOKER_SA": "tasks@unit-project.iam.gserviceaccount.com",
}
#: The per-instance builders (functools.cache) that warm() fills.
_BUILDERS = [value for value in vars(wiring).values() if callable(getattr(value, "cache_clear", None))]


@pytest.fixture(autouse=True)
def fresh_instance(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test is a new instance: empty caches, only our variables, and the test's own log handlers."""
    for name in [key for key in os.environ if key.startswith("MW_") or key == "K_SERVICE"]:
        monkeypatch.delenv(name)
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    for builder in _BUILDERS:
        builder.cache_clear()
    yield
    for builder in _BUILDERS:
        builder.cache_clear()
    root.handlers[:], root.level = handlers, level


def test_fleet_webhook_builds_the_store_its_secrets_and_a_lazy_task_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in DISPATCH.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MW_FLEET_API_TOKEN")  # the public endpoint holds no Fleet credential
    wiring.warm("fleet_webhook")
    ctx, settings = wiring.webhook()
    # Firestore behind the store path guard, so no id reaches Firestore's path parser unchecked.
    assert isinstance(ctx.store, GuardedStore)
    assert isinstance(ctx.store.inner, FirestoreStore)
    assert isinstance(ctx.tasks, LazyTaskQueue)
    assert [secret.get_secret_value() for secret in settings.secrets] == ["first", "second"]
    assert wiring.webhook() is wiring.webhook()  # once per instance


def test_fleet_webhook_without_its_queue_stops_at_cold_start() -> None:
    with pytest.raises(ConfigurationError, match="MW_TASKS_QUEUE and MW_DISPATCH_URL"):
        wiring.warm("fleet_webhook")


def test_plan_windows_gets_the_calendar_an_oidc_check_and_its_budget() -> None:
    ctx, verifier, settings = wiring.planner()
    assert isinstance(ctx.calendar, GoogleCalendarAdapter)
    assert isinstance(ctx.tasks, LazyTaskQueue)
    assert isinstance(verifier, OidcVerifier)
    assert ctx.notifications_url == "https://notify.example"
    assert settings.time_budget.total_seconds() == 90
    assert settings.allow_short_lead is False
    assert [type(hook) for hook in wiring.plan_hooks()] == [ChannelKeeper]
    # calendar_notifications books with the planner's own clients, but reads team OS-update settings and
    # policy texts from the stored copies: it holds no Fleet token.
    notifications = wiring.notifications()
    assert (notifications.calendar, notifications.fleet, notifications.store) == (ctx.calendar, ctx.fleet, ctx.store)
    assert notifications.os_updates is not ctx.os_updates
    assert notifications.os_updates.reads_fleet is False
    assert ctx.os_updates.reads_fleet is True
    assert wiring.notifications() is notifications
    assert ctx.catalog is not None
    assert notifications.catalog is None


def test_plan_windows_without_its_audience_stops_at_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MW_PLAN_URL")
    with pytest.raises(ConfigurationError, match="plan_windows needs MW_PLAN_URL and MW_SCHEDULER_SA"):
        wiring.warm("plan_windows")


def test_dispatch_window_builds_fleet_and_tasks_and_checks_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in DISPATCH.items():
        monkeypatch.setenv(name, value)
    wiring.warm("dispatch_window")
    ctx, verifier = wiring.dispatcher()
    assert isinstance(verifier, OidcVerifier)
    assert type(ctx.fleet).__name__ == "FleetHttpClient"
    assert type(ctx.tasks).__name__ == "CloudTasksQueue"


@pytest.mark.parametrize("missing", ["MW_FLEET_URL", "MW_TASKS_QUEUE", "MW_TASK_INVOKER_SA"])
def test_dispatch_window_names_what_is_missing(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    for name, value in DISPATCH.items():
        if name != missing:
            monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=missing):
        wiring.warm("dispatch_window")


def test_the_dispatch_token_check_is_always_built_and_cannot_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    # The former local switch is no setting any more: it is ignored, and the token check stays.
    for name, value in {**DISPATCH, "MW_LOCAL_UNAUTHENTICATED_TASKS": "true"}.items():
        monkeypatch.setenv(name, value)
    _, verifier = wiring.dispatcher()
    with pytest.raises(AuthError) as refused:
        verifier.verify(None)
    assert refused.value.status == 401


def test_only_cloud_run_trusts_a_signature_its_iam_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in DISPATCH.items():
        monkeypatch.setenv(name, value)
    platform_verified = (
        "Bearer "
        + ".".join(
            base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
            for part in (
                {"alg": "RS256", "kid": "k"},
                {
                    "iss": "https://accounts.google.com",
                    "aud": DISPATCH["MW_DISPATCH_URL"],
                    "exp": int(time.time()) + 3000,  # a Google ID token lives an hour at most
                    "iat": int(time.time()) - 60,
                    "email": DISPATCH["MW_TASK_INVOKER_SA"],
                    "email_verified": True,
                    "sub": "1",
                },
            )
        )
        + ".SIGNATURE_REMOVED_BY_GOOGLE"
    )
    with pytest.raises(AuthError):
        wiring.dispatcher()[1].verify(platform_verified)
    wiring.dispatcher.cache_clear()
    wiring.settings.cache_clear()
    monkeypatch.setenv("K_SERVICE", "mw-dispatch-window")
    assert wiring.dispatcher()[1].verify(platform_verified).email == DISPATCH["MW_TASK_INVOKER_SA"]


def test_an_invalid_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MW_MAX_BODY_BYTES", "lots")
    with pytest.raises(ConfigurationError, match="MW_MAX_BODY_BYTES"):
        wiring.warm("fleet_webhook")


def test_an_unknown_or_missing_target_builds_nothing() -> None:
    wiring.warm(None)
    wiring.warm("not_a_function")
    assert all(builder.cache_info().currsize == 0 for builder in _BUILDERS)


def test_plan_windows_refuses_impossible_rules_in_one_log_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "team.yaml"
    rules.write_text("teams:\n  '3':\n    slots: {deadline_days: 1, min_lead_minutes: 1440}\n")
    monkeypatch.setenv("MW_TEAM_CONFIG", str(rules))
    with pytest.raises(ConfigurationError, match=r"teams\.3\.slots\.deadline_days"):
        wiring.warm("plan_windows")
    logged = [line for line in capsys.readouterr().out.splitlines() if "team rules refused" in line]
    assert len(logged) == 1
    assert "run `mw check`" in logged[0]
    assert "teams.3.slots.deadline_days" in logged[0]


def test_a_caldav_domain_puts_a_router_and_the_polled_follower_in_the_planner(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rules = tmp_path / "teams.yaml"
    rules.write_text(
        "defaults:\n  domains: [acme.example, dav.example]\n  calendar_domains: {dav.example: caldav}\n"
        "  caldav: {url: 'https://dav.example/'}\n"
    )
    monkeypatch.setenv("MW_TEAM_CONFIG", str(rules))
    monkeypatch.setenv("MW_CALDAV_CREDENTIALS", '{"service_account": {"username": "mw", "password": "s3cret"}}')
    for name, value in DISPATCH.items():
        monkeypatch.setenv(name, value)
    ctx, _, _ = wiring.planner()
    assert isinstance(ctx.calendar, CalendarRouter)
    assert isinstance(ctx.calendar.for_user("carol@dav.example"), CalDavCalendarAdapter)
    assert isinstance(ctx.calendar.for_user("alice@acme.example"), GoogleCalendarAdapter)
    assert [type(hook) for hook in wiring.plan_hooks()] == [ChannelKeeper, PolledFollower]
