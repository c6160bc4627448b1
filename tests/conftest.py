"""Shared fixtures: real Postgres and Redis for the whole test session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.gateway import gateway_fixture
from tests.services import (
    LocalServices,
    clone_database,
    create_template,
    drop_database,
    start_services,
)
from tests.simnet_harness import start_simnet
from zaphubd.daemon import build_app
from zaphubd.db.database import Database
from zaphubd.settings import Settings


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


def make_settings(pg_url: str, redis_url: str, **overrides: object) -> Settings:
    """Settings for an in-process daemon on the test services; overrides use field names."""
    values: dict[str, object] = {
        "database_url": pg_url,
        "redis_url": redis_url,
        "http_port": 1,
        "startup_timeout_s": 5,
        "log_format": "text",
        "transport": "simnet",  # nothing connects unless a test starts simnet
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def api(
    pg_url: str, redis_url: str
) -> AsyncIterator[Callable[..., Awaitable[TestClient[web.Request, web.Application]]]]:
    """Start the daemon app in-process (all its cleanup contexts) and return a client."""
    clients: list[TestClient[web.Request, web.Application]] = []

    async def start(
        app: web.Application | None = None, **overrides: object
    ) -> TestClient[web.Request, web.Application]:
        settings = make_settings(pg_url, redis_url, **overrides)
        client = TestClient(TestServer(app or build_app(settings)))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


gateway = pytest.fixture(gateway_fixture, name="gateway")
__all__ = ["start_simnet"]  # a fixture, registered by being imported here
