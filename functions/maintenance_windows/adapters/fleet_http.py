"""FleetPort over Fleet's REST API (requests, retried by the shared adapters/http_retry.py).

Retry rules, and why:
- Reads (GET) retry 429 and 5xx, and connection/read errors: they change nothing.
- Writes (POST) always retry 429: Fleet rate-limits before the handler runs, so the action was not applied.
  A 5xx on a write may come after the action was applied (e.g. the MDM command was queued and the push
  failed), so retrying could send the fix twice. The dispatcher claims each action before sending it, so
  the choice is the caller's: `retry_writes_on_5xx` (default off). With it off, a 5xx on a write raises
  FleetUnavailable and the caller's own task retry decides. A write is sent again after a connection error
  only if the connection was never made; a read timeout on a write is never retried.
- A Retry-After answer is waited for (up to the policy's cap) instead of the backoff.
- A repeated Apple command (same CommandUUID) or a script already queued answers 409, raised as FleetError
  with status 409, which a caller that retried may read as "already sent".
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import tenacity
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from maintenance_windows.adapters.http_retry import RetryPolicy
from maintenance_windows.config.settings import ConfigurationError, Settings
from maintenance_windows.domain.fleet_hosts import FleetHost, HostPolicy
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.fleet import (
    ActionReceipt,
    AppleOSUpdates,
    DeviceEmail,
    FleetError,
    FleetNotFound,
    FleetPolicy,
    FleetScript,
    FleetTeam,
    FleetUnavailable,
    InstallableSoftware,
    TeamOSUpdates,
    WindowsOSUpdates,
)

_logger = get_logger(__name__)

API_PREFIX = "/api/v1/fleet"
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_PER_PAGE = 500


#: Fleet's default: a few quick attempts; a longer outage is the caller's task queue's to wait out.
FLEET_RETRY = RetryPolicy(max_attempts=5, base_delay_seconds=0.5, max_delay_seconds=8.0, max_retry_after_seconds=10)


@dataclass(frozen=True)
class RetryRule:
    """Which failed attempts of one kind of request are worth sending again."""

    statuses: frozenset[int]
    #: Retry after a connection error even if the request may have reached Fleet (reads only).
    retry_unanswered: bool

    def retries_status(self, status: int) -> bool:
        return status in self.statuses

    def retries_error(self, error: BaseException) -> bool:
        if _never_sent(error):
            return True
        if isinstance(error, requests.exceptions.SSLError | requests.exceptions.ProxyError):
            return False  # a configuration problem, not a passing fault
        return self.retry_unanswered and isinstance(error, requests.ConnectionError | requests.Timeout)


READS = RetryRule(TRANSIENT_STATUSES, retry_unanswered=True)
WRITES = RetryRule(frozenset({429}), retry_unanswered=False)
WRITES_RETRYING_5XX = RetryRule(TRANSIENT_STATUSES, retry_unanswered=False)
#: Fleet retries its calendar webhook on 429 only; a compatible flow expects the same.
WEBHOOKS = RetryRule(frozenset({429}), retry_unanswered=False)


@dataclass
class ClientStats:
    """Counts for benchmarks: logical calls by endpoint, HTTP attempts, retries and failures."""

    calls: Counter[str] = field(default_factory=Counter)
    attempts: int = 0
    retries: int = 0
    failures: Counter[str] = field(default_factory=Counter)

    def snapshot(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "attempts": self.attempts,
            "retries": self.retries,
            "failures": dict(self.failures),
        }


class FleetHttpClient:
    """FleetPort implementation. Thread-safe: sessions are shared, counters are locked."""

    def __init__(
        self,
        base_url: str,
        api_token: str,
        *,
        retry: RetryPolicy = FLEET_RETRY,
        retry_writes_on_5xx: bool = False,
        timeout: tuple[float, float] = (3.05, 20.0),
        per_page: int = DEFAULT_PER_PAGE,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_token:
            raise ConfigurationError("the Fleet API token is empty")
        self._base_url = _normalize_base_url(base_url)
        self._timeout = timeout
        self._per_page = per_page
        self._retry = retry
        self._write_rule = WRITES_RETRYING_5XX if retry_writes_on_5xx else WRITES
        self._sleep = sleep
        self._reads = _session(api_token)
        self._writes = _session(api_token)
        # Its own session so the Fleet token can never travel to a third-party webhook URL.
        self._webhooks = _session(None)
        self._stats = ClientStats()
        self._stats_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> FleetHttpClient:
        if not settings.fleet_url:
            raise ConfigurationError("MW_FLEET_URL is not set")
        if settings.fleet_api_token is None:
            raise ConfigurationError("MW_FLEET_API_TOKEN is not set")
        return cls(settings.fleet_url, settings.fleet_api_token.get_secret_value(), **options)

    # -- reads -------------------------------------------------------------------------------------

    def get_host(self, host_id: int) -> FleetHost:
        body = self._call("GET", f"/hosts/{int(host_id)}", endpoint="GET /hosts/{id}")
        return parse_host(body)

    def device_mapping(self, host_id: int) -> list[DeviceEmail]:
        body = self._call("GET", f"/hosts/{int(host_id)}/device_mapping", endpoint="GET /hosts/{id}/device_mapping")
        return parse_device_mapping(body)

    def failing_host_ids(self, policy_id: int, team_id: int | None = None) -> set[int]:
        params: dict[str, str | int] = {
            "policy_id": int(policy_id),
            "policy_response": "failing",
            "per_page": self._per_page,
            "order_key": "id",
        }
        if team_id is not None:
            params["team_id"] = int(team_id)
        found: set[int] = set()
        page = 0
        while True:
            body = self._call("GET", "/hosts", endpoint="GET /hosts", params={**params, "page": page})
            ids = parse_host_list_ids(body)
            before = len(found)
            found.update(ids)
            # A server that ignores paging would repeat a full page forever; no new id means done.
            if len(ids) < self._per_page or len(found) == before:
                return found
            page += 1

    # -- what Fleet defines (FleetCatalogPort) ------------------------------------------------------

    def list_policies(self, team_id: int | None = None) -> list[FleetPolicy]:
        if team_id is None:
            body = self._call("GET", "/global/policies", endpoint="GET /global/policies")
            return [parse_policy(p) for p in body.get("policies") or ()]
        body = self._call("GET", f"/teams/{int(team_id)}/policies", endpoint="GET /teams/{id}/policies")
        rows = [*(body.get("policies") or ()), *(body.get("inherited_policies") or ())]
        return [parse_policy(p) for p in rows]

    def get_policy(self, policy_id: int, team_id: int | None = None) -> FleetPolicy:
        if team_id is None:
            path, endpoint = f"/global/policies/{int(policy_id)}", "GET /global/policies/{id}"
        else:
            path, endpoint = f"/teams/{int(team_id)}/policies/{int(policy_id)}", "GET /teams/{id}/policies/{id}"
        return parse_policy(self._call("GET", path, endpoint=endpoint).get("policy") or {})

    def list_scripts(self, team_id: int | None = None) -> list[FleetScript]:
        params: dict[str, str | int] = {"per_page": self._per_page}
        if team_id:
            params["team_id"] = int(team_id)
        return [parse_script(s) for s in self._pages("/scripts", "GET /scripts", params, "scripts")]

    def installable_software(self, team_id: int) -> list[InstallableSoftware]:
        params: dict[str, str | int] = {
            "team_id": int(team_id),
            "available_for_install": "true",
            "per_page": self._per_page,
        }
        rows = self._pages("/software/titles", "GET /software/titles", params, "software_titles")
        return [parse_software_title(t) for t in rows]

    def list_teams(self) -> list[FleetTeam]:
        params: dict[str, str | int] = {"per_page": self._per_page}
        return [parse_team(t) for t in self._pages("/teams", "GET /teams", params, "teams")]

    def team_os_updates(self, team_id: int) -> TeamOSUpdates:
        body = self._call("GET", f"/teams/{int(team_id)}", endpoint="GET /teams/{id}")
        return parse_team_os_updates(body)

    def set_team_os_updates(
        self,
        team_id: int,
        *,
        macos: AppleOSUpdates | None = None,
        ios: AppleOSUpdates | None = None,
        ipados: AppleOSUpdates | None = None,
        windows: WindowsOSUpdates | None = None,
    ) -> TeamOSUpdates:
        mdm = team_os_updates_patch(macos=macos, ios=ios, ipados=ipados, windows=windows)
        body = self._call("PATCH", f"/teams/{int(team_id)}", endpoint="PATCH /teams/{id}", json_body={"mdm": mdm})
        return parse_team_os_updates(body)

    def _pages(self, path: str, endpoint: str, params: Mapping[str, str | int], key: str) -> list[Mapping[str, Any]]:
        """The `key` rows of page=0,1,... until meta.has_next_results is false or a page brings nothing."""
        rows: list[Mapping[str, Any]] = []
        page = 0
        while True:
            body = self._call("GET", path, endpoint=endpoint, params={**params, "page": page})
            found = body.get(key) or []
            rows.extend(found)
            if not found or not (body.get("meta") or {}).get("has_next_results"):
                return rows
            page += 1

    # -- actions -----------------------------------------------------------------------------------

    def run_mdm_command(self, command_base64: str, host_uuids: Sequence[str]) -> ActionReceipt:
        if not host_uuids:
            raise ValueError("an MDM command needs at least one host uuid")
        body = self._call(
            "POST",
            "/commands/run",
            endpoint="POST /commands/run",
            json_body={"command": command_base64, "host_uuids": list(host_uuids)},
        )
        return parse_mdm_command_receipt(body)

    def run_script(
        self,
        host_id: int,
        *,
        script_id: int | None = None,
        script_name: str | None = None,
        team_id: int | None = None,
    ) -> ActionReceipt:
        payload = script_run_payload(host_id, script_id=script_id, script_name=script_name, team_id=team_id)
        body = self._call("POST", "/scripts/run", endpoint="POST /scripts/run", json_body=payload)
        return parse_script_receipt(body)

    def install_software(self, host_id: int, software_title_id: int) -> ActionReceipt:
        body = self._call(
            "POST",
            f"/hosts/{int(host_id)}/software/{int(software_title_id)}/install",
            endpoint="POST /hosts/{id}/software/{title_id}/install",
        )
        # Fleet answers 202 with an empty body: the install is found later through the host's activity.
        return ActionReceipt(kind="software_install", reference=None, raw=body)

    def refetch(self, host_id: int) -> None:
        self._call("POST", f"/hosts/{int(host_id)}/refetch", endpoint="POST /hosts/{id}/refetch")

    def post_calendar_webhook(self, url: str, payload: Mapping[str, Any]) -> None:
        target = urlsplit(url)
        if target.scheme not in ("http", "https") or not target.hostname:
            raise FleetError("the calendar webhook URL must be http(s)")
        # The URL may carry credentials (Fleet's only way to authenticate a webhook): log the host only.
        endpoint = f"POST webhook {target.hostname}"
        response = self._send(self._webhooks, WEBHOOKS, "POST", url, endpoint, json_body=dict(payload))
        if not response.ok:
            raise self._error_for(response, endpoint)

    # -- plumbing ----------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        with self._stats_lock:
            return self._stats.snapshot()

    def close(self) -> None:
        for session in (self._reads, self._writes, self._webhooks):
            session.close()

    def _call(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        params: Mapping[str, str | int] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        session, rule = (self._reads, READS) if method == "GET" else (self._writes, self._write_rule)
        url = f"{self._base_url}{API_PREFIX}{path}"
        response = self._send(session, rule, method, url, endpoint, params=params, json_body=json_body)
        if not response.ok:
            raise self._error_for(response, endpoint)
        return _json_object(response, endpoint)

    def _send(
        self,
        session: requests.Session,
        rule: RetryRule,
        method: str,
        url: str,
        endpoint: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> requests.Response:
        attempts = 0

        def attempt() -> requests.Response:
            nonlocal attempts
            attempts += 1
            return session.request(method, url, params=params, json=json_body, timeout=self._timeout)

        retrying = self._retry.retrying(
            tenacity.retry_if_exception(rule.retries_error)
            | tenacity.retry_if_result(lambda response: rule.retries_status(response.status_code)),
            sleep=self._sleep,
            retry_after=_retry_after,
        )
        try:
            response: requests.Response = retrying(attempt)
        except requests.RequestException as error:
            self._count(endpoint, retries=attempts - 1, failed=True)
            _logger.warning("Fleet call failed", endpoint=endpoint, error=type(error).__name__)
            unsure = " (it may have been applied)" if method == "POST" else ""
            raise FleetUnavailable(f"{endpoint}: {type(error).__name__}{unsure}") from error
        retries = attempts - 1
        self._count(endpoint, retries=retries, failed=not response.ok)
        if retries:
            _logger.info("Fleet call retried", endpoint=endpoint, retries=retries)
        return response

    def _count(self, endpoint: str, *, retries: int, failed: bool) -> None:
        with self._stats_lock:
            self._stats.calls[endpoint] += 1
            self._stats.attempts += 1 + retries
            self._stats.retries += retries
            if failed:
                self._stats.failures[endpoint] += 1

    @staticmethod
    def _error_for(response: requests.Response, endpoint: str) -> FleetError:
        status = response.status_code
        detail = fleet_error_message(response.content)
        message = f"Fleet answered {status} to {endpoint}" + (f": {detail}" if detail else "")
        # A 404 is routine (a host deleted since Fleet reported it); the caller decides if it matters.
        severity = logging.INFO if status == 404 else logging.WARNING
        _logger.log(severity, "Fleet call answered an error", endpoint=endpoint, status=status)
        if status == 404:
            return FleetNotFound(message, status=status)
        if status in TRANSIENT_STATUSES or status >= 500:
            return FleetUnavailable(message, status=status)
        return FleetError(message, status=status)


# -- parsing (pure; tested against Fleet's documented payloads) -----------------------------------------


def parse_host(body: Mapping[str, Any]) -> FleetHost:
    """GET /hosts/:id → FleetHost. Reads only the fields we use, so new or odd fields never break it."""
    try:
        host = body["host"]
        policies = tuple(_parse_policy(p) for p in host.get("policies") or ())
        return FleetHost(
            host_id=int(host["id"]),
            uuid=str(host.get("uuid") or ""),
            hardware_serial=str(host.get("hardware_serial") or ""),
            platform=str(host.get("platform") or ""),
            team_id=None if host.get("team_id") is None else int(host["team_id"]),
            display_name=_display_name(host),
            policies=policies,
            os_version=str(host.get("os_version") or ""),
            status=str(host.get("status") or ""),
            refetch_requested=bool(host.get("refetch_requested")),
            policy_updated_at=_optional_time(host.get("policy_updated_at")),
            labels=tuple(str(label["name"]) for label in host.get("labels") or () if label.get("name")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise FleetError(f"unexpected host payload from Fleet: {error!r}") from error


def parse_device_mapping(body: Mapping[str, Any]) -> list[DeviceEmail]:
    """GET /hosts/:id/device_mapping; Fleet encodes "no mapping" as null."""
    try:
        rows = body.get("device_mapping") or ()
        return [DeviceEmail(email=str(row["email"]), source=str(row.get("source") or "")) for row in rows]
    except (KeyError, TypeError, AttributeError) as error:
        raise FleetError(f"unexpected device_mapping payload from Fleet: {error!r}") from error


def parse_host_list_ids(body: Mapping[str, Any]) -> list[int]:
    try:
        return [int(host["id"]) for host in body.get("hosts") or ()]
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise FleetError(f"unexpected host list payload from Fleet: {error!r}") from error


def parse_mdm_command_receipt(body: Mapping[str, Any]) -> ActionReceipt:
    """POST /commands/run → {"command_uuid", "request_type"}."""
    return ActionReceipt(kind="mdm_command", reference=_optional_str(body.get("command_uuid")), raw=dict(body))


def parse_script_receipt(body: Mapping[str, Any]) -> ActionReceipt:
    """POST /scripts/run (202) → {"host_id", "execution_id"}."""
    return ActionReceipt(kind="script", reference=_optional_str(body.get("execution_id")), raw=dict(body))


def script_run_payload(
    host_id: int, *, script_id: int | None, script_name: str | None, team_id: int | None
) -> dict[str, Any]:
    """Fleet refuses script_id with team_id (422): the team only qualifies a script name."""
    if (script_id is None) == (script_name is None):
        raise ValueError("give exactly one of script_id and script_name")
    if script_id is not None:
        return {"host_id": int(host_id), "script_id": int(script_id)}
    payload: dict[str, Any] = {"host_id": int(host_id), "script_name": script_name}
    if team_id:  # Fleet reads team_id 0 or absent as "no team".
        payload["team_id"] = int(team_id)
    return payload


def parse_policy(policy: Mapping[str, Any]) -> FleetPolicy:
    try:
        return FleetPolicy(
            policy_id=int(policy["id"]),
            name=str(policy.get("name") or ""),
            team_id=None if policy.get("team_id") is None else int(policy["team_id"]),
            description=str(policy.get("description") or ""),
            resolution=str(policy.get("resolution") or ""),
            critical=bool(policy.get("critical")),
            platform=str(policy.get("platform") or ""),
            calendar_events_enabled=bool(policy.get("calendar_events_enabled")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise FleetError(f"unexpected policy payload from Fleet: {error!r}") from error


def parse_script(script: Mapping[str, Any]) -> FleetScript:
    try:
        team = script.get("team_id")
        return FleetScript(int(script["id"]), str(script.get("name") or ""), None if team is None else int(team))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise FleetError(f"unexpected script payload from Fleet: {error!r}") from error


def parse_team(team: Mapping[str, Any]) -> FleetTeam:
    try:
        return FleetTeam(int(team["id"]), str(team.get("name") or ""))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise FleetError(f"unexpected team payload from Fleet: {error!r}") from error


def parse_software_title(title: Mapping[str, Any]) -> InstallableSoftware:
    try:
        package, store_app = title.get("software_package"), title.get("app_store_app")
        installer = package or store_app or {}
        return InstallableSoftware(
            title_id=int(title["id"]),
            name=str(title.get("name") or ""),
            version=str(installer.get("version") or ""),
            app_store_app=bool(store_app) and not package,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise FleetError(f"unexpected software title payload from Fleet: {error!r}") from error


def parse_team_os_updates(body: Mapping[str, Any]) -> TeamOSUpdates:
    """GET or PATCH /teams/:id → the team's mdm.*_updates settings."""
    try:
        team = body["team"]
        mdm = team.get("mdm") or {}
        windows = mdm.get("windows_updates") or {}
        return TeamOSUpdates(
            team_id=int(team["id"]),
            macos=_apple_updates(mdm.get("macos_updates")),
            ios=_apple_updates(mdm.get("ios_updates")),
            ipados=_apple_updates(mdm.get("ipados_updates")),
            windows=WindowsOSUpdates(
                _optional_int(windows.get("deadline_days")), _optional_int(windows.get("grace_period_days"))
            ),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise FleetError(f"unexpected team payload from Fleet: {error!r}") from error


def team_os_updates_patch(
    *,
    macos: AppleOSUpdates | None = None,
    ios: AppleOSUpdates | None = None,
    ipados: AppleOSUpdates | None = None,
    windows: WindowsOSUpdates | None = None,
) -> dict[str, Any]:
    """The "mdm" object of PATCH /teams/:id (ee/server/service/teams.go ModifyTeam); unsent settings are kept."""
    mdm: dict[str, Any] = {}
    for key, apple in (("macos_updates", macos), ("ios_updates", ios), ("ipados_updates", ipados)):
        if apple is not None:
            mdm[key] = {"minimum_version": apple.minimum_version, "deadline": apple.deadline}
    if windows is not None:
        mdm["windows_updates"] = {
            "deadline_days": windows.deadline_days,
            "grace_period_days": windows.grace_period_days,
        }
    if not mdm:
        raise ValueError("give at least one OS-update setting")
    return mdm


def _apple_updates(value: object) -> AppleOSUpdates:
    if not isinstance(value, Mapping):
        return AppleOSUpdates()
    return AppleOSUpdates(str(value.get("minimum_version") or ""), str(value.get("deadline") or ""))


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number, not {value!r}")
    return value


def fleet_error_message(content: bytes) -> str:
    """Fleet's error body {"message", "errors": [{"name", "reason"}]} as one line; "" if not JSON."""
    try:
        body = json.loads(content)
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts = [str(body.get("message") or "")]
    for error in body.get("errors") or ():
        if isinstance(error, dict) and error.get("reason"):
            name = error.get("name")
            parts.append(f"{name}: {error['reason']}" if name and name != "base" else str(error["reason"]))
    return "; ".join(dict.fromkeys(p for p in parts if p))[:500]


def _parse_policy(policy: Mapping[str, Any]) -> HostPolicy:
    return HostPolicy(
        policy_id=int(policy["id"]),
        name=str(policy.get("name") or ""),
        response=str(policy.get("response") or ""),
    )


def _display_name(host: Mapping[str, Any]) -> str:
    for key in ("display_name", "computer_name", "hostname"):
        if host.get(key):
            return str(host[key])
    return ""


def _optional_time(value: object) -> datetime | None:
    """Fleet's RFC 3339 times ("2026-03-02T10:00:00Z"); null or "" is None."""
    if value is None or value == "":
        return None
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _optional_str(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _json_object(response: requests.Response, endpoint: str) -> dict[str, Any]:
    if not response.content.strip():
        return {}
    try:
        # From bytes: json detects UTF-8 itself, so non-ASCII text (e.g. U+2212 in dates) reads correctly.
        body = json.loads(response.content)
    except ValueError as error:
        raise FleetError(f"{endpoint}: Fleet answered non-JSON", status=response.status_code) from error
    if not isinstance(body, dict):
        raise FleetError(f"{endpoint}: Fleet answered a JSON {type(body).__name__}", status=response.status_code)
    return body


def _never_sent(error: BaseException) -> bool:
    """The connection was never made, so Fleet cannot have acted on the request."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    if not isinstance(error, requests.ConnectionError) or not error.args:
        return False
    reason = getattr(error.args[0], "reason", None)  # requests wraps urllib3's MaxRetryError
    return isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError)


def _retry_after(state: tenacity.RetryCallState) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), if the failed answer had one."""
    if state.outcome is None or state.outcome.failed:
        return None
    value = state.outcome.result().headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return (when - datetime.now(UTC)).total_seconds() if when.tzinfo else None


def _session(api_token: str | None) -> requests.Session:
    session = requests.Session()
    # With trust_env, a ~/.netrc entry for the host would replace our Authorization header.
    session.trust_env = False
    # No retries down in urllib3: every retry goes through the one policy above, which knows the method.
    adapter = HTTPAdapter(max_retries=0, pool_connections=4, pool_maxsize=16)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["Accept"] = "application/json"
    session.headers["User-Agent"] = "maintenance-windows/0.1"
    if api_token is not None:
        session.headers["Authorization"] = f"Bearer {api_token}"
    return session


def _normalize_base_url(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError("MW_FLEET_URL must be an http(s) URL such as https://fleet.example.com")
    path = parts.path.rstrip("/")
    for suffix in ("/api/v1/fleet", "/api/latest/fleet"):
        path = path.removesuffix(suffix)
    return f"{parts.scheme}://{parts.netloc}{path}"
