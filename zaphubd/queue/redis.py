"""The Redis connection, and how its outages surface."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
import redis.exceptions

from zaphubd.backoff import retry_until_deadline
from zaphubd.errors import DependencyUnavailable
from zaphubd.settings import redact_url

log = logging.getLogger("zaphubd.queue")

#: What redis-py raises when the server is gone, restarting, loading, or unreachable.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    OSError,
)


async def connect_redis(url: str, startup_timeout_s: float = 30) -> aioredis.Redis:
    """A pooled client (bytes in, bytes out), once the server answers PING."""
    client = aioredis.Redis.from_url(
        url,
        socket_connect_timeout=5,
        socket_keepalive=True,
        health_check_interval=30,
        max_connections=200,
    )

    async def ping() -> aioredis.Redis:
        await client.ping()
        return client

    try:
        await retry_until_deadline(ping, "redis", startup_timeout_s, OUTAGE_ERRORS)
    except DependencyUnavailable:
        await client.aclose()
        raise
    log.info("connected to redis at %s", redact_url(url))
    return client


@asynccontextmanager
async def outage_as_unavailable() -> AsyncIterator[None]:
    """Turn a Redis outage into DependencyUnavailable (the API answers 503)."""
    try:
        yield
    except OUTAGE_ERRORS as err:
        raise DependencyUnavailable("redis", str(err) or type(err).__name__) from err
