"""The Database wrapper against a real Postgres."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from zaphubd.db.database import Database


async def test_a_statement_aborted_by_a_deadlock_runs_again(pg_url: str) -> None:
    """Two writers lock two rows in opposite orders; Postgres aborts ours (the other one's
    deadlock_timeout is longer), and the wrapper runs it again instead of failing."""
    table = "deadlock_" + uuid.uuid4().hex[:8]
    url = pg_url
    other = await asyncpg.connect(url)
    db = await Database.connect(url)
    try:
        await other.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v int NOT NULL)")
        await other.execute(f"INSERT INTO {table} VALUES (1, 0), (2, 0)")
        await other.execute("SET deadlock_timeout = '10s'")
        tx = other.transaction()
        await tx.start()
        await other.execute(f"UPDATE {table} SET v = v + 1 WHERE id = 2")
        # Ours locks row 1 (first in the heap), then waits for row 2...
        ours = asyncio.create_task(db.execute(f"UPDATE {table} SET v = v + 10 WHERE id IN (1, 2)"))
        await asyncio.sleep(0.3)
        # ...while the other one now waits for row 1: a deadlock, ours is aborted after 1 s.
        await other.execute(f"UPDATE {table} SET v = v + 1 WHERE id = 1")
        await tx.commit()
        assert await asyncio.wait_for(ours, 10) == "UPDATE 2"
        rows = await other.fetch(f"SELECT id, v FROM {table} ORDER BY id")
        assert [(r["id"], r["v"]) for r in rows] == [(1, 11), (2, 11)]
    finally:
        await other.execute(f"DROP TABLE IF EXISTS {table}")
        await other.close()
        await db.close()
