"""A session's inbound traffic over the last hour, for `GET /sessions/{id}/stats`: what
arrived, what was stored, what could not be, and how its webhooks fared."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from zaphubd.db.database import Database

_LAST_HOUR = """
WITH ev AS (
    SELECT event_type, payload->>'reason' AS reason FROM events
    WHERE session_id = $1 AND created_at > now() - interval '1 hour'
      AND event_type IN ('message.receive.queued', 'message.receive.failed')
)
SELECT
    (SELECT count(*) FROM ev WHERE event_type = 'message.receive.queued'
        OR reason IN ('undecryptable', 'unsupported')) AS received,
    (SELECT count(*) FROM messages WHERE session_id = $1 AND direction = 'inbound'
        AND created_at > now() - interval '1 hour') AS stored,
    (SELECT count(*) FROM ev WHERE event_type = 'message.receive.failed') AS failed,
    (SELECT count(*) FILTER (WHERE status = 'delivered') FROM webhook_deliveries
        WHERE session_id = $1 AND created_at > now() - interval '1 hour') AS webhook_delivered,
    (SELECT count(*) FILTER (WHERE status = 'failed') FROM webhook_deliveries
        WHERE session_id = $1 AND created_at > now() - interval '1 hour') AS webhook_failed
"""


@dataclass(frozen=True, slots=True)
class LastHour:
    received: int  # handed over by the transport, readable or not
    stored: int  # inbound messages stored
    failed: int  # message.receive.failed: unreadable, or not stored after every retry
    webhook_delivered: int
    webhook_failed: int


async def last_hour(db: Database, session_id: uuid.UUID) -> LastHour:
    record = await db.fetchrow(_LAST_HOUR, session_id)
    assert record is not None  # aggregates always return a row
    return LastHour(**{k: int(v) for k, v in dict(record).items()})
