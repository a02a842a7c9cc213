"""Cloud Scheduler, locally: POST to plan_windows on a fixed cadence with a freshly minted OIDC token.

    python -m infra.scheduler --url PLAN_URL --issuer ISSUER_URL --audience AUD --email SCHEDULER_SA \
        --interval-seconds N

Like the real service it sends `Authorization: Bearer <ID token>` and the X-CloudScheduler headers, keeps
going after failed calls, and does not catch up on slots missed while a call overran.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import requests

from infra.serving import stop_signal
from maintenance_windows.observability import configure_logging, get_logger

JOB_NAME = "local-plan-windows"
_MINT_PATH = "/_mint"

_logger = get_logger("infra.scheduler")


def call_once(
    url: str,
    issuer_url: str,
    audience: str,
    email: str,
    timeout: float,
    *,
    payload: Mapping[str, Any] | None = None,
    session: requests.Session | None = None,
) -> requests.Response:
    """Mint a token for `email` at the local issuer and POST `payload` (default {}) to `url` with it.

    Raises requests.RequestException when either call fails to complete, or when minting is refused;
    the target's answer, whatever its status, is returned.
    """
    if session is None:
        with requests.Session() as own_session:
            return call_once(url, issuer_url, audience, email, timeout, payload=payload, session=own_session)
    token = _mint(session, issuer_url, audience, email, timeout)
    return session.post(
        url,
        json=dict(payload or {}),
        headers={
            "Authorization": f"Bearer {token}",
            "User-Agent": "Google-Cloud-Scheduler",
            "X-CloudScheduler": "true",
            "X-CloudScheduler-JobName": JOB_NAME,
        },
        timeout=timeout,
    )


def run(
    url: str,
    issuer_url: str,
    audience: str,
    email: str,
    *,
    interval_seconds: float,
    timeout: float,
    stop: threading.Event,
    payload: Mapping[str, Any] | None = None,
) -> int:
    """Call every `interval_seconds` until `stop` is set; returns how many calls were attempted."""
    session = requests.Session()
    attempts = 0
    next_slot = time.monotonic()
    while not stop.is_set():
        attempts += 1
        _call_and_log(session, url, issuer_url, audience, email, timeout, payload)
        next_slot = _next_slot(next_slot, interval_seconds, time.monotonic())
        stop.wait(max(0.0, next_slot - time.monotonic()))
    return attempts


def _call_and_log(
    session: requests.Session,
    url: str,
    issuer_url: str,
    audience: str,
    email: str,
    timeout: float,
    payload: Mapping[str, Any] | None = None,
) -> None:
    started = time.monotonic()
    try:
        response = call_once(url, issuer_url, audience, email, timeout, payload=payload, session=session)
    except requests.RequestException as error:
        # The scheduler outlives its target: a stack still starting, or a function mid-restart.
        _logger.error("scheduled call failed", url=url, error=type(error).__name__)
        return
    elapsed_ms = round((time.monotonic() - started) * 1000)
    severity = logging.INFO if response.ok else logging.WARNING
    _logger.log(severity, "scheduled call", url=url, status=response.status_code, elapsed_ms=elapsed_ms)


def _next_slot(previous_slot: float, interval_seconds: float, now: float) -> float:
    """The first slot on the cadence after `now`: slots missed while a call overran are skipped."""
    slot = previous_slot + interval_seconds
    if slot <= now:
        missed = int((now - slot) // interval_seconds) + 1
        slot += missed * interval_seconds
    return slot


def _mint(session: requests.Session, issuer_url: str, audience: str, email: str, timeout: float) -> str:
    response = session.post(
        issuer_url.rstrip("/") + _MINT_PATH, json={"audience": audience, "email": email}, timeout=timeout
    )
    response.raise_for_status()
    body = response.json()
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise requests.RequestException("the issuer answered without a token")
    return token


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    configure_logging()
    stop = stop_signal()
    _logger.info("scheduler started", url=args.url, interval_seconds=args.interval_seconds)
    attempts = run(
        args.url,
        args.issuer,
        args.audience,
        args.email,
        interval_seconds=args.interval_seconds,
        timeout=args.timeout,
        stop=stop,
        payload=json.loads(args.payload),
    )
    _logger.info("scheduler stopped", attempts=attempts)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.scheduler", description="Local Cloud Scheduler.")
    parser.add_argument("--url", required=True, help="plan_windows URL")
    parser.add_argument("--issuer", required=True, help="local OIDC issuer base URL")
    parser.add_argument("--audience", required=True, help="the token's aud (plan_windows URL in the cloud)")
    parser.add_argument("--email", required=True, help="the scheduler's service account")
    parser.add_argument("--interval-seconds", type=_positive_float, required=True)
    # The second job of a deployment with CalDAV people: {"follow_only": true} on a shorter cadence.
    parser.add_argument("--payload", default="{}", help="JSON body of every call (default {})")
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=600.0,
        help="seconds per call (plan_windows may take minutes)",
    )
    return parser.parse_args(argv)


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


if __name__ == "__main__":
    main()
