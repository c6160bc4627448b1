"""The send path's writes, as batched statements (one round trip for many messages).

`MessageRepo` runs these through `Coalescer`s: concurrent accepts, claims and sends made in
the same event-loop pass share one statement. Each statement keeps the per-row guarantees of
the single-row version: a send is accepted only for a session that may send and only once
per messageId, a claim only moves an unfinished row, a `sent` is recorded once with its event.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from zaphubd.db.database import Database
from zaphubd.db.events import EventRow

#: Session statuses that cannot send now or later (a send to them is refused).
CANNOT_SEND = ("failed", "logged_out")
#: The error of a send that a crash left in doubt under ZAPHUB_INDOUBT_SENDS=fail: such a
#: row is `failed` for good, and a claim must never pick it up again.
UNKNOWN_DELIVERY = (
    "delivery unknown: the daemon stopped while handing this message to WhatsApp "
    "(ZAPHUB_INDOUBT_SENDS=fail)"
)


@dataclass(frozen=True, slots=True)
class NewOutbound:
    session_id: uuid.UUID
    message_id: str
    type: str
    to_jid: str
    content: dict[str, Any]
    metadata: dict[str, Any]
    wa_message_id: str | None
    row_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True, slots=True)
class SentUpdate:
    row_id: uuid.UUID
    wa_id: str
    wa_timestamp: datetime


def enqueue_sql(columns: str) -> str:
    return f"""
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[],
                         $6::jsonb[], $7::jsonb[], $8::text[]) WITH ORDINALITY
        AS t(id, session_id, message_id, type, to_jid, content, metadata, wa_message_id, n)
), sendable AS (
    SELECT input.* FROM input JOIN sessions s ON s.id = input.session_id
    WHERE NOT s.stopped AND s.status <> ALL($9::text[])
), inserted AS (
    -- send_seq in the batch's order (volatile functions run after ORDER BY): the lanes
    -- send in this order.
    INSERT INTO messages (id, session_id, message_id, direction, type, to_jid, status,
                          content, metadata, wa_message_id, queued_at, send_seq)
    SELECT id, session_id, message_id, 'outbound', type, to_jid, 'queued', content, metadata,
           wa_message_id, now(), nextval('messages_send_seq')
    FROM sendable ORDER BY n
    ON CONFLICT (session_id, message_id) DO NOTHING
    RETURNING {columns}
), event AS (
    INSERT INTO events (session_id, event_type, event_category, payload)
    SELECT session_id, 'message.send.queued', 'message',
           jsonb_build_object('id', id, 'messageId', message_id, 'to', to_jid, 'type', type)
    FROM inserted
    RETURNING id AS event_id, payload AS event_payload, created_at AS event_created_at
)
SELECT inserted.*, event.*
FROM inserted JOIN event ON event.event_payload->>'id' = inserted.id::text
"""


def claim_sql(columns: str) -> str:
    prefixed = ", ".join("m." + c for c in columns.split(", "))
    return f"""
UPDATE messages m SET status='processing', processing_at=now(), attempts=m.attempts + 1,
    updated_at=now()
FROM (SELECT id, status AS previous FROM messages WHERE id = ANY($1::uuid[]) FOR UPDATE) p
WHERE m.id = p.id AND m.status IN ('queued', 'processing', 'failed')
  AND m.error_message IS DISTINCT FROM $2
RETURNING {prefixed}, p.previous
"""


MARK_SENT = """
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[])
        AS t(id, wa_id, wa_ts, stamp)
), sent AS (
    UPDATE messages m SET
        status = CASE WHEN m.status IN ('delivered', 'read') THEN m.status ELSE 'sent' END,
        sent_at = COALESCE(m.sent_at, now()), wa_message_id = i.wa_id, wa_timestamp = i.wa_ts,
        error_message = NULL, updated_at = now()
    FROM input i
    WHERE m.id = i.id AND m.status <> 'dlq' AND m.sent_at IS NULL
    RETURNING m.id, m.session_id, m.message_id, m.to_jid, i.wa_id, i.stamp
)
INSERT INTO events (session_id, event_type, event_category, payload)
SELECT session_id, 'message.sent', 'message',
       jsonb_build_object('id', id, 'messageId', message_id, 'to', to_jid,
                          'wa_message_id', wa_id, 'timestamp', stamp)
