"""The messages table: outbound sends (the outbox), inbound messages, and their statuses.

Statuses only move forward (queued → processing → sent → delivered → read; failed and dlq on
the way out). The send path writes a message and its `message.send.queued` event in one
statement, batched with concurrent ones (see message_batches.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import asyncpg

from zaphubd.db.coalesce import Coalescer
from zaphubd.db.database import Database
from zaphubd.db.events import EVENT_COLUMNS, EventRow
from zaphubd.db.message_batches import (
    NewOutbound,
    ReceiptUpdate,
    SentUpdate,
    claim_sql,
    enqueue_sql,
    run_claim,
    run_enqueue,
    run_mark_sent,
    run_receipts,
)
from zaphubd.event_types import EventType

SORTABLE = frozenset({"created_at", "updated_at", "sent_at", "status", "type"})


@dataclass(frozen=True, slots=True)
class MessageRow:
    id: uuid.UUID
    session_id: uuid.UUID
    message_id: str
    direction: str
    type: str
    to_jid: str
    from_jid: str | None
    chat_jid: str | None
    status: str
    content: dict[str, Any]
    metadata: dict[str, Any]
    attempts: int
    wa_message_id: str | None
    wa_timestamp: datetime | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime
    queued_at: datetime | None
    processing_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None

    def __repr__(self) -> str:  # never print message contents
        return f"MessageRow(id={self.id}, status={self.status!r}, type={self.type!r})"

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> MessageRow:
        return cls(**{f.name: record[f.name] for f in fields(cls)})


COLUMNS = ", ".join(f.name for f in fields(MessageRow))


@dataclass(frozen=True, slots=True)
class MessageFilter:
    session_id: uuid.UUID
    status: str | None = None
    direction: str | None = None
    type: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = ["session_id=$1"]
        args: list[Any] = [self.session_id]
        for column, value in (
            ("status", self.status),
            ("direction", self.direction),
            ("type", self.type),
        ):
            if value is not None:
                args.append(value)
                clauses.append(f"{column}=${len(args)}")
        return " AND ".join(clauses), args


class MessageRepo:
    def __init__(self, db: Database) -> None:
        self._db = db
        enqueue, claim = enqueue_sql(COLUMNS), claim_sql(COLUMNS)
        self._enqueue: Coalescer[NewOutbound, dict[str, Any] | None] = Coalescer(
            lambda batch: run_enqueue(db, enqueue, batch)
        )
        self._claim: Coalescer[uuid.UUID, dict[str, Any] | None] = Coalescer(
            lambda batch: run_claim(db, claim, batch)
        )
        self._mark_sent: Coalescer[SentUpdate, EventRow | None] = Coalescer(
            lambda batch: run_mark_sent(db, batch)
        )
        self._receipts: Coalescer[ReceiptUpdate, list[EventRow]] = Coalescer(
            lambda batch: run_receipts(db, batch)
        )

    async def enqueue(self, new: NewOutbound) -> tuple[MessageRow, EventRow] | None:
        """Insert a queued send with its event (batched with concurrent accepts). None when
        nothing was inserted: the session is missing or cannot send, or the messageId was
        used before (idempotent, also when two identical requests race); the caller tells
        which."""
        record = await self._enqueue(new)
        if record is None:
            return None
        event = EventRow(
            record["event_id"],
            new.session_id,
            "message.send.queued",
            "message",
            record["event_payload"],
            record["event_created_at"],
        )
        return MessageRow.from_record(record), event

    async def get(self, row_id: uuid.UUID) -> MessageRow | None:
        record = await self._db.fetchrow(f"SELECT {COLUMNS} FROM messages WHERE id=$1", row_id)
        return MessageRow.from_record(record) if record else None

    async def by_client_id(self, session_id: uuid.UUID, message_id: str) -> MessageRow | None:
        record = await self._db.fetchrow(
            f"SELECT {COLUMNS} FROM messages WHERE session_id=$1 AND message_id=$2",
            session_id,
            message_id,
        )
        return MessageRow.from_record(record) if record else None

    async def find(self, session_id: uuid.UUID, key: str) -> MessageRow | None:
        """By row UUID or by client messageId (the WhatsApp id for inbound)."""
        try:
            row_id = uuid.UUID(key)
        except ValueError:
            return await self.by_client_id(session_id, key)
        row = await self.get(row_id)
        if row is not None and row.session_id == session_id:
            return row
        return await self.by_client_id(session_id, key)

    async def list_page(
        self, filt: MessageFilter, limit: int, offset: int, sort_by: str, sort_order: str
    ) -> tuple[list[MessageRow], int]:
        if sort_by not in SORTABLE or sort_order not in ("asc", "desc"):
            raise ValueError("unsupported sort")
        where, args = filt.where()
        n = len(args)
        records = await self._db.fetch(
            f"""SELECT {COLUMNS}, count(*) OVER () AS total FROM messages WHERE {where}
                ORDER BY {sort_by} {sort_order.upper()} NULLS LAST, created_at, id
                LIMIT ${n + 1} OFFSET ${n + 2}""",
            *args,
            limit,
            offset,
        )
        if records:
            return [MessageRow.from_record(r) for r in records], int(records[0]["total"])
        total = await self._db.fetchval(f"SELECT count(*) FROM messages WHERE {where}", *args)
        return [], int(total)

    async def claim(self, row_id: uuid.UUID) -> tuple[MessageRow, str] | None:
        """Before a hand-over: mark the send `processing` with one more attempt, and say what
        its status was (`processing` then means a run that died handed it over already).
        None when it is finished, or failed for good with UNKNOWN_DELIVERY."""
        record = await self._claim(row_id)
        return (MessageRow.from_record(record), record["previous"]) if record else None

    async def mark_sent(
        self, row_id: uuid.UUID, wa_id: str, wa_timestamp: datetime
    ) -> EventRow | None:
        """Record the send and its `message.sent` event (batched); None if already recorded.
        A receipt may have overtaken this write (moved the row to delivered or read): that
        status stays, but when and under which id it was sent is still kept."""
        return await self._mark_sent(SentUpdate(row_id, wa_id, wa_timestamp))

    async def mark_failed(self, row_id: uuid.UUID, status: str, error: str) -> MessageRow | None:
        """`failed` (will be retried, or not when delivery is unknown) or `dlq` (gave up)."""
        record = await self._db.fetchrow(
            f"""UPDATE messages SET status=$2, error_message=$3, failed_at=now(), updated_at=now()
                WHERE id=$1 AND status IN ('queued', 'processing', 'failed')
                RETURNING {COLUMNS}""",
            row_id,
            status,
            error[:2000],
        )
        return MessageRow.from_record(record) if record else None

    async def apply_receipt(self, receipt: ReceiptUpdate) -> list[EventRow]:
        """Move outbound messages forward to `delivered` or `read` (never backwards) and
        record one receipt event per message that moved (batched with concurrent ones)."""
        return await self._receipts(receipt)

    async def insert_inbound(
        self, values: dict[str, Any], kind: EventType, payload: dict[str, Any]
    ) -> EventRow | None:
        """Store a message seen on the account once (dedupe on the WhatsApp id) and its event,
        in one statement; the event, or None if the message was seen before. Written apart,
        a crash in between would leave a message whose event nothing ever writes: the job
        runs again, finds the message stored, and has nothing new to tell. `values` carries
        the row's `id`, so that the payload can name it."""
        names = ", ".join(values)
        params = ", ".join(f"${i}" for i in range(1, len(values) + 1))
        n = len(values)
        record = await self._db.fetchrow(
            f"""WITH m AS (
                    INSERT INTO messages ({names}) VALUES ({params})
                    ON CONFLICT DO NOTHING RETURNING session_id)
                INSERT INTO events (session_id, event_type, event_category, payload)
                SELECT session_id, ${n + 1}::text, ${n + 2}::text, ${n + 3}::jsonb FROM m
                RETURNING {EVENT_COLUMNS}""",
            *values.values(),
            kind.name,
            kind.category,
            payload,
        )
        return EventRow.from_record(record) if record else None

    async def insert_history(self, values: dict[str, Any]) -> bool:
        """Store a message from a history sync, without an event (it is not news); False
        when it was stored before."""
        names = ", ".join(values)
        params = ", ".join(f"${i}" for i in range(1, len(values) + 1))
        status = await self._db.execute(
            f"INSERT INTO messages ({names}) VALUES ({params}) ON CONFLICT DO NOTHING",
            *values.values(),
        )
        return status.endswith(" 1")

    async def sent_by_us(self, session_id: uuid.UUID, wa_id: str) -> bool:
        return bool(
            await self._db.fetchval(
                """SELECT EXISTS (SELECT 1 FROM messages WHERE session_id=$1
                   AND wa_message_id=$2 AND direction='outbound')""",
                session_id,
                wa_id,
            )
        )

    async def stale_queued(
        self, older_than_s: float, limit: int
    ) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """Queued sends older than the grace period: candidates for the outbox sweeper."""
        records = await self._db.fetch(
            """SELECT id, session_id FROM messages
               WHERE status='queued' AND queued_at < now() - make_interval(secs => $1)
               ORDER BY queued_at LIMIT $2""",
            older_than_s,
            limit,
        )
        return [(r["id"], r["session_id"]) for r in records]
