"""The webhook_deliveries table: one row per delivery, updated by each of its attempts.

Writes on the delivery path come in batches (`insert_many`, `record_attempts`): one statement
for many deliveries, so a burst of events costs a few round trips rather than one each.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import asyncpg

from zaphubd.db.database import Database
from zaphubd.db.events import EventRow
from zaphubd.db.webhook_targets import first_webhook_id

STATUSES = ("queued", "delivered", "failed")


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: uuid.UUID
    session_id: uuid.UUID
    event: str
    url: str
    body: dict[str, Any]
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_latency_ms: int | None
    #: The newest attempts, oldest first: {at, status_code, error, latency_ms} each.
    attempt_log: list[dict[str, Any]]
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None
    #: Its webhook; None: the session's first (webhook_url).
    webhook_id: uuid.UUID | None

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> DeliveryRow:
        return cls(**{f.name: record[f.name] for f in fields(cls)})


_COLUMNS = ", ".join(f.name for f in fields(DeliveryRow))


@dataclass(frozen=True, slots=True)
class NewDelivery:
    id: uuid.UUID
    session_id: uuid.UUID
    event: str
    url: str
    #: The envelope as JSON text, exactly as stored in `body`.
    body_json: str
    #: None: the session's first webhook (webhook_url).
    webhook_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt's outcome, and the webhook.* event that reports it."""

    delivery_id: uuid.UUID
    #: queued (another attempt follows), delivered or failed.
    status: str
    #: The URL the attempt went to; None keeps the stored one (no URL to try).
    url: str | None
    status_code: int | None
    latency_ms: int
    error: str | None
    next_attempt_at: datetime | None
    event_type: str
    #: The event's payload as JSON text, without `attempt` (the row's count is added).
    payload_json: str
    #: The attempt's entry of `attempt_log` as JSON text.
    log_entry_json: str


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    session_id: uuid.UUID
    status: str | None = None
    event: str | None = None
    webhook_id: uuid.UUID | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = ["session_id=$1"]
        args: list[Any] = [self.session_id]
        for column, value in (("status", self.status), ("event", self.event)):
            if value is not None:
                args.append(value)
                clauses.append(f"{column}=${len(args)}")
        if self.webhook_id == first_webhook_id(self.session_id):
            clauses.append("webhook_id IS NULL")  # the first webhook's deliveries
        elif self.webhook_id is not None:
            args.append(self.webhook_id)
            clauses.append(f"webhook_id=${len(args)}")
        return " AND ".join(clauses), args


# An event's delivery has an id derived from the event's (`event_delivery_id`), so writing
# it twice (the listener and the catch-up both) keeps the first.
_INSERT = """
INSERT INTO webhook_deliveries (id, session_id, event, url, body, webhook_id, next_attempt_at)
SELECT id, session_id, event, url, body::jsonb, webhook_id, now()
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::uuid[])
    AS t(id, session_id, event, url, body, webhook_id)
ON CONFLICT (id) DO NOTHING
RETURNING id
"""

# Events up to a bound that some webhook should have and does not: their listener never ran
# (the daemon died, or Postgres failed, between the event and its delivery). A session's
# webhooks are its first (the webhook_url on its row) and its rows of `webhooks`, each enabled,
# since it was set (or enabled again), through its filter; $4/$5 are the global webhook's id
# and filter (NULL: no global webhook; NULL filter: every event). Mirrors
# `event_types.matches`, the listener's rules and `event_delivery_id`.
_MATCH = """(right(p, 2) = '.*' AND starts_with(e.event_type, left(p, -1)))
             OR p IN ('*', e.event_type)"""
