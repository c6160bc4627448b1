"""The events table: the audit trail of everything that happened to a session."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from zaphubd.db.database import Database


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    session_id: uuid.UUID | None
    event_type: str
    event_category: str
    payload: dict[str, Any]
    created_at: datetime

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> EventRow:
        return cls(
            record["id"],
            record["session_id"],
            record["event_type"],
            record["event_category"],
            record["payload"],
            record["created_at"],
        )

    def view(self) -> dict[str, Any]:
        """The event as the API shows it (events list, event stream)."""
        return {
            "id": self.id,
            "session_id": self.session_id,
            "event_type": self.event_type,
            "event_category": self.event_category,
            "payload": self.payload,
            "created_at": self.created_at,
        }


EVENT_COLUMNS = "id, session_id, event_type, event_category, payload, created_at"


@dataclass(frozen=True, slots=True)
class EventFilter:
    session_id: uuid.UUID
    category: str | None = None
    event_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = ["session_id=$1"]
        args: list[Any] = [self.session_id]
        for column, op, value in (
            ("event_category", "=", self.category),
            ("event_type", "=", self.event_type),
            ("created_at", ">=", self.since),
            ("created_at", "<=", self.until),
        ):
            if value is not None:
                args.append(value)
                clauses.append(f"{column} {op} ${len(args)}")
        return " AND ".join(clauses), args


class EventRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert(
        self, session_id: uuid.UUID | None, event_type: str, category: str, payload: dict[str, Any]
    ) -> EventRow:
        record = await self._db.fetchrow(
            f"""INSERT INTO events (session_id, event_type, event_category, payload)
                VALUES ($1, $2, $3, $4) RETURNING {EVENT_COLUMNS}""",
            session_id,
            event_type,
            category,
            payload,
        )
        assert record is not None
        return EventRow.from_record(record)

    async def list_page(
        self, filt: EventFilter, limit: int, offset: int
    ) -> tuple[list[EventRow], int]:
        where, args = filt.where()
        n = len(args)
        records = await self._db.fetch(
            f"""SELECT {EVENT_COLUMNS}, count(*) OVER () AS total FROM events WHERE {where}
                ORDER BY created_at DESC, id DESC LIMIT ${n + 1} OFFSET ${n + 2}""",
            *args,
            limit,
            offset,
        )
        if records:
            return [EventRow.from_record(r) for r in records], int(records[0]["total"])
        total = await self._db.fetchval(f"SELECT count(*) FROM events WHERE {where}", *args)
        return [], int(total)
