"""Builds each function's dependencies once per instance (cold start), importing only what it needs.

fleet_webhook needs Firestore, and Cloud Tasks for large payloads (built on first use); the Calendar, Fleet
and Gemini clients are imported by the functions that call them, inside the builders below.
"""

from __future__ import annotations

import dataclasses
import functools
from datetime import timedelta
from typing import TYPE_CHECKING, cast

from maintenance_windows.config.settings import ConfigurationError, Settings
from maintenance_windows.handlers.fleet_webhook import WebhookSettings
from maintenance_windows.observability import configure_logging, get_logger
from maintenance_windows.ports.store import DocumentStore

if TYPE_CHECKING:
    from maintenance_windows.adapters.firestore_store import FirestoreStore
    from maintenance_windows.auth.oidc import OidcVerifier
    from maintenance_windows.config.teams import TeamsConfig
    from maintenance_windows.handlers.plan_windows import PlanSettings
    from maintenance_windows.ports.calendar import CalendarPort
    from maintenance_windows.ports.explainer import Explainer
    from maintenance_windows.ports.fleet import FleetCatalogPort, FleetPort, PolicyCatalog
    from maintenance_windows.ports.tasks import TaskQueue
    from maintenance_windows.service.context import PlanningContext
    from maintenance_windows.service.dispatch_context import DispatchContext
    from maintenance_windows.service.ingestion import IngestionContext
    from maintenance_windows.service.os_updates import OsUpdates
    from maintenance_windows.service.planner import AfterPlanHook
    from maintenance_windows.status.app import StatusContext

_logger = get_logger(__name__)


@functools.cache
def settings() -> Settings:
    configure_logging()
    return Settings.from_env()


@functools.cache
def store() -> DocumentStore:
    """Firestore behind the store path guard: no id reaches Firestore's path parser unchecked."""
    from maintenance_windows.repository.guarded_store import GuardedStore

    return GuardedStore(firestore_store())


@functools.cache
def webhook() -> tuple[IngestionContext, WebhookSettings]:
    from maintenance_windows.service.ingestion import IngestionContext

    current = settings()
    if not current.tasks_queue or not current.dispatch_url:
        raise ConfigurationError(
            "fleet_webhook needs MW_TASKS_QUEUE and MW_DISPATCH_URL: large webhooks are "
            "folded in by tasks to dispatch_window"
        )
    webhook_settings = WebhookSettings(secrets=current.webhook_secrets, max_body_bytes=current.max_body_bytes)
    return IngestionContext(store(), task_queue()), webhook_settings


@functools.cache
def teams() -> TeamsConfig:
    """The team rules, refused at cold start when `mw check` would find errors in them (schema or rules that
    cannot work), so a broken file stops the instance with one log line instead of failing every window."""
    from maintenance_windows.config.check import load_checked_teams

    try:
        return load_checked_teams(settings().team_config_path)
    except ConfigurationError as refused:
        _logger.critical(str(refused), config=settings().team_config_path)
        raise


def oidc_verifier(function: str, audience: str | None, caller: str | None, *, needs: str) -> OidcVerifier:
    """The check of the ID token Cloud Scheduler or Cloud Tasks sends `function`, always on: locally the
    stack's issuer signs the tokens (infra/tasks_relay adds them to tasks). `needs` names the variables."""
    from maintenance_windows.auth.oidc import GOOGLE_CERTS_URL, OidcVerifier

    if not audience or not caller:
        raise ConfigurationError(f"{function} needs {needs}")
    current = settings()
    return OidcVerifier(
        audience,
        [caller],
        certs_url=current.oidc_certs_url or GOOGLE_CERTS_URL,
        # Behind IAM, Cloud Run has checked the signature and strips it before our code runs.
        accept_platform_verified=current.on_cloud_run,
    )


@functools.cache
def firestore_store() -> FirestoreStore:
    from maintenance_windows.adapters.firestore_store import FirestoreStore

    current = settings()
    return FirestoreStore.connect(current.project, current.firestore_database)


@functools.cache
def explainer() -> Explainer:
    from maintenance_windows.adapters.caching_explainer import CachingExplainer
    from maintenance_windows.adapters.firestore_explanation_cache import FirestoreExplanationCache
    from maintenance_windows.adapters.lazy import LazyExplainer

    current = settings()

    def gemini() -> Explainer:
        from maintenance_windows.adapters.gemini_explainer import GeminiExplainer

        return GeminiExplainer.from_settings(current)

    cache = FirestoreExplanationCache(firestore_store().client)
    return CachingExplainer(LazyExplainer(gemini), cache, current.gemini_model)


def task_queue() -> TaskQueue:
    from maintenance_windows.adapters.lazy import LazyTaskQueue

    def cloud_tasks() -> TaskQueue:
        from maintenance_windows.adapters.cloud_tasks import CloudTasksQueue

        return CloudTasksQueue.from_settings(settings())

    return LazyTaskQueue(cloud_tasks)


@functools.cache
def planning_context() -> PlanningContext:
    from maintenance_windows.adapters.fleet_http import FleetHttpClient
    from maintenance_windows.adapters.lazy import LazyFleet
    from maintenance_windows.service.context import PlanningContext

    current = settings()
    fleet = LazyFleet(lambda: FleetHttpClient.from_settings(current))
    return PlanningContext(
        store=store(),
        calendar=calendar_port(current, teams()),
        fleet=cast("FleetPort", fleet),
        tasks=task_queue(),
        explainer=explainer(),
        teams=teams(),
        notifications_url=current.notifications_url,
        os_updates=os_updates(cast("FleetCatalogPort", fleet)),
        catalog=cast("PolicyCatalog", fleet),
    )


