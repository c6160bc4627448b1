"""Normalised transport events as queue job data, and back.

Anything a contact sends can hold U+0000, which Postgres stores neither in text nor in jsonb:
a message carrying one would fail every attempt and never be stored. Rebuilt events show it
as U+FFFD instead, the character that stands for any other undecodable one.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from zaphubd.transport.events import (
    Call,
    ChatPresence,
    GroupChange,
    MediaRef,
    MessageIn,
    Presence,
    Receipt,
)

Traffic = MessageIn | Receipt | Presence | ChatPresence | Call | GroupChange
KINDS: dict[str, type[Traffic]] = {
    cls.__name__: cls for cls in (MessageIn, Receipt, Presence, ChatPresence, Call, GroupChange)
}
_DATETIMES = frozenset({"timestamp", "last_seen"})
_TUPLES = frozenset({"message_ids", "mentions", "participants"})


def to_job(session_id: uuid.UUID, event: Traffic) -> dict[str, Any]:
    return {
        "session_id": str(session_id),
        "kind": type(event).__name__,
        "event": dataclasses.asdict(event),
    }


def from_job(data: dict[str, Any]) -> tuple[uuid.UUID, Traffic]:
    """Rebuild the event; raises KeyError/ValueError/TypeError on malformed data."""
    cls = KINDS[data["kind"]]
    raw = _without_nul(dict(data["event"]))
    for name, value in raw.items():
        if value is None:
            continue
        if name in _DATETIMES:
            raw[name] = datetime.fromisoformat(value.replace("Z", "+00:00"))
        elif name in _TUPLES:
            raw[name] = tuple(value)
        elif name == "media":
            raw[name] = MediaRef(**value)
    return uuid.UUID(data["session_id"]), cls(**raw)


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value
