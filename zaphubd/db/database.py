"""A thin wrapper over the asyncpg pool: jsonb codecs, slow-query log, outage mapping.

Queries live in the repository modules as SQL. Connection-level failures surface as
`DependencyUnavailable("postgres")`, which the API answers with 503 (never 500).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
import orjson

from zaphubd.backoff import retry_until_deadline
from zaphubd.errors import DependencyUnavailable
from zaphubd.jsonutil import dumps
from zaphubd.settings import redact_url

log = logging.getLogger("zaphubd.db")
SLOW_QUERY_S = 0.5

# What asyncpg raises when the server is gone, restarting, or unreachable.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.ConnectionFailureError,
    TimeoutError,
)


def _encode_json(value: Any) -> str:
    return dumps(value).decode()


async def init_connection(conn: asyncpg.Connection) -> None:
    """jsonb and json columns in and out as Python objects, encoded once with orjson."""
    for typename in ("jsonb", "json"):
        await conn.set_type_codec(
            typename, schema="pg_catalog", encoder=_encode_json, decoder=orjson.loads
        )


async def keep_session(conn: asyncpg.Connection) -> None:
    """Pool reset that skips the server round trip (RESET ALL, UNLISTEN, CLOSE ALL...).

    zaphubd leaves no session state on a pooled connection: no SET, no LISTEN, no held
    cursors, advisory locks only inside transactions or released in `finally`. asyncpg's
    default reset would add one round trip to every query; profiling showed it at 10% of
    the daemon's time under load. asyncpg still clears its local state before calling this.
    """


#: Postgres aborts one of two statements that lock the same rows in opposite orders (two
#: batched UPDATEs of many messages, say: receipts and sent marks). The aborted statement
#: changed nothing, so running it again is safe; giving up would lose a receipt or a sent
#: mark that the caller already holds.
RETRIED_ERRORS = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
RETRIES = 5
T = TypeVar("T")


class Database:
    """The pool, with query helpers that log slow statements and map outages."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(
        cls, url: str, *, min_size: int = 2, max_size: int = 20, startup_timeout_s: float = 30
    ) -> Database:
        async def create() -> asyncpg.Pool:
            return await asyncpg.create_pool(
                url,
                min_size=min_size,
                max_size=max_size,
                init=init_connection,
                command_timeout=60,
                max_inactive_connection_lifetime=300,
                reset=keep_session,
            )

        pool = await retry_until_deadline(create, "postgres", startup_timeout_s, OUTAGE_ERRORS)
        log.info("connected to postgres at %s", redact_url(url))
        return cls(pool)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        try:
            async with self.pool.acquire() as conn:
                yield conn
        except OUTAGE_ERRORS as err:
            raise DependencyUnavailable("postgres", str(err) or type(err).__name__) from err

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.connection() as conn, conn.transaction():
            yield conn

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        return list(await self._run(query, lambda conn: conn.fetch(query, *args)))

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        return await self._run(query, lambda conn: conn.fetchrow(query, *args))

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._run(query, lambda conn: conn.fetchval(query, *args))

    async def execute(self, query: str, *args: Any) -> str:
        return str(await self._run(query, lambda conn: conn.execute(query, *args)))

    async def executemany(self, query: str, args: list[tuple[Any, ...]]) -> None:
        if args:  # asyncpg runs executemany atomically: an aborted one changed nothing
            await self._run(query, lambda conn: conn.executemany(query, args))

    async def _run(self, query: str, call: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """One statement on its own connection (its own transaction), run again when
        Postgres aborted it for a deadlock or a serialization conflict."""
        for attempt in range(RETRIES + 1):
            try:
                async with self.connection() as conn, _timed(query):
                    return await call(conn)
            except RETRIED_ERRORS as err:
                if attempt == RETRIES:
                    raise
                log.warning("statement aborted (%s), running it again", type(err).__name__)
                await asyncio.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
        raise AssertionError("unreachable")

    async def ping(self) -> None:
        await self.fetchval("SELECT 1")


@asynccontextmanager
async def _timed(query: str) -> AsyncIterator[None]:
    started = time.perf_counter()
    yield
    elapsed = time.perf_counter() - started
    if elapsed > SLOW_QUERY_S:
        first_line = " ".join(query.split())[:120]
        log.warning("slow query (%.0f ms): %s", elapsed * 1000, first_line)