def calendar_port(current: Settings, rules: TeamsConfig) -> CalendarPort:
    """The providers the team rules put people on, behind one port (adapters/calendar_router.py); with
    Google alone, the Google adapter itself. Graph's and CalDAV's clients are built only when a domain is
    on them."""
    choice = rules.calendar_choice()
    providers: dict[str, CalendarPort] = {}
    if "google" in choice.in_use:
        from maintenance_windows.adapters.google_calendar import GoogleCalendarAdapter

        providers["google"] = GoogleCalendarAdapter.from_settings(current)
    if "microsoft" in choice.in_use:
        from maintenance_windows.adapters.microsoft_graph import GraphCalendarAdapter

        providers["microsoft"] = GraphCalendarAdapter.from_settings(current)
    if "caldav" in choice.in_use:
        from maintenance_windows.adapters.caldav import CalDavCalendarAdapter

        providers["caldav"] = CalDavCalendarAdapter.from_settings(current, rules.caldav_server_for)
    if set(providers) == {"google"}:
        return providers["google"]
    from maintenance_windows.adapters.calendar_router import CalendarRouter

    return CalendarRouter(providers, choice.provider_of)


def os_updates(catalog: FleetCatalogPort | None) -> OsUpdates:
    """Team OS-update settings (from Fleet through `catalog`, else the stored copy) and the release feed."""
    from maintenance_windows.adapters.sofa_feed import SofaFeed
    from maintenance_windows.service.os_updates import OsUpdates

    return OsUpdates(store(), catalog, SofaFeed(settings().os_releases_url))


@functools.cache
def planner() -> tuple[PlanningContext, OidcVerifier, PlanSettings]:
    from maintenance_windows.handlers.plan_windows import PlanSettings

    current = settings()
    verifier = oidc_verifier(
        "plan_windows", current.plan_url, current.scheduler_service_account, needs="MW_PLAN_URL and MW_SCHEDULER_SA"
    )
    plan_settings = PlanSettings(
        time_budget=timedelta(seconds=current.plan_time_budget_seconds), allow_short_lead=current.allow_short_lead
    )
    return planning_context(), verifier, plan_settings


@functools.cache
def plan_hooks() -> tuple[AfterPlanHook, ...]:
    from maintenance_windows.service.channels import ChannelKeeper

    hooks: tuple[AfterPlanHook, ...] = (ChannelKeeper(),)
    if "caldav" in teams().calendar_choice().in_use:
        from maintenance_windows.service.polling import PolledFollower

        # CalDAV cannot push: every planning run also syncs the polled calendars (service/polling.py).
        hooks += (PolledFollower(),)
    alerts = chat_alerts()
    return hooks if alerts is None else (*hooks, alerts)


def chat_alerts() -> AfterPlanHook | None:
    """Chat alerts after each planning run, when a chat webhook is configured (they are optional: the deployed
    secret holds `none` to send none)."""
    current = settings()
    url = current.chat_webhook_url.get_secret_value().strip() if current.chat_webhook_url else ""
    if url.lower() in ("", "none"):
        return None
    from maintenance_windows.adapters.chat_webhook import ChatWebhook
    from maintenance_windows.status.alerts import ChatAlerts

    webhook = ChatWebhook(url)
    return ChatAlerts(
        webhook, current.chat_format, status_url=current.status_url, pause_alert_days=current.chat_pause_alert_days
    )


@functools.cache
def status() -> StatusContext:
    """The status page reads Firestore and checks IAP's signed header; it builds no other client."""
    from maintenance_windows.auth.iap import IAP_KEYS_URL, IapVerifier
    from maintenance_windows.clock import utc_now
    from maintenance_windows.status.app import StatusContext

    current = settings()
    if not current.iap_audience:
        raise ConfigurationError("status_page: MW_IAP_AUDIENCE (the signed header's audience) must be set")
    verifier = IapVerifier(current.iap_audience, keys_url=current.iap_keys_url or IAP_KEYS_URL)
    return StatusContext(store=store(), verifier=verifier, clock=utc_now)


@functools.cache
def notifications() -> PlanningContext:
    """calendar_notifications reschedules with the planner's own booking code, so it shares its context,
    except that team OS-update settings and policy texts come from the planner's stored copies: it holds no
    Fleet token."""
    return dataclasses.replace(planning_context(), os_updates=os_updates(None), catalog=None)


@functools.cache
def dispatcher() -> tuple[DispatchContext, OidcVerifier]:
    from maintenance_windows.adapters.cloud_tasks import CloudTasksQueue
    from maintenance_windows.adapters.fleet_http import FleetHttpClient
    from maintenance_windows.service.dispatch_context import DispatchContext

    current = settings()
    verifier = oidc_verifier(
        "dispatch_window",
        current.dispatch_url,
        current.task_invoker_service_account,
        needs="MW_DISPATCH_URL and MW_TASK_INVOKER_SA",
    )
    fleet = FleetHttpClient.from_settings(current)
    ctx = DispatchContext(
        store=store(),
        fleet=fleet,
        tasks=CloudTasksQueue.from_settings(current),
        teams=teams(),
        os_updates=os_updates(fleet),
        catalog=fleet,
    )
    return ctx, verifier


_WARMERS = {
    "fleet_webhook": webhook,
    "plan_windows": planner,
    "calendar_notifications": notifications,
    "dispatch_window": dispatcher,
    "status_page": status,
}


def warm(target: str | None) -> None:
    """Called at import by main.py so configuration errors stop the instance at cold start."""
    if target in _WARMERS:
        _WARMERS[target]()
