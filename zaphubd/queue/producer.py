"""Publishing jobs: XADD (pipelined for batches), or into the delayed set when not yet due."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

from zaphubd.jsonutil import dumps
from zaphubd.queue import keys
from zaphubd.queue.job import delayed_member, entry_fields
from zaphubd.queue.redis import outage_as_unavailable


def _now_ms() -> int:
    return int(time.time() * 1000)


class Publisher:
    """Adds jobs to queues. Raises DependencyUnavailable when Redis is down."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

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
        payload = dumps(data)
        now = _now_ms()
        async with outage_as_unavailable():
            if delay_s > 0:
                member = delayed_member(job_id, payload, 0, now)
                await self._redis.zadd(keys.delayed(queue), {member: now + int(delay_s * 1000)})
            else:
                await self._redis.xadd(keys.stream(queue), entry_fields(job_id, payload, 0, now))
        return job_id

    async def publish_many(
        self, queue: str, jobs: Sequence[tuple[str | None, dict[str, Any]]]
    ) -> list[str]:
        """Enqueue many jobs in one pipelined round trip; return their ids in order."""
        ids = [job_id or uuid.uuid4().hex for job_id, _ in jobs]
        now = _now_ms()
        stream = keys.stream(queue)
        async with outage_as_unavailable():
            pipe = self._redis.pipeline(transaction=False)
            for job_id, (_, data) in zip(ids, jobs, strict=True):
                pipe.xadd(stream, entry_fields(job_id, dumps(data), 0, now))
            await pipe.execute()
        return ids
