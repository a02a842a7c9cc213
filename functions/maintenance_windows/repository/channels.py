"""The `channels` collection (one document per Calendar watch channel) and `follow_pending`.

A channel document never holds the channel's token, only its digest (auth/channel_tokens.py). It also keeps
the calendar's sync position (sync_token), so following a user's calendar survives instance restarts.

`follow_pending` holds one document per push message not yet covered by a sync, id `{channel}-{number}`:
created before a notification tries to take the user's follow lease, deleted by whoever syncs after seeing
it. That is how a notification that finds the lease held is never lost (see service/follow.py).

Fields written after a slow step (the sync position, the retirement) go through DocumentStore.update, so a
channel deleted meanwhile stays deleted; a merge would create it again with those fields alone. A document
that is nonetheless incomplete is skipped by every reader and logged, never a crash of the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from maintenance_windows.ports.store import Document, DocumentStore, Filter, Write

CHANNELS = "channels"
PENDING = "follow_pending"


class ChannelState(StrEnum):
    #: Written before events.watch, so that the first notifications can already be authenticated.
    CREATING = "creating"
    #: The user's channel (users/{key}.channel_id names it).
    CURRENT = "current"
    #: Replaced or no longer needed; stopped, but still accepted for a grace period (in-flight messages).
    RETIRED = "retired"


@dataclass(frozen=True)
class ChannelRecord:
    channel_id: str
    user_key: str
    user_email: str
    token_digest: str
    state: ChannelState
    created_at: datetime
    resource_id: str | None = None
    expiration: datetime | None = None
    sync_token: str | None = None
    last_message_number: int = 0
    retired_at: datetime | None = None


_FIELDS = frozenset(field.name for field in fields(ChannelRecord))
_REQUIRED = ("channel_id", "user_key", "user_email", "token_digest", "state", "created_at")
# The repository knows no observability module (the layering test keeps it to domain and ports): plain
# logging with the structured fields as record attributes, which the JSON formatter writes out.
_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingMessage:
    doc_id: str
    channel_id: str
    user_key: str
    message_number: int


def channel_to_document(record: ChannelRecord) -> Document:
    document = asdict(record)
    document["state"] = record.state.value
    return document


def channel_from_document(document: Document) -> ChannelRecord | None:
    """The record, or None for a document that lacks a required field or has an unknown state."""
    missing = [name for name in _REQUIRED if document.get(name) is None]
    states = {state.value for state in ChannelState}
    if missing or document["state"] not in states:
        return None
    values: dict[str, Any] = {key: value for key, value in document.items() if key in _FIELDS}
    values["state"] = ChannelState(document["state"])
    values["last_message_number"] = int(document.get("last_message_number") or 0)
    return ChannelRecord(**values)


def _readable(found: Sequence[tuple[str, Document]]) -> dict[str, ChannelRecord]:
    records: dict[str, ChannelRecord] = {}
    for doc_id, document in found:
        record = channel_from_document(document)
        if record is None:
            missing = sorted(name for name in _REQUIRED if document.get(name) is None)
            _logger.warning("incomplete channel document skipped", extra={"event": "channel_document_incomplete",
                            "channel_id": doc_id, "missing": missing, "state": document.get("state")})  # fmt: skip
        else:
            records[doc_id] = record
    return records


def get(store: DocumentStore, channel_id: str) -> ChannelRecord | None:
    document = store.get(CHANNELS, channel_id)
    return _readable([(channel_id, document)]).get(channel_id) if document else None


def get_many(store: DocumentStore, channel_ids: Sequence[str]) -> dict[str, ChannelRecord]:
    return _readable(list(store.get_many(CHANNELS, list(channel_ids)).items()))


def all_channels(store: DocumentStore) -> list[ChannelRecord]:
    return list(_readable(store.query(CHANNELS)).values())


def channels_of(store: DocumentStore, user_key: str) -> list[ChannelRecord]:
    return list(_readable(store.query(CHANNELS, [Filter("user_key", "==", user_key)])).values())


def save(record: ChannelRecord) -> Write:
    return Write("set", CHANNELS, record.channel_id, channel_to_document(record))


def retire(store: DocumentStore, channel_id: str, at: datetime) -> bool:
    """Mark the channel retired; False when it is gone already (nothing is written then)."""
    return store.update(CHANNELS, channel_id, {"state": ChannelState.RETIRED.value, "retired_at": at})


def delete(channel_id: str) -> Write:
    return Write("delete", CHANNELS, channel_id)


def record_sync_progress(store: DocumentStore, channel_id: str, sync_token: str, last_message_number: int) -> bool:
    """Store where the channel's sync got to; False when the channel was deleted meanwhile (nothing written)."""
    return store.update(CHANNELS, channel_id, {"sync_token": sync_token, "last_message_number": last_message_number})


# ---- pending messages ------------------------------------------------------------------------------


def pending_id(channel_id: str, message_number: int) -> str:
    return f"{channel_id}-{message_number}"


def record_pending(store: DocumentStore, channel: ChannelRecord, message_number: int, received_at: datetime) -> bool:
    """False when this message is already pending (Google sent it twice): its first copy covers it."""
    return store.create(
        PENDING,
        pending_id(channel.channel_id, message_number),
        {
            "channel_id": channel.channel_id,
            "user_key": channel.user_key,
            "message_number": message_number,
            "received_at": received_at,
        },
    )


def pending_for_user(store: DocumentStore, user_key: str) -> list[PendingMessage]:
    found = store.query(PENDING, [Filter("user_key", "==", user_key)])
    return [
        PendingMessage(doc_id, str(doc["channel_id"]), str(doc["user_key"]), int(doc["message_number"]))
        for doc_id, doc in found
    ]


def clear_pending(messages: Sequence[PendingMessage]) -> list[Write]:
    return [Write("delete", PENDING, message.doc_id) for message in messages]