FROM sent
RETURNING id, session_id, event_type, event_category, payload, created_at
"""


async def run_enqueue(
    db: Database, sql: str, batch: Sequence[NewOutbound]
) -> list[dict[str, Any] | None]:
    """Insert what can be inserted; for each input, its row and event, or None."""
    records = await db.fetch(
        sql,
        [n.row_id for n in batch],
        [n.session_id for n in batch],
        [n.message_id for n in batch],
        [n.type for n in batch],
        [n.to_jid for n in batch],
        [n.content for n in batch],
        [n.metadata for n in batch],
        [n.wa_message_id for n in batch],
        list(CANNOT_SEND),
    )
    by_id = {r["id"]: dict(r) for r in records}
    return [by_id.get(n.row_id) for n in batch]


async def run_claim(
    db: Database, sql: str, batch: Sequence[uuid.UUID]
) -> list[dict[str, Any] | None]:
    records = await db.fetch(sql, list(batch), UNKNOWN_DELIVERY)
    by_id = {r["id"]: dict(r) for r in records}
    return [by_id.get(row_id) for row_id in batch]


async def run_mark_sent(db: Database, batch: Sequence[SentUpdate]) -> list[EventRow | None]:
    records = await db.fetch(
        MARK_SENT,
        [u.row_id for u in batch],
        [u.wa_id for u in batch],
        [u.wa_timestamp for u in batch],
        [u.wa_timestamp.isoformat().replace("+00:00", "Z") for u in batch],
    )
    by_id = {r["payload"]["id"]: EventRow.from_record(r) for r in records}
    return [by_id.get(str(u.row_id)) for u in batch]


@dataclass(frozen=True, slots=True)
class ReceiptUpdate:
    """A receipt for messages we sent: which ones, the new status, when, and where."""

    session_id: uuid.UUID
    wa_ids: tuple[str, ...]
    status: str
    at: datetime
    chat: str
    participant: str | None
    #: The contact's LID when the receipt came from it (its phone JID is then `chat`).
    lid: str | None = None


# Forward only: a status moves to `delivered` or `read` only from a lower rank, never from
# `dlq`; one receipt event per message that moved.
APPLY_RECEIPTS = """
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::text[],
                         $6::jsonb[])
        AS t(session_id, wa_id, status, at, chat, extra)
), moved AS (
    UPDATE messages m SET
        status = i.status,
        delivered_at = CASE WHEN i.status = 'delivered'
                            THEN COALESCE(m.delivered_at, i.at) ELSE m.delivered_at END,
        read_at = CASE WHEN i.status = 'read' THEN COALESCE(m.read_at, i.at) ELSE m.read_at END,
        updated_at = now()
    FROM input i
    WHERE m.session_id = i.session_id AND m.direction = 'outbound'
      AND m.wa_message_id = i.wa_id AND m.status <> 'dlq'
      AND (CASE m.status WHEN 'read' THEN 4 WHEN 'delivered' THEN 3 WHEN 'sent' THEN 2
                         WHEN 'processing' THEN 1 ELSE 0 END)
        < (CASE i.status WHEN 'read' THEN 4 ELSE 3 END)
    RETURNING m.id, m.session_id, m.wa_message_id, i.status, i.at, i.chat, i.extra
)
INSERT INTO events (session_id, event_type, event_category, payload)
SELECT session_id, 'message.receipt.' || status, 'message',
       jsonb_build_object('messageId', wa_message_id, 'id', id, 'remoteJid', chat,
                          'receiptType', status,
                          'timestamp', (extract(epoch FROM at) * 1000)::bigint) || extra
FROM moved
RETURNING id, session_id, event_type, event_category, payload, created_at
"""


async def run_receipts(db: Database, batch: Sequence[ReceiptUpdate]) -> list[list[EventRow]]:
    """Apply receipts; for each, the events of the messages it moved. Runs in rounds in
    which a message appears once, so a `delivered` and a `read` of one message that arrive
    together are applied in their order."""
    pending = [
        (index, update, wa_id) for index, update in enumerate(batch) for wa_id in update.wa_ids
    ]
    found: list[list[EventRow]] = [[] for _ in batch]
    while pending:
        owners: dict[tuple[uuid.UUID, str], int] = {}
        this_round: list[tuple[ReceiptUpdate, str]] = []
        later: list[tuple[int, ReceiptUpdate, str]] = []
        for index, update, wa_id in pending:
            key = (update.session_id, wa_id)
            if key in owners:
                later.append((index, update, wa_id))
                continue
            owners[key] = index
            this_round.append((update, wa_id))
        for event in await _apply(db, this_round):
            assert event.session_id is not None
            found[owners[(event.session_id, event.payload["messageId"])]].append(event)
        pending = later
    return found


async def _apply(db: Database, rows: list[tuple[ReceiptUpdate, str]]) -> list[EventRow]:
    records = await db.fetch(
        APPLY_RECEIPTS,
        [u.session_id for u, _ in rows],
        [wa_id for _, wa_id in rows],
        [u.status for u, _ in rows],
        [u.at for u, _ in rows],
        [u.chat for u, _ in rows],
        [_receipt_extra(u) for u, _ in rows],
    )
    return [EventRow.from_record(r) for r in records]


def _receipt_extra(update: ReceiptUpdate) -> dict[str, str]:
    extra = {"participant": update.participant} if update.participant else {}
    return extra | ({"lid": update.lid} if update.lid else {})
