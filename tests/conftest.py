"""Shared fixtures: real Postgres and Redis for the whole test session.

`redis_url` is a single Redis, or with ZAPHUB_TEST_REDIS=cluster a 3-master Redis Cluster
(`make test-cluster`); tests/queue runs on both in any case. The cluster starts only when a
test asks for it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.gateway import gateway_fixture
from tests.redis_cluster import RedisClusterProcesses, start_cluster
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
from zaphubd.queue.redis import RedisClient, client_from_url
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


REDIS_BACKENDS = ("single", "cluster")


def redis_backend_from_env() -> str:
    backend = os.environ.get("ZAPHUB_TEST_REDIS", "single")
    if backend not in REDIS_BACKENDS:
        raise pytest.UsageError(f"ZAPHUB_TEST_REDIS must be one of {REDIS_BACKENDS}")
    return backend


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterProcesses]:
    base = Path(tempfile.mkdtemp(prefix="zaphubd-cluster-"))
    cluster = start_cluster(base)
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def redis_backend() -> str:
    """Which Redis `redis_url` is; tests/queue overrides this to run on both."""
    return redis_backend_from_env()


@pytest.fixture
async def redis_url(
    services: LocalServices, redis_backend: str, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    """An empty Redis (or Redis Cluster) for this test."""
    url = services.redis_url
    if redis_backend == "cluster":
        url = request.getfixturevalue("redis_cluster").url
    client = client_from_url(url)
    await client.flushall()  # on a cluster: on every master
    await client.aclose()
    yield url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[RedisClient]:
    client = client_from_url(redis_url)
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
        app: web.Application | None = None,
        headers: dict[str, str] | None = None,
        **overrides: object,
    ) -> TestClient[web.Request, web.Application]:
        settings = make_settings(pg_url, redis_url, **overrides)
        # As the daemon does (daemon.py): no aiohttp access log, whose request line would
        # carry an ?api_key= query; zaphubd writes its own access line without the query.
        # (TestServer drops the runner options given to its constructor: start it here.)
        server = TestServer(app or build_app(settings))
        await server.start_server(access_log=None)
        client = TestClient(server, headers=headers)  # headers: sent with every request
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


gateway = pytest.fixture(gateway_fixture, name="gateway")
__all__ = ["start_simnet"]  # a fixture, registered by being imported here
