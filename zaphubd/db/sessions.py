"""The sessions table: rows in and out, transitions, and the queries recovery needs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import asyncpg

from zaphubd.db.database import Database

STATUSES = (
    "initializing",
    "qr_pending",
    "connected",
    "disconnected",
    "reconnecting",
    "failed",
    "logged_out",
)
#: Statuses whose session should have a socket open (recovery resumes them).
RUNNING_STATUSES = ("initializing", "qr_pending", "connected", "reconnecting", "disconnected")
SORTABLE = frozenset({"created_at", "updated_at", "last_seen", "label"})
#: Columns a transition or a PATCH may set (the SQL is built from these names only).
WRITABLE = frozenset(
    {
        "label",
        "status",
        "stopped",
        "webhook_url",
        "webhook_secret",
        "config",
        "phone_number",
        "push_name",
        "qr_code",
        "last_qr_at",
        "qr_expires_at",
        "retry_count",
        "error_message",
        "last_seen",
        "connected_at",
        "disconnected_at",
        "resume_after",
    }
)


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: uuid.UUID
    label: str
    status: str
    stopped: bool
    webhook_url: str | None
    webhook_secret: str | None
    config: dict[str, Any]
    phone_number: str | None
    push_name: str | None
    qr_code: str | None
    last_qr_at: datetime | None
    qr_expires_at: datetime | None
    retry_count: int
    error_message: str | None
    created_at: datetime
    updated_at: datetime
    last_seen: datetime | None
    connected_at: datetime | None
    disconnected_at: datetime | None
    #: Held down until then (a temporary ban): recovery does not start it before.
    resume_after: datetime | None

    def __repr__(self) -> str:  # never print the webhook secret
        return f"SessionRow(id={self.id}, status={self.status!r}, label={self.label!r})"

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> SessionRow:
        return cls(**{f.name: record[f.name] for f in fields(cls)})


_COLUMNS = ", ".join(f.name for f in fields(SessionRow))
_INSERT = f"""INSERT INTO sessions (id, label, webhook_url, webhook_secret, config)
               VALUES ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}"""
_CAPACITY_LOCK = 0x7A617068_00000001  # pg_advisory_xact_lock key for session creation


class SessionRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        session_id: uuid.UUID,
        label: str,
        webhook_url: str | None,
        webhook_secret: str | None,
        config: dict[str, Any],
    ) -> SessionRow:
        record = await self._db.fetchrow(
            _INSERT, session_id, label, webhook_url, webhook_secret, config
        )
        assert record is not None
        return SessionRow.from_record(record)

    async def create_within_capacity(
        self,
        session_id: uuid.UUID,
        label: str,
        webhook_url: str | None,
        webhook_secret: str | None,
        config: dict[str, Any],
        max_active: int,
    ) -> SessionRow | None:
        """Insert the session unless `max_active` sessions already run (None then).

        A transaction-scoped advisory lock serialises concurrent creations, so two requests
        cannot both take the last slot.
        """
        async with self._db.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _CAPACITY_LOCK)
            active = await conn.fetchval(
                "SELECT count(*) FROM sessions WHERE status = ANY($1::text[]) AND NOT stopped",
                list(RUNNING_STATUSES),
            )
            if active >= max_active:
                return None
            record = await conn.fetchrow(
                _INSERT, session_id, label, webhook_url, webhook_secret, config
            )
        return SessionRow.from_record(record)

    async def get(self, session_id: uuid.UUID) -> SessionRow | None:
        record = await self._db.fetchrow(f"SELECT {_COLUMNS} FROM sessions WHERE id=$1", session_id)
        return SessionRow.from_record(record) if record else None

    async def list_page(
        self,
        status: str | None,
        limit: int,
        offset: int,
        sort_by: str,
        sort_order: str,
        only: uuid.UUID | None = None,
    ) -> tuple[list[SessionRow], int]:
        """A page of the sessions (`only`: of that one, for a session key)."""
        if sort_by not in SORTABLE or sort_order not in ("asc", "desc"):
            raise ValueError("unsupported sort")
        # A session whose deletion was accepted is gone for the API, as in SessionCommands.
        conditions, args = ["NOT stopped"], list[Any]()
        for column, value in (("status", status), ("id", only)):
            if value is not None:
                args.append(value)
                conditions.append(f"{column}=${len(args)}")
        where = "WHERE " + " AND ".join(conditions)
        order = f"{sort_by} {sort_order.upper()} NULLS LAST, id"
        n = len(args)
        records = await self._db.fetch(
            f"""SELECT {_COLUMNS}, count(*) OVER () AS total FROM sessions {where}
                ORDER BY {order} LIMIT ${n + 1} OFFSET ${n + 2}""",
            *args,
            limit,
            offset,
        )
        if records:
            return [SessionRow.from_record(r) for r in records], int(records[0]["total"])
        total = await self._db.fetchval(f"SELECT count(*) FROM sessions {where}", *args)
        return [], int(total)

    async def update(self, session_id: uuid.UUID, **values: Any) -> SessionRow | None:
        """Set the given columns (and updated_at); None when the session does not exist."""
        unknown = set(values) - WRITABLE
        if unknown:
            raise ValueError(f"not writable: {sorted(unknown)}")
        assignments = ", ".join(f"{name}=${i}" for i, name in enumerate(values, start=2))
        record = await self._db.fetchrow(
            f"""UPDATE sessions SET {assignments}, updated_at=now() WHERE id=$1
                RETURNING {_COLUMNS}""",
            session_id,
            *values.values(),
        )
        return SessionRow.from_record(record) if record else None

    async def merge_config(self, session_id: uuid.UUID, patch: dict[str, Any]) -> None:
        await self._db.execute(
            "UPDATE sessions SET config = config || $2, updated_at=now() WHERE id=$1",
            session_id,
            patch,
        )

    async def delete(self, session_id: uuid.UUID) -> bool:
        return await self._db.execute("DELETE FROM sessions WHERE id=$1", session_id) == "DELETE 1"

    async def recoverable(self) -> list[SessionRow]:
        """Sessions that should be running, most recently seen first."""
        records = await self._db.fetch(
            f"""SELECT {_COLUMNS} FROM sessions
                WHERE status = ANY($1::text[]) AND NOT stopped
                  AND (resume_after IS NULL OR resume_after <= now())
                ORDER BY last_seen DESC NULLS LAST, created_at DESC""",
            list(RUNNING_STATUSES),
        )
        return [SessionRow.from_record(r) for r in records]

    async def count_active(self) -> int:
        """Sessions that hold (or will hold) a socket: the capacity in use."""
        return int(
            await self._db.fetchval(
                "SELECT count(*) FROM sessions WHERE status = ANY($1::text[]) AND NOT stopped",
                list(RUNNING_STATUSES),
            )
        )

    async def count_by_status(self) -> dict[str, int]:
        records = await self._db.fetch(
            "SELECT status, count(*) AS n FROM sessions WHERE NOT stopped GROUP BY status"
        )
        counts = dict.fromkeys(STATUSES, 0)
        counts.update({r["status"]: int(r["n"]) for r in records})
        return counts
