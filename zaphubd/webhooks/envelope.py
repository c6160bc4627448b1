"""The JSON body of a webhook: `{event, sessionId, payload, timestamp, deliveryId}`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from zaphubd.event_types import EventType

# Sample values per catalogue field type, for test deliveries.
_SAMPLES: dict[str, Any] = {
    "string": "test",
    "integer": 0,
    "number": 0.0,
    "boolean": False,
    "jid": "5511999999999@s.whatsapp.net",
    "jid[]": ["5511999999999@s.whatsapp.net"],
    "uuid": "00000000-0000-0000-0000-000000000000",
    "object": {},
}


def iso_ms(moment: datetime) -> str:
    """`2026-01-01T00:00:00.000Z`: UTC, milliseconds, as API.md shows the timestamp."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build(
    event: str,
    session_id: uuid.UUID,
    payload: dict[str, Any],
    occurred_at: datetime,
    delivery_id: uuid.UUID | str,
) -> dict[str, Any]:
    """The envelope; every attempt of one delivery sends the same one."""
    return {
        "event": event,
        "sessionId": str(session_id),
        "payload": payload,
        "timestamp": iso_ms(occurred_at),
        "deliveryId": str(delivery_id),
    }


def sample_payload(kind: EventType, now: datetime) -> dict[str, Any]:
    """A payload of the catalogue's shape for `kind` (optional fields are null)."""
    payload: dict[str, Any] = {}
    for field, type_name in kind.payload.items():
        if type_name.endswith("?"):
            payload[field] = None
        elif type_name == "datetime":
            payload[field] = iso_ms(now)
        else:
            payload[field] = _SAMPLES.get(type_name, "test")
    return payload
