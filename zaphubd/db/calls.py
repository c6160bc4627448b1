"""The calls table: one row per call id, moved through offer/accept/reject/terminate/timeout."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import asyncpg

from zaphubd.db.database import Database


@dataclass(frozen=True, slots=True)
class CallRow:
    id: uuid.UUID
    session_id: uuid.UUID
    call_id: str
    from_jid: str
    is_video: bool
    is_group: bool
    status: str
    rejected_by_us: bool
    latency_ms: int | None
    payload: dict[str, Any]
    offered_at: datetime | None
    accepted_at: datetime | None
    ended_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> CallRow:
        return cls(**{f.name: record[f.name] for f in fields(cls)})


_COLUMNS = ", ".join(f.name for f in fields(CallRow))
# Which timestamp an action sets; `latency_ms` is the time from offer to answer.
_STAMP = {"offer": "offered_at", "ringing": "offered_at", "accept": "accepted_at"}


class CallRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        session_id: uuid.UUID,
        call_id: str,
        caller: str,
        action: str,
        at: datetime,
        *,
        is_video: bool,
        is_group: bool,
        rejected_by_us: bool = False,
    ) -> CallRow:
        stamp = _STAMP.get(action, "ended_at")
        record = await self._db.fetchrow(
            f"""INSERT INTO calls (id, session_id, call_id, from_jid, is_video, is_group, status,
                                   rejected_by_us, {stamp})
                VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (session_id, call_id) DO UPDATE SET
                    status = EXCLUDED.status,
                    rejected_by_us = calls.rejected_by_us OR EXCLUDED.rejected_by_us,
                    {stamp} = COALESCE(calls.{stamp}, EXCLUDED.{stamp}),
                    latency_ms = CASE WHEN $6 = 'accept' AND calls.offered_at IS NOT NULL
                        THEN (extract(epoch FROM ($8 - calls.offered_at)) * 1000)::int
                        ELSE calls.latency_ms END,
                    updated_at = now()
                RETURNING {_COLUMNS}""",
            session_id,
            call_id,
            caller,
            is_video,
            is_group,
            action,
            rejected_by_us,
            at,
        )
        assert record is not None
        return CallRow.from_record(record)

    async def list_page(
        self,
        session_id: uuid.UUID,
        status: str | None,
        is_video: bool | None,
        limit: int,
        offset: int,
    ) -> tuple[list[CallRow], int]:
        clauses: list[str] = ["session_id=$1"]
        args: list[Any] = [session_id]
        for column, value in (("status", status), ("is_video", is_video)):
            if value is not None:
                args.append(value)
                clauses.append(f"{column}=${len(args)}")
        where = " AND ".join(clauses)
        n = len(args)
        records = await self._db.fetch(
            f"""SELECT {_COLUMNS}, count(*) OVER () AS total FROM calls WHERE {where}
                ORDER BY created_at DESC, id LIMIT ${n + 1} OFFSET ${n + 2}""",
            *args,
            limit,
            offset,
        )
        if records:
            return [CallRow.from_record(r) for r in records], int(records[0]["total"])
        total = await self._db.fetchval(f"SELECT count(*) FROM calls WHERE {where}", *args)
        return [], int(total)
