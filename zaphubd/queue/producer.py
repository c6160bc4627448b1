"""Publishing jobs: into the stream now, or into the delayed set when not yet due.

Jobs go to Redis through one Lua script per batch (XADD_MANY): redis-py spends far more
time packing one command per job than Redis spends adding them. Single `publish` calls made
in the same event-loop pass (concurrent API requests) are coalesced into one such batch, so
each caller still gets its own answer, and an outage fails every caller of that batch.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from typing import Any

from zaphubd.jsonutil import dumps
from zaphubd.queue import keys
from zaphubd.queue.job import delayed_member
from zaphubd.queue.redis import RedisClient, outage_as_unavailable
from zaphubd.queue.scripts import XADD_MANY

BATCH = 500


def _now_ms() -> int:
    return int(time.time() * 1000)


def _fields(job_id: str, data: dict[str, Any], now_ms: int) -> list[Any]:
    """The script's four arguments for one new job (see job.entry_fields)."""
    return [job_id, dumps(data), "0", str(now_ms)]


class Publisher:
    """Adds jobs to queues. Raises DependencyUnavailable when Redis is down."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._xadd_many = redis.register_script(XADD_MANY)
        self._pending: dict[str, list[tuple[list[Any], asyncio.Future[None]]]] = {}
        self._flushes: set[asyncio.Task[None]] = set()

    async def publish(
        self,
        queue: str,
        data: dict[str, Any],
        *,
        job_id: str | None = None,
        delay_s: float = 0.0,
    ) -> str:
        """Enqueue one job; return its id. With `delay_s` it becomes visible when due."""
        job_id = job_id or uuid.uuid4().hex
        now = _now_ms()
        async with outage_as_unavailable():
            if delay_s > 0:
                member = delayed_member(job_id, dumps(data), 0, now)
                await self._redis.zadd(keys.delayed(queue), {member: now + int(delay_s * 1000)})
            else:
                await self._coalesced(keys.stream(queue), _fields(job_id, data, now))
        return job_id

    async def publish_many(
        self, queue: str, jobs: Sequence[tuple[str | None, dict[str, Any]]]
    ) -> list[str]:
        """Enqueue many jobs in as few round trips as batches; return their ids in order."""
        ids = [job_id or uuid.uuid4().hex for job_id, _ in jobs]
        now = _now_ms()
        stream = keys.stream(queue)
        flat = [
            arg
            for job_id, (_, data) in zip(ids, jobs, strict=True)
            for arg in _fields(job_id, data, now)
        ]
        async with outage_as_unavailable():
            for start in range(0, len(flat), BATCH * 4):
                await self._xadd_many(keys=[stream], args=flat[start : start + BATCH * 4])
        return ids

    async def _coalesced(self, stream: str, fields: list[Any]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.setdefault(stream, []).append((fields, future))
        await future

    def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        task = asyncio.create_task(self._send_all(pending))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _send_all(
        self, pending: dict[str, list[tuple[list[Any], asyncio.Future[None]]]]
    ) -> None:
        # One batch after the other: jobs reach each stream in the order they were published.
        for stream, items in pending.items():
            for start in range(0, len(items), BATCH):
                await self._send(stream, items[start : start + BATCH])

    async def _send(self, stream: str, items: list[tuple[list[Any], asyncio.Future[None]]]) -> None:
        flat = [arg for fields, _ in items for arg in fields]
        try:
            await self._xadd_many(keys=[stream], args=flat)
        except Exception as err:
            for _, future in items:
                if not future.done():
                    future.set_exception(err)
            return
        for _, future in items:
            if not future.done():
                future.set_result(None)
