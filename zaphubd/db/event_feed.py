"""The events table read in commit-safe order, for the event stream.

A position is (tx, id): the row's transaction id and its event id. Only rows whose
transaction is older than every transaction still running are read (`pg_snapshot_xmin`), so
no row can later appear behind a position already read: a stream that resumes after a
position misses nothing and repeats nothing. A write transaction held open anywhere on the
Postgres server delays the stream (never loses from it) until it ends.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from zaphubd.db.database import Database
from zaphubd.db.events import EVENT_COLUMNS, EventRow

_POSITION = re.compile(r"(\d{1,20})-(\d{1,19})")
_SAFE = "tx < pg_snapshot_xmin(pg_current_snapshot())"


class BadPosition(ValueError):
    """Not a stream position this daemon wrote."""


@dataclass(frozen=True, slots=True, order=True)
class Position:
    tx: int
    id: int

    def __str__(self) -> str:  # the SSE `id:` of an event, sent back as Last-Event-ID
        return f"{self.tx}-{self.id}"

    @classmethod
    def parse(cls, text: str) -> Position:
        match = _POSITION.fullmatch(text.strip())
        if match is None:
            raise BadPosition("must be an event id this stream sent (<digits>-<digits>)")
        return cls(int(match[1]), int(match[2]))


START = Position(0, 0)


@dataclass(frozen=True, slots=True)
class FeedEvent:
    position: Position
    row: EventRow


class EventFeed:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def head(self) -> Position:
        """The newest position that is safe to read now (START on an empty table)."""
        record = await self._db.fetchrow(
            f"""SELECT tx::text AS tx, id FROM events WHERE tx IS NOT NULL AND {_SAFE}
                ORDER BY tx DESC, id DESC LIMIT 1"""
        )
        return START if record is None else Position(int(record["tx"]), record["id"])

    async def after(
        self, position: Position, limit: int, session_id: uuid.UUID | None = None
    ) -> list[FeedEvent]:
        """Up to `limit` safe events after `position`, in order; of one session, or all."""
        session_clause = "" if session_id is None else "AND session_id = $4"
        args: list[object] = [str(position.tx), position.id, limit]
        if session_id is not None:
            args.append(session_id)
        records = await self._db.fetch(
            f"""SELECT tx::text AS tx, {EVENT_COLUMNS} FROM events
                WHERE tx IS NOT NULL AND (tx, id) > ($1::text::xid8, $2) AND {_SAFE}
                {session_clause}
                ORDER BY tx, id LIMIT $3""",
            *args,
        )
        return [
            FeedEvent(Position(int(r["tx"]), r["id"]), EventRow.from_record(r)) for r in records
        ]