_UNDELIVERED = f"""
WITH targets AS (
    SELECT s.id AS session_id, NULL::uuid AS webhook_id, s.webhook_url_set_at AS since,
           s.config->'webhookEvents' AS events
    FROM sessions s WHERE s.webhook_url IS NOT NULL AND s.webhook_enabled
    UNION ALL
    SELECT w.session_id, w.id, w.active_since, w.events FROM webhooks w WHERE w.enabled
)
SELECT e.id, e.session_id, e.event_type, e.event_category, e.payload, e.created_at
FROM events e
WHERE e.id > $1 AND e.id <= $2 AND e.session_id IS NOT NULL AND e.event_category <> 'webhook'
  AND (EXISTS (
        SELECT 1 FROM targets t
        WHERE t.session_id = e.session_id AND e.created_at >= t.since
          AND (jsonb_typeof(t.events) IS DISTINCT FROM 'array'
               OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(t.events) p WHERE {_MATCH}))
          AND NOT EXISTS (
              SELECT 1 FROM webhook_deliveries d
              WHERE d.id = md5('zaphub-event:' || e.id || coalesce(':' || t.webhook_id, ''))::uuid))
    OR ($4::uuid IS NOT NULL
        AND ($5::text[] IS NULL OR EXISTS (SELECT 1 FROM unnest($5::text[]) p WHERE {_MATCH}))
        AND NOT EXISTS (
            SELECT 1 FROM webhook_deliveries d
            WHERE d.id = md5('zaphub-event:' || e.id || ':' || $4::uuid)::uuid)))
ORDER BY e.id
LIMIT $3
"""


def event_delivery_id(event_id: int, webhook_id: uuid.UUID | None = None) -> uuid.UUID:
    """The delivery id of an event's delivery to a webhook (None: the session's first, whose
    ids are those of before several webhooks existed); `_UNDELIVERED` computes the same.

    md5 because Postgres has it built in (uuid5 needs an extension); it is a name, not a
    secret, and receivers only compare it.
    """
    name = f"zaphub-event:{event_id}" + ("" if webhook_id is None else f":{webhook_id}")
    digest = hashlib.md5(name.encode(), usedforsecurity=False)
    return uuid.UUID(digest.hexdigest())


# The attempts' updates and their events in one statement. Events are written only for rows
# that still exist: a session deleted meanwhile took its deliveries (and events) with it.
# Each attempt is appended to the row's attempt_log, which keeps its newest $11 entries (the
# retry limit + 1): below the cap the append is one concatenation; the slice runs only once a
# log is full (deliveries retried by hand, or a lowered cap).
_RECORD = """
WITH outcome AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::int[], $6::text[],
                         $7::timestamptz[], $8::text[], $9::text[], $10::text[])
        AS o(id, status, url, status_code, latency_ms, error, next_attempt_at, event_type,
             payload, entry)
), updated AS (
    UPDATE webhook_deliveries d SET
        status = o.status,
        url = COALESCE(o.url, d.url),
        attempts = d.attempts + 1,
        last_status_code = o.status_code,
        last_latency_ms = o.latency_ms,
        last_error = o.error,
        attempt_log = CASE
            WHEN jsonb_array_length(d.attempt_log) < $11
                THEN d.attempt_log || jsonb_build_array(o.entry::jsonb)
            ELSE jsonb_path_query_array(d.attempt_log || jsonb_build_array(o.entry::jsonb),
                                        '$[last - $k to last]',
                                        jsonb_build_object('k', $11 - 1)) END,
        next_attempt_at = o.next_attempt_at,
        delivered_at = CASE WHEN o.status = 'delivered' THEN now() ELSE d.delivered_at END,
        updated_at = now()
    FROM outcome o WHERE d.id = o.id
    RETURNING d.id, d.session_id, d.attempts
)
INSERT INTO events (session_id, event_type, event_category, payload)
SELECT u.session_id, o.event_type, 'webhook',
       o.payload::jsonb || jsonb_build_object('attempt', u.attempts)
FROM updated u JOIN outcome o ON o.id = u.id
RETURNING id, session_id, event_type, event_category, payload, created_at
"""


class WebhookRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert_many(self, deliveries: Sequence[NewDelivery]) -> set[uuid.UUID]:
        """Create queued deliveries, due now; return the ids of those that did not exist."""
        columns = zip(
            *((d.id, d.session_id, d.event, d.url, d.body_json, d.webhook_id) for d in deliveries),
            strict=True,
        )
        return {r["id"] for r in await self._db.fetch(_INSERT, *(list(c) for c in columns))}

    async def last_event_id(self) -> int:
        return int(await self._db.fetchval("SELECT coalesce(max(id), 0) FROM events"))

    async def undelivered_events(
        self,
        after: int,
        upto: int,
        limit: int,
        global_hook: tuple[uuid.UUID, list[str] | None] | None = None,
    ) -> list[EventRow]:
        """Events in (after, upto] that lack a delivery some webhook should have, by id;
        `global_hook`: the global webhook's id and filter (None: there is none)."""
        hook_id, patterns = global_hook or (None, None)
        records = await self._db.fetch(_UNDELIVERED, after, upto, limit, hook_id, patterns)
        return [EventRow.from_record(r) for r in records]

    async def record_attempts(
        self, records: Sequence[AttemptRecord], log_cap: int
    ) -> list[EventRow]:
        """Apply attempts to their deliveries, keeping the newest `log_cap` in each row's
        attempt_log; return the webhook.* events written for them."""
        values = (
            (
                r.delivery_id,
                r.status,
                r.url,
                r.status_code,
                r.latency_ms,
                r.error,
                r.next_attempt_at,
                r.event_type,
                r.payload_json,
                r.log_entry_json,
            )
            for r in records
        )
        columns = [list(c) for c in zip(*values, strict=True)]
        rows = await self._db.fetch(_RECORD, *columns, max(1, log_cap))
        return [EventRow.from_record(r) for r in rows]

    async def get(self, session_id: uuid.UUID, delivery_id: uuid.UUID) -> DeliveryRow | None:
        record = await self._db.fetchrow(
            f"SELECT {_COLUMNS} FROM webhook_deliveries WHERE id=$1 AND session_id=$2",
            delivery_id,
            session_id,
        )
        return DeliveryRow.from_record(record) if record else None

    async def requeue(self, session_id: uuid.UUID, delivery_id: uuid.UUID) -> DeliveryRow | None:
        """Queue a delivery again (by hand), whatever its status; None if it does not exist."""
        record = await self._db.fetchrow(
            f"""UPDATE webhook_deliveries
                SET status='queued', next_attempt_at=now(), delivered_at=NULL, updated_at=now()
                WHERE id=$1 AND session_id=$2 RETURNING {_COLUMNS}""",
            delivery_id,
            session_id,
        )
        return DeliveryRow.from_record(record) if record else None

    async def postpone(self, delivery_id: uuid.UUID, until: datetime) -> None:
        """Move a queued delivery's due time (it was put back unattempted)."""
        await self._db.execute(
            """UPDATE webhook_deliveries SET next_attempt_at=$2, updated_at=now()
               WHERE id=$1 AND status='queued'""",
            delivery_id,
            until,
        )

    async def mark_failed(self, delivery_id: uuid.UUID, reason: str) -> None:
        """Give up on a delivery whose job could not run (it stays retryable by hand)."""
        await self._db.execute(
            """UPDATE webhook_deliveries
               SET status='failed', last_error=$2, next_attempt_at=NULL, updated_at=now()
               WHERE id=$1""",
            delivery_id,
            reason[:2000],
        )

    async def claim_overdue(self, grace_s: float, limit: int) -> list[DeliveryRow]:
        """Queued deliveries more than `grace_s` overdue, oldest first, made due now (so the
        next sweep, here or on another daemon, leaves them alone for another grace)."""
        records = await self._db.fetch(
            f"""UPDATE webhook_deliveries SET next_attempt_at=now(), updated_at=now()
                WHERE id IN (
                    SELECT id FROM webhook_deliveries
                    WHERE status='queued' AND next_attempt_at < now() - make_interval(secs => $1)
                    ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
                RETURNING {_COLUMNS}""",
            grace_s,
            limit,
        )
        return [DeliveryRow.from_record(r) for r in records]

    async def list_page(
        self, filt: DeliveryFilter, limit: int, offset: int
    ) -> tuple[list[DeliveryRow], int]:
        where, args = filt.where()
        n = len(args)
        records = await self._db.fetch(
            f"""SELECT {_COLUMNS}, count(*) OVER () AS total FROM webhook_deliveries
                WHERE {where} ORDER BY created_at DESC, id DESC
                LIMIT ${n + 1} OFFSET ${n + 2}""",
            *args,
            limit,
            offset,
        )
        if records:
            return [DeliveryRow.from_record(r) for r in records], int(records[0]["total"])
        total = await self._db.fetchval(
            f"SELECT count(*) FROM webhook_deliveries WHERE {where}", *args
        )
        return [], int(total)
