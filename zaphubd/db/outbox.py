"""The send queue, read from the messages table: each session's pending sends, oldest first.

A pending send is an outbound row that is `queued`, `processing` (handed over by a run that
may have died) or `failed` (a transient failure, retried). The partial index
`messages_send_queue_idx` holds exactly those, so reading a session's head costs the same with
ten or a million waiting. A row a crash left in doubt under ZAPHUB_INDOUBT_SENDS=fail is
`failed` for good: it is left out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from zaphubd.db.database import Database
from zaphubd.db.message_batches import UNKNOWN_DELIVERY


def _pending(unknown: str) -> str:
    """The predicate of a pending send; `unknown` is the parameter holding UNKNOWN_DELIVERY."""
    return f"""direction = 'outbound' AND status IN ('queued', 'processing', 'failed')
               AND error_message IS DISTINCT FROM {unknown}"""


_HEAD = f"""SELECT id FROM messages WHERE session_id = $1 AND {_pending("$2")}
            ORDER BY send_seq LIMIT $3"""

_BACKLOG_COLUMNS = """
    count(*) FILTER (WHERE status = 'queued') AS queued,
    count(*) FILTER (WHERE status = 'processing') AS in_flight,
    count(*) FILTER (WHERE status = 'failed') AS retrying,
    min(queued_at) FILTER (WHERE status = 'queued') AS oldest_queued_at"""

_ONE_BACKLOG = f"""SELECT {_BACKLOG_COLUMNS} FROM messages
                   WHERE session_id = $1 AND {_pending("$2")}"""

_BACKLOGS = f"""SELECT session_id, {_BACKLOG_COLUMNS} FROM messages WHERE {_pending("$1")}
                GROUP BY session_id"""
_SOME_BACKLOGS = f"""SELECT session_id, {_BACKLOG_COLUMNS} FROM messages
                     WHERE session_id = ANY($2::uuid[]) AND {_pending("$1")}
                     GROUP BY session_id"""


@dataclass(frozen=True, slots=True)
class Backlog:
    """What waits to be sent for one session (or all of them)."""

    queued: int
    in_flight: int
    retrying: int
    oldest_queued_at: datetime | None


class OutboxRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def head(self, session_id: uuid.UUID, limit: int) -> list[uuid.UUID]:
        """The ids of the session's next `limit` pending sends, in acceptance order."""
        records = await self._db.fetch(_HEAD, session_id, UNKNOWN_DELIVERY, limit)
        return [r["id"] for r in records]

    async def backlog(self, session_id: uuid.UUID) -> Backlog:
        record = await self._db.fetchrow(_ONE_BACKLOG, session_id, UNKNOWN_DELIVERY)
        assert record is not None  # an aggregate always returns a row
        return _backlog(record)

    async def backlogs(self) -> dict[uuid.UUID, Backlog]:
        """Every session with something pending (for the metrics)."""
        records = await self._db.fetch(_BACKLOGS, UNKNOWN_DELIVERY)
        return {r["session_id"]: _backlog(r) for r in records}

    async def backlogs_of(self, session_ids: list[uuid.UUID]) -> dict[uuid.UUID, Backlog]:
        """These sessions' backlogs, in one query (a session with none is left out)."""
        records = await self._db.fetch(_SOME_BACKLOGS, UNKNOWN_DELIVERY, session_ids)
        return {r["session_id"]: _backlog(r) for r in records}


NOTHING_PENDING = Backlog(0, 0, 0, None)


def _backlog(r: asyncpg.Record) -> Backlog:
    return Backlog(r["queued"], r["in_flight"], r["retrying"], r["oldest_queued_at"])
