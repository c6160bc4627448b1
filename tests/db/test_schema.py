"""The schema enforces what API.md and DESIGN.md promise."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from zaphubd.db.database import Database


async def _session(db: Database) -> uuid.UUID:
    sid = uuid.uuid4()
    await db.execute("INSERT INTO sessions (id, label) VALUES ($1, 'test')", sid)
    return sid


async def test_status_checks_follow_the_api(db: Database) -> None:
    sid = await _session(db)
    await db.execute("UPDATE sessions SET status='reconnecting' WHERE id=$1", sid)
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute("UPDATE sessions SET status='bogus' WHERE id=$1", sid)


async def test_message_id_is_unique_per_session(db: Database) -> None:
    sid = await _session(db)
    insert = (
        "INSERT INTO messages (id, session_id, message_id, direction, type, to_jid, status)"
        " VALUES ($1, $2, 'k1', 'outbound', 'text', 'x@s.whatsapp.net', 'queued')"
    )
    await db.execute(insert, uuid.uuid4(), sid)
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(insert, uuid.uuid4(), sid)
    other = await _session(db)
    await db.execute(insert, uuid.uuid4(), other)


async def test_jsonb_round_trips_through_orjson(db: Database) -> None:
    sid = await _session(db)
    config = {"retryLimit": 3, "webhookEvents": ["message.*"], "nested": {"a": [1, 2]}}
    await db.execute("UPDATE sessions SET config=$2 WHERE id=$1", sid, config)
    assert await db.fetchval("SELECT config FROM sessions WHERE id=$1", sid) == config


async def test_deleting_a_session_removes_its_rows(db: Database) -> None:
    sid = await _session(db)
    await db.execute(
        "INSERT INTO events (session_id, event_type, event_category) VALUES ($1, 'a.b', 'a')", sid
    )
    await db.execute("DELETE FROM sessions WHERE id=$1", sid)
    assert await db.fetchval("SELECT count(*) FROM events") == 0
