"""Process settings, read once from the environment at cold start (pydantic-settings).

Secrets arrive as environment variables (Secret Manager mounts them in the cloud). They are held as
SecretStr so that no repr, log line or error message can show them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

from maintenance_windows.domain.input_problems import summary


class ConfigurationError(Exception):
    """Raised at cold start; the message names the variable or file and the problem."""


class Settings(BaseSettings):
    # Variable names as written (MW_PROJECT, not mw_project); nothing but the environment is read.
    model_config = SettingsConfigDict(frozen=True, extra="forbid", case_sensitive=True)

    project: str = Field("local-project", alias="MW_PROJECT")
    region: str = Field("europe-west1", alias="MW_REGION")
    firestore_database: str = Field("(default)", alias="MW_FIRESTORE_DATABASE")
    team_config_path: str | None = Field(None, alias="MW_TEAM_CONFIG")

    # fleet_webhook
    # A comma-separated list, not JSON (NoDecode): split below.
    webhook_secrets: Annotated[tuple[SecretStr, ...], NoDecode] = Field((), alias="MW_WEBHOOK_SECRETS")
    max_body_bytes: int = Field(10 * 1024 * 1024, alias="MW_MAX_BODY_BYTES", gt=0)

    # Fleet's REST API
    fleet_url: str | None = Field(None, alias="MW_FLEET_URL")
    fleet_api_token: SecretStr | None = Field(None, alias="MW_FLEET_API_TOKEN")
    #: Where "latest" OS versions come from: the SOFA feed's directory (macos_data_feed.json, ios_data_feed.json).
    os_releases_url: str = Field("https://sofafeed.macadmins.io/v1/", alias="MW_OS_RELEASES_URL")

    # Google Calendar
    calendar_credentials: str = Field("keyless", alias="MW_CALENDAR_CREDENTIALS")
    calendar_service_account: str | None = Field(None, alias="MW_CALENDAR_SERVICE_ACCOUNT")
    calendar_api_endpoint: str | None = Field(None, alias="MW_CALENDAR_API_ENDPOINT")
    calendar_quota_per_minute: int = Field(10_000, alias="MW_CALENDAR_QUOTA_PER_MINUTE", gt=0)
    notifications_url: str | None = Field(None, alias="MW_NOTIFICATIONS_URL")

    # Microsoft 365 (Graph), for the domains the team rules put on `calendar: microsoft`
    graph_credentials: str = Field("keyless", alias="MW_GRAPH_CREDENTIALS", pattern=r"^(keyless|local)$")
    graph_tenant_id: str | None = Field(None, alias="MW_GRAPH_TENANT_ID")
    graph_client_id: str | None = Field(None, alias="MW_GRAPH_CLIENT_ID")
    graph_api_endpoint: str | None = Field(None, alias="MW_GRAPH_API_ENDPOINT")

    # CalDAV: a JSON mapping of service accounts and app passwords (adapters/caldav/credentials.py), from
    # Secret Manager; the servers themselves are in the team rules.
    caldav_credentials: SecretStr | None = Field(None, alias="MW_CALDAV_CREDENTIALS")
    caldav_quota_per_minute: int = Field(6_000, alias="MW_CALDAV_QUOTA_PER_MINUTE", gt=0)

    # Cloud Tasks
    tasks_queue: str | None = Field(None, alias="MW_TASKS_QUEUE")  # projects/P/locations/L/queues/Q
    tasks_emulator_host: str | None = Field(None, alias="MW_TASKS_EMULATOR_HOST")
    dispatch_url: str | None = Field(None, alias="MW_DISPATCH_URL")
    task_invoker_service_account: str | None = Field(None, alias="MW_TASK_INVOKER_SA")
    #: Local stack only: tasks are addressed here (infra/tasks_relay, which adds the OIDC token the emulator
    #: cannot) instead of MW_DISPATCH_URL; the token's audience stays MW_DISPATCH_URL. Refused on Cloud Run.
    tasks_relay_url: str | None = Field(None, alias="MW_LOCAL_TASKS_RELAY_URL")

    # Who may call the private functions (OIDC ID tokens from Cloud Scheduler and Cloud Tasks)
    plan_url: str | None = Field(None, alias="MW_PLAN_URL")
    scheduler_service_account: str | None = Field(None, alias="MW_SCHEDULER_SA")
    oidc_certs_url: str | None = Field(None, alias="MW_OIDC_CERTS_URL")

    # The status page: the audience of Identity-Aware Proxy's signed header, and (locally) its key set
    iap_audience: str | None = Field(None, alias="MW_IAP_AUDIENCE")
    iap_keys_url: str | None = Field(None, alias="MW_LOCAL_IAP_KEYS_URL")
    #: Where the status page is reached (IAP's URL in the cloud); chat alerts link to it.
    status_url: str | None = Field(None, alias="MW_STATUS_URL")

    # Chat alerts (optional): an incoming webhook, and which product's message format it takes
    chat_webhook_url: SecretStr | None = Field(None, alias="MW_CHAT_WEBHOOK_URL")
    chat_format: Literal["slack", "google_chat"] = Field("slack", alias="MW_CHAT_FORMAT")
    #: A team paused for longer than this is alerted (once per pause).
    chat_pause_alert_days: int = Field(3, alias="MW_CHAT_PAUSE_ALERT_DAYS", gt=0)

    # Gemini
    ai_enabled: bool = Field(True, alias="MW_AI_ENABLED")
    gemini_model: str = Field("gemini-3.6-flash", alias="MW_GEMINI_MODEL")
    gemini_location: str = Field("global", alias="MW_GEMINI_LOCATION")
    gemini_base_url: str | None = Field(None, alias="MW_GEMINI_BASE_URL")
    gemini_timeout_seconds: float = Field(10.0, alias="MW_GEMINI_TIMEOUT_SECONDS", gt=0)

    # Planner
    plan_time_budget_seconds: float = Field(480.0, alias="MW_PLAN_TIME_BUDGET_SECONDS", gt=0)
    #: Local and demo use only: lets `mw plan --lead-minutes` book windows minutes ahead.
    allow_short_lead: bool = Field(False, alias="MW_ALLOW_SHORT_LEAD")

    #: Set by Cloud Run to the service's name (docs/configuration.md, "Other variables").
    cloud_run_service: str | None = Field(None, validation_alias="K_SERVICE")

    @property
    def on_cloud_run(self) -> bool:
        return bool(self.cloud_run_service)

    @field_validator("webhook_secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings of this process's environment, or of `environ` (tests pass a dict)."""
        source = _Environment(cls, os.environ if environ is None else environ)
        try:
            settings = cls(_build_sources=((source,), {}))
        except ValidationError as error:
            raise ConfigurationError(f"invalid environment: {summary(error)}") from None
        if settings.tasks_relay_url and settings.on_cloud_run:
            # In the cloud it would send every task, with its token, somewhere other than dispatch_window.
            raise ConfigurationError("MW_LOCAL_TASKS_RELAY_URL is for the local stack only and is refused on Cloud Run")
        return settings


class _Environment(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping rather than os.environ alone."""

    def __init__(self, settings: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)
