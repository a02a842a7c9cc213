"""One CalendarPort in front of several providers: each person's calls go to their provider's adapter.

The service layer keeps talking to one port; this router splits every batch by provider (the team rules'
choice, config/teams.py → domain/calendar_providers.py), asks each provider for its own people, and puts
the answers back in the caller's order. A provider that fails as a whole (an outage, a broken deployment)
fails for its own people only: their entries carry the error, everybody else is answered. Single-person
calls go straight to that person's provider and raise what it raises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from maintenance_windows.observability import get_logger
from maintenance_windows.ports.calendar import (
    AwayResult,
    BusyResult,
    CalendarError,
    CalendarEvent,
    CalendarPort,
    ChangeSet,
    Channel,
    EventSpec,
    InsertResult,
    WatchRequest,
)

_logger = get_logger(__name__)
Item = TypeVar("Item")
Answer = TypeVar("Answer")


class CalendarRouter:
    def __init__(self, providers: Mapping[str, CalendarPort], provider_of: Callable[[str], str]) -> None:
        self._providers = dict(providers)
        self._provider_of = provider_of

    def for_user(self, email: str) -> CalendarPort:
        name = self._provider_of(email)
        provider = self._providers.get(name)
        if provider is None:
            raise CalendarError(f"no calendar provider {name!r} is configured for {email}", reason="no_provider")
        return provider

    # ---- batches ----------------------------------------------------------------------------------------

    def time_zones(self, emails: Sequence[str]) -> dict[str, str | CalendarError]:
        answers: dict[str, str | CalendarError] = {}
        for name, group in self._groups(emails).items():
            try:
                answers.update(self._providers[name].time_zones(group))
            except CalendarError as failed:
                answers.update(dict.fromkeys(group, self._isolated(name, "time_zones", failed)))
        return {email: answers[email] for email in dict.fromkeys(emails)}

    def busy(self, emails: Sequence[str], time_min: datetime, time_max: datetime) -> dict[str, BusyResult]:
        answers: dict[str, BusyResult] = {}
        for name, group in self._groups(emails).items():
            try:
                answers.update(self._providers[name].busy(group, time_min, time_max))
            except CalendarError as failed:
                reason = self._isolated(name, "busy", failed).reason or "unavailable"
                answers.update(dict.fromkeys(group, BusyResult(error=reason)))
        return {email: answers[email] for email in emails if email in answers}

    def out_of_office(self, emails: Sequence[str], time_min: datetime, time_max: datetime) -> dict[str, AwayResult]:
        answers: dict[str, AwayResult] = {}
        for name, group in self._groups(emails).items():
            try:
                answers.update(self._providers[name].out_of_office(group, time_min, time_max))
            except CalendarError as failed:
                reason = self._isolated(name, "out_of_office", failed).reason or "unavailable"
                answers.update(dict.fromkeys(group, AwayResult(error=reason)))
        return {email: answers[email] for email in dict.fromkeys(emails) if email in answers}

    def insert_events(self, specs: Sequence[EventSpec]) -> list[InsertResult]:
        def failed(spec: EventSpec, problem: CalendarError) -> InsertResult:
            return InsertResult(spec.event_id, created=False, error=problem.reason or "unavailable")

        return self._in_order(
            specs,
            lambda spec: spec.user_email,
            "insert_events",
            lambda provider, part: provider.insert_events(part),
            failed,
        )

    def watch_many(self, requests: Sequence[WatchRequest]) -> list[Channel | CalendarError]:
        return self._in_order(
            requests,
            lambda request: request.user_email,
            "watch_many",
            lambda provider, part: provider.watch_many(part),
            lambda _, problem: problem,
        )

    def sync_tokens(self, emails: Sequence[str]) -> dict[str, str | CalendarError]:
        answers: dict[str, str | CalendarError] = {}
        for name, group in self._groups(emails).items():
            try:
                answers.update(self._providers[name].sync_tokens(group))
            except CalendarError as failed:
                answers.update(dict.fromkeys(group, self._isolated(name, "sync_tokens", failed)))
        return {email: answers[email] for email in dict.fromkeys(emails)}

    # ---- one person -------------------------------------------------------------------------------------

    def patch_event(
        self,
        user_email: str,
        event_id: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        time_zone: str | None = None,
        summary: str | None = None,
        description_html: str | None = None,
        private_properties: Mapping[str, str] | None = None,
    ) -> CalendarEvent:
        return self.for_user(user_email).patch_event(
            user_email,
            event_id,
            start=start,
            end=end,
            time_zone=time_zone,
            summary=summary,
            description_html=description_html,
            private_properties=private_properties,
        )

    def delete_event(self, user_email: str, event_id: str) -> bool:
        return self.for_user(user_email).delete_event(user_email, event_id)

    def get_event(self, user_email: str, event_id: str) -> CalendarEvent | None:
        return self.for_user(user_email).get_event(user_email, event_id)

    def list_changes(self, user_email: str, sync_token: str | None) -> ChangeSet:
        return self.for_user(user_email).list_changes(user_email, sync_token)

    def recent_events(self, user_email: str, time_min: datetime, time_max: datetime) -> list[CalendarEvent]:
        return self.for_user(user_email).recent_events(user_email, time_min, time_max)

    def watch(self, user_email: str, channel_id: str, token: str, address: str, ttl_seconds: int) -> Channel:
        return self.for_user(user_email).watch(user_email, channel_id, token, address, ttl_seconds)

    def stop_channel(self, user_email: str, channel_id: str, resource_id: str) -> None:
        self.for_user(user_email).stop_channel(user_email, channel_id, resource_id)

    # ---- internals --------------------------------------------------------------------------------------

    def _groups(self, emails: Sequence[str]) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for email in dict.fromkeys(emails):
            groups.setdefault(self._provider_of(email), []).append(email)
        missing = [name for name in groups if name not in self._providers]
        for name in missing:
            _logger.error("no adapter for calendar provider", event="calendar_provider_missing", provider=name)
            # Unreachable when wiring builds every provider the rules name; kept loud rather than silent.
            raise CalendarError(f"no calendar provider {name!r} is configured", reason="no_provider")
        return groups

    def _in_order(
        self,
        items: Sequence[Item],
        email_of: Callable[[Item], str],
        method: str,
        call: Callable[[CalendarPort, list[Item]], Sequence[Answer]],
        failed: Callable[[Item, CalendarError], Answer],
    ) -> list[Answer]:
        positions: dict[str, list[int]] = {}
        for index, item in enumerate(items):
            positions.setdefault(self._provider_of(email_of(item)), []).append(index)
        answers: dict[int, Answer] = {}
        for name, indexes in positions.items():
            part = [items[index] for index in indexes]
            provider = self._providers.get(name)
            if provider is None:
                raise CalendarError(f"no calendar provider {name!r} is configured", reason="no_provider")
            try:
                got = list(call(provider, part))
            except CalendarError as problem:
                isolated = self._isolated(name, method, problem)
                got = [failed(item, isolated) for item in part]
            answers.update(zip(indexes, got, strict=True))
        return [answers[index] for index in range(len(items))]

    def _isolated(self, name: str, method: str, problem: CalendarError) -> CalendarError:
        # Only this provider's people are affected; a single-provider deployment sees no difference.
        if len(self._providers) == 1:
            raise problem
        _logger.warning(
            "calendar provider failed; only its people wait",
            event="calendar_provider_failed",
            provider=name,
            method=method,
            error=str(problem),
        )
        return problem
