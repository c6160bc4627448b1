"""The messages table: outbound sends (the outbox), inbound messages, and their statuses.

Statuses only move forward (queued → processing → sent → delivered → read; failed and dlq on
the way out). The send path writes a message and its `message.send.queued` event in one
statement, so accepting a send costs one round trip.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import asyncpg

from zaphubd.db.database import Database
from zaphubd.db.events import EventRow

SORTABLE = frozenset({"created_at", "updated_at", "sent_at", "status", "type"})
#: A status's rank: a receipt may only raise it (a late `delivered` never replaces `read`).
RANK = {"queued": 0, "failed": 0, "processing": 1, "sent": 2, "delivered": 3, "read": 4}
DONE = frozenset({"sent", "delivered", "read", "dlq"})


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
class NewOutbound:
    session_id: uuid.UUID
    message_id: str
    type: str
    to_jid: str
    content: dict[str, Any]
    metadata: dict[str, Any]
    wa_message_id: str | None


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


_ENQUEUE = f"""
WITH inserted AS (
    INSERT INTO messages (id, session_id, message_id, direction, type, to_jid, status,
                          content, metadata, wa_message_id, queued_at)
    VALUES ($1, $2, $3, 'outbound', $4, $5, 'queued', $6, $7, $8, now())
    ON CONFLICT (session_id, message_id) DO NOTHING
    RETURNING {COLUMNS}
), event AS (
    INSERT INTO events (session_id, event_type, event_category, payload)
    SELECT session_id, 'message.send.queued', 'message',
           jsonb_build_object('id', id, 'messageId', message_id, 'to', to_jid, 'type', type)
    FROM inserted
    RETURNING id AS event_id, payload AS event_payload, created_at AS event_created_at
)
SELECT inserted.*, event.* FROM inserted, event
"""


class MessageRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def enqueue(self, new: NewOutbound) -> tuple[MessageRow, EventRow | None]:
        """Insert a queued send with its event; on a repeated messageId return the existing row
        and no event (idempotent, also when two identical requests race)."""
        record = await self._db.fetchrow(
            _ENQUEUE,
            uuid.uuid4(),
            new.session_id,
            new.message_id,
            new.type,
            new.to_jid,
            new.content,
            new.metadata,
            new.wa_message_id,
        )
        if record is not None:
            event = EventRow(
                record["event_id"],
                new.session_id,
                "message.send.queued",
                "message",
                record["event_payload"],
                record["event_created_at"],
            )
            return MessageRow.from_record(record), event
        existing = await self.by_client_id(new.session_id, new.message_id)
        assert existing is not None  # the conflict proves it exists
        return existing, None

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

    async def mark_processing(self, row_id: uuid.UUID) -> MessageRow | None:
        """Before the hand-over: `processing`, one more attempt. None if it is done already."""
        record = await self._db.fetchrow(
            f"""UPDATE messages SET status='processing', processing_at=now(),
                    attempts=attempts + 1, updated_at=now()
                WHERE id=$1 AND status IN ('queued', 'processing', 'failed')
                RETURNING {COLUMNS}""",
            row_id,
        )
        return MessageRow.from_record(record) if record else None

    async def mark_sent(
        self, row_id: uuid.UUID, wa_id: str, wa_timestamp: datetime
    ) -> MessageRow | None:
        # A receipt may have overtaken this write (it moved the row to delivered or read):
        # keep that status, but still record when and under which id it was sent.
        record = await self._db.fetchrow(
            f"""UPDATE messages SET
                    status = CASE WHEN status IN ('delivered', 'read') THEN status ELSE 'sent' END,
                    sent_at = COALESCE(sent_at, now()), wa_message_id=$2, wa_timestamp=$3,
                    error_message=NULL, updated_at=now()
                WHERE id=$1 AND status <> 'dlq' AND sent_at IS NULL
                RETURNING {COLUMNS}""",
            row_id,
            wa_id,
            wa_timestamp,
        )
        return MessageRow.from_record(record) if record else None

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

    async def apply_receipt(
        self, session_id: uuid.UUID, wa_ids: list[str], status: str, at: datetime
    ) -> list[MessageRow]:
        """Move outbound messages forward to `delivered` or `read`; never backwards."""
        column = "read_at" if status == "read" else "delivered_at"
        lower = [s for s, rank in RANK.items() if rank < RANK[status]]
        records = await self._db.fetch(
            f"""UPDATE messages SET status=$3, {column}=COALESCE({column}, $4), updated_at=now()
                WHERE session_id=$1 AND direction='outbound' AND wa_message_id = ANY($2::text[])
                  AND status = ANY($5::text[])
                RETURNING {COLUMNS}""",
            session_id,
            wa_ids,
            status,
            at,
            lower,
        )
        return [MessageRow.from_record(r) for r in records]

    async def insert_inbound(self, values: dict[str, Any]) -> MessageRow | None:
        """Store a message seen on the account once (dedupe on the WhatsApp id); None if seen."""
        names = ", ".join(values)
        params = ", ".join(f"${i}" for i in range(1, len(values) + 1))
        record = await self._db.fetchrow(
            f"""INSERT INTO messages (id, {names}) VALUES (gen_random_uuid(), {params})
                ON CONFLICT DO NOTHING RETURNING {COLUMNS}""",
            *values.values(),
        )
        return MessageRow.from_record(record) if record else None

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
