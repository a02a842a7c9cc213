"""Read-only wrappers of the ports, for `mw plan --dry-run`: the real planner runs unchanged against the real
store, calendars and Fleet, and nothing it would write leaves the process.

- OverlayStore reads through to the real store and keeps every write in memory, so the run sees its own
  work (windows it opened are there to book) while the real store is never written;
- RecordingCalendar reads (time zones, free/busy, out of office) and records inserts, patches and deletes;
- RecordingFleet reads hosts, mappings and policies and records every action or settings change;
- RecordingTasks records the tasks it would create.

What each recorded, in order, is the dry run's evidence that it would have written, and nothing more.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from maintenance_windows.adapters.memory_store import MemoryStore
from maintenance_windows.domain.fleet_hosts import FleetHost
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
from maintenance_windows.ports.fleet import (
    ActionReceipt,
    AppleOSUpdates,
    DeviceEmail,
    FleetCatalogPort,
    FleetPolicy,
    FleetPort,
    FleetScript,
    FleetTeam,
    InstallableSoftware,
    TeamOSUpdates,
    WindowsOSUpdates,
)
from maintenance_windows.ports.store import Document, DocumentStore, Filter, StoreStats, Write

DRY_RUN_ETAG = "dry-run"


class RehearsalRefused(CalendarError):
    """A call a dry run must not make and cannot stand in for (opening a push channel)."""


@dataclass(frozen=True)
class Recorded:
    target: str  # store | calendar | fleet | tasks
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


class Recorder:
    def __init__(self) -> None:
        self.writes: list[Recorded] = []

    def record(self, target: str, kind: str, **detail: Any) -> None:
        self.writes.append(Recorded(target, kind, detail))

    def count(self, target: str, kind: str | None = None) -> int:
        return sum(1 for w in self.writes if w.target == target and (kind is None or w.kind == kind))


class OverlayStore:
    """The real store underneath, this run's writes on top (a deleted document is hidden, not removed)."""

    def __init__(self, base: DocumentStore, recorder: Recorder) -> None:
        self._base = base
        self._overlay = MemoryStore()
        self._deleted: set[tuple[str, str]] = set()
        self._recorder = recorder
        self.stats: StoreStats = base.stats

    def _local(self, collection: str, doc_id: str) -> Document | None:
        return self._overlay.get(collection, doc_id)

    def get(self, collection: str, doc_id: str) -> Document | None:
        if (collection, doc_id) in self._deleted:
            return None
        local = self._local(collection, doc_id)
        return local if local is not None else self._base.get(collection, doc_id)

    def get_many(self, collection: str, doc_ids: Sequence[str]) -> dict[str, Document]:
        local = self._overlay.get_many(collection, doc_ids)
        rest = [d for d in doc_ids if d not in local and (collection, d) not in self._deleted]
        return {**self._base.get_many(collection, rest), **local}

    def create(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> bool:
        if self.get(collection, doc_id) is not None:
            return False
        self._put(Write("set", collection, doc_id, dict(data)))
        return True

    def update(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> bool:
        current = self.get(collection, doc_id)
        if current is None:
            return False
        self._put(Write("set", collection, doc_id, {**current, **copy.deepcopy(dict(data))}), kind="update")
        return True

    def commit(self, writes: Sequence[Write]) -> None:
        for write in writes:
            if write.kind == "merge" and self._local(write.collection, write.doc_id) is None:
                base = (
                    None
                    if (write.collection, write.doc_id) in self._deleted
                    else self._base.get(write.collection, write.doc_id)
                )
                if base is not None:  # bring the real document up, then merge onto the copy
                    self._overlay.commit([Write("set", write.collection, write.doc_id, base)])
            self._put(write)

    def _put(self, write: Write, kind: str | None = None) -> None:
        self._recorder.record("store", kind or write.kind, collection=write.collection, doc_id=write.doc_id)
        key = (write.collection, write.doc_id)
        if write.kind == "delete":
            self._deleted.add(key)
        else:
            self._deleted.discard(key)
        self._overlay.commit([write])

    def query(
        self,
        collection: str,
        filters: Sequence[Filter] = (),
        *,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> list[tuple[str, Document]]:
        mine = dict(self._overlay.query(collection, filters))
        touched = {doc_id for doc_id, _ in self._overlay.query(collection)}
        merged = {
            doc_id: document
            for doc_id, document in self._base.query(collection, filters)
            if doc_id not in touched and (collection, doc_id) not in self._deleted
        }
        merged.update({doc_id: doc for doc_id, doc in mine.items() if (collection, doc_id) not in self._deleted})
        rows = sorted(merged.items())
        if order_by:
            rows = sorted((r for r in rows if order_by in r[1]), key=lambda row: row[1][order_by])
        return rows[:limit] if limit is not None else rows

    def original(self, collection: str, doc_id: str) -> Document | None:
        """The document as the real store holds it (this run's writes left out)."""
        return self._base.get(collection, doc_id)

    def written(self, collection: str) -> dict[str, Document]:
        """This run's version of every document it wrote in the collection."""
        return {
            doc_id: doc for doc_id, doc in self._overlay.query(collection) if (collection, doc_id) not in self._deleted
        }


class RecordingCalendar:
    def __init__(self, base: CalendarPort, recorder: Recorder) -> None:
        self._base = base
        self._recorder = recorder

    def time_zones(self, emails: Sequence[str]) -> Mapping[str, str | CalendarError]:
        return self._base.time_zones(emails)

    def busy(self, emails: Sequence[str], time_min: datetime, time_max: datetime) -> dict[str, BusyResult]:
        return self._base.busy(emails, time_min, time_max)

    def out_of_office(self, emails: Sequence[str], time_min: datetime, time_max: datetime) -> dict[str, AwayResult]:
        return self._base.out_of_office(emails, time_min, time_max)

    def recent_events(self, user_email: str, time_min: datetime, time_max: datetime) -> list[CalendarEvent]:
        return self._base.recent_events(user_email, time_min, time_max)

    def get_event(self, user_email: str, event_id: str) -> CalendarEvent | None:
        return self._base.get_event(user_email, event_id)

    def list_changes(self, user_email: str, sync_token: str | None) -> ChangeSet:
        return self._base.list_changes(user_email, sync_token)

    def sync_tokens(self, emails: Sequence[str]) -> dict[str, str | CalendarError]:
        return self._base.sync_tokens(emails)

    def insert_events(self, specs: Sequence[EventSpec]) -> list[InsertResult]:
        for spec in specs:
            self._recorder.record(
                "calendar", "insert", user=spec.user_email, event_id=spec.event_id, start=spec.start.isoformat()
            )
        return [InsertResult(spec.event_id, created=True, etag=DRY_RUN_ETAG) for spec in specs]

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
        self._recorder.record(
            "calendar",
            "patch",
            user=user_email,
            event_id=event_id,
            start=start.isoformat() if start else None,
            time_zone=time_zone,
            text_changed=description_html is not None,
        )
        return CalendarEvent(
            event_id,
            "confirmed",
            start,
            end,
            False,
            DRY_RUN_ETAG,
            None,
            dict(private_properties or {}),
            summary=summary or "",
        )

    def delete_event(self, user_email: str, event_id: str) -> bool:
        self._recorder.record("calendar", "delete", user=user_email, event_id=event_id)
        return True

    def watch(self, user_email: str, channel_id: str, token: str, address: str, ttl_seconds: int) -> Channel:  # noqa: ARG002  # the port's signature; nothing is opened
        raise RehearsalRefused(f"a dry run opens no push channel (for {user_email})")

    def watch_many(self, requests: Sequence[WatchRequest]) -> list[Channel | CalendarError]:
        return [RehearsalRefused("a dry run opens no push channel") for _ in requests]

    def stop_channel(self, user_email: str, channel_id: str, resource_id: str) -> None:
        self._recorder.record(
            "calendar", "stop_channel", user=user_email, channel_id=channel_id, resource_id=resource_id
        )


class RecordingFleet:
    """FleetPort and FleetCatalogPort: reads go to Fleet, actions and settings changes are recorded."""

    def __init__(self, base: Any, recorder: Recorder) -> None:
        self._fleet: FleetPort = base
        self._catalog: FleetCatalogPort = base
        self._recorder = recorder

    def get_host(self, host_id: int) -> FleetHost:
        return self._fleet.get_host(host_id)

    def device_mapping(self, host_id: int) -> list[DeviceEmail]:
        return self._fleet.device_mapping(host_id)

    def failing_host_ids(self, policy_id: int, team_id: int | None = None) -> set[int]:
        return self._fleet.failing_host_ids(policy_id, team_id)

    def list_policies(self, team_id: int | None = None) -> list[FleetPolicy]:
        return self._catalog.list_policies(team_id)

    def get_policy(self, policy_id: int, team_id: int | None = None) -> FleetPolicy:
        return self._catalog.get_policy(policy_id, team_id)

    def list_scripts(self, team_id: int | None = None) -> list[FleetScript]:
        return self._catalog.list_scripts(team_id)

    def installable_software(self, team_id: int) -> list[InstallableSoftware]:
        return self._catalog.installable_software(team_id)

    def list_teams(self) -> list[FleetTeam]:
        return self._catalog.list_teams()

    def team_os_updates(self, team_id: int) -> TeamOSUpdates:
        return self._catalog.team_os_updates(team_id)

    def set_team_os_updates(
        self,
        team_id: int,
        *,
        macos: AppleOSUpdates | None = None,
        ios: AppleOSUpdates | None = None,
        ipados: AppleOSUpdates | None = None,
        windows: WindowsOSUpdates | None = None,
    ) -> TeamOSUpdates:
        self._recorder.record("fleet", "set_team_os_updates", team_id=team_id)
        current = self._catalog.team_os_updates(team_id)
        return replace(
            current,
            macos=macos or current.macos,
            ios=ios or current.ios,
            ipados=ipados or current.ipados,
            windows=windows or current.windows,
        )

    def run_mdm_command(self, command_base64: str, host_uuids: Sequence[str]) -> ActionReceipt:
        self._recorder.record("fleet", "run_mdm_command", hosts=list(host_uuids), bytes=len(command_base64))
        return ActionReceipt("mdm_command", None)

    def run_script(
        self,
        host_id: int,
        *,
        script_id: int | None = None,
        script_name: str | None = None,
        team_id: int | None = None,
    ) -> ActionReceipt:
        self._recorder.record("fleet", "run_script", host_id=host_id, script=script_id or script_name, team_id=team_id)
        return ActionReceipt("script", None)

    def install_software(self, host_id: int, software_title_id: int) -> ActionReceipt:
        self._recorder.record("fleet", "install_software", host_id=host_id, title=software_title_id)
        return ActionReceipt("software_install", None)

    def refetch(self, host_id: int) -> None:
        self._recorder.record("fleet", "refetch", host_id=host_id)

    def post_calendar_webhook(self, url: str, payload: Mapping[str, Any]) -> None:
        self._recorder.record("fleet", "calendar_webhook", url=url, host_id=payload.get("host_id"))


class RecordingTasks:
    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    def schedule(self, name: str, at: datetime, payload: Mapping[str, Any]) -> bool:
        self._recorder.record("tasks", "schedule", name=name, at=at.isoformat(), purpose=payload.get("purpose"))
        return True

    def delete(self, name: str) -> bool:
        self._recorder.record("tasks", "delete", name=name)
        return True
