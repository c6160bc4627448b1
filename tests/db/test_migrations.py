"""The migration runner against a real Postgres."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from tests.services import LocalServices
from zaphubd.db.migrations import Migration, load_migrations, migrate
from zaphubd.errors import MigrationError


@pytest.fixture
async def empty_url(services: LocalServices):  # type: ignore[no-untyped-def]
    name = "m_" + uuid.uuid4().hex[:12]
    admin = await asyncpg.connect(services.pg_admin_url)
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    yield services.pg_url(name)
    admin = await asyncpg.connect(services.pg_admin_url)
    await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    await admin.close()


async def test_applies_pending_once_and_records_checksums(empty_url: str) -> None:
    conn = await asyncpg.connect(empty_url)
    try:
        first = await migrate(conn)
        second = await migrate(conn)
        rows = await conn.fetch("SELECT name, checksum FROM schema_migrations ORDER BY version")
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
    finally:
        await conn.close()
    known = load_migrations()
    assert first == [m.name for m in known]
    assert second == []
    assert [(r["name"], r["checksum"]) for r in rows] == [(m.name, m.checksum) for m in known]
    assert {"sessions", "messages", "events", "calls", "webhook_deliveries"} <= tables


async def test_refuses_an_applied_file_that_was_edited(empty_url: str) -> None:
    conn = await asyncpg.connect(empty_url)
    try:
        await migrate(conn)
        edited = [Migration(m.version, m.name, m.sql + "\n-- edited") for m in load_migrations()]
        with pytest.raises(MigrationError, match="edited after it was applied"):
            await migrate(conn, edited)
    finally:
        await conn.close()


async def test_refuses_a_database_newer_than_the_code(empty_url: str) -> None:
    conn = await asyncpg.connect(empty_url)
    try:
        known = load_migrations()
        newer = [*known, Migration(len(known) + 1, "999_future.sql", "SELECT 1")]
        await migrate(conn, newer)
        with pytest.raises(MigrationError, match="newer than this zaphubd"):
            await migrate(conn, known)
    finally:
        await conn.close()


async def test_concurrent_runners_apply_each_file_once(empty_url: str) -> None:
    conns = [await asyncpg.connect(empty_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        count = await conns[0].fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        for c in conns:
            await c.close()
    applied = [names for names in results if names]
    assert len(applied) == 1
    assert count == len(load_migrations())


async def test_a_failing_migration_leaves_nothing_behind(empty_url: str) -> None:
    conn = await asyncpg.connect(empty_url)
    try:
        broken = [Migration(1, "001_broken.sql", "CREATE TABLE half (id int); SELECT nope;")]
        with pytest.raises(asyncpg.UndefinedColumnError):
            await migrate(conn, broken)
        half = await conn.fetchval("SELECT to_regclass('half')")
        recorded = await conn.fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        await conn.close()
    assert half is None
    assert recorded == 0
