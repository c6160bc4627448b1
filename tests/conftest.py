"""Shared fixtures: real Postgres and Redis for the whole test session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from tests.services import (
    LocalServices,
    clone_database,
    create_template,
    drop_database,
    start_services,
)
from zaphubd.db.database import Database


@pytest.fixture(scope="session")
def services() -> Iterator[LocalServices]:
    running = start_services()
    try:
        asyncio.run(create_template(running))
        yield running
    finally:
        running.stop()


@pytest.fixture
async def pg_url(services: LocalServices) -> AsyncIterator[str]:
    """A fresh, migrated database for this test."""
    url = await clone_database(services)
    yield url
    await drop_database(services, url)


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[Database]:
    database = await Database.connect(pg_url, min_size=1, max_size=10)
    yield database
    await database.close()


@pytest.fixture
async def redis_url(services: LocalServices) -> AsyncIterator[str]:
    """An empty Redis for this test."""
    client = aioredis.Redis.from_url(services.redis_url)
    await client.flushall()
    await client.aclose()
    yield services.redis_url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()
