"""A consumer's housekeeping: due delayed jobs, keep-alive of live entries, reclaim of dead ones.

Runs as one loop per consumer. Several daemons may run it for the same queue at once: the
delayed mover is one atomic script, and XAUTOCLAIM hands each abandoned entry to one caller.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from zaphubd.queue import keys
from zaphubd.queue.job import Job
from zaphubd.queue.redis import OUTAGE_ERRORS, RedisClient
from zaphubd.queue.scripts import MOVE_DUE

if TYPE_CHECKING:
    from redis.asyncio.client import Pipeline
    from redis.asyncio.cluster import ClusterPipeline

    from zaphubd.queue.consumer import Consumer

log = logging.getLogger("zaphubd.queue")
MOVE_INTERVAL_S = 0.05
MOVE_BATCH = 500
CLAIM_CHUNK = 500


class Maintenance:
    def __init__(self, consumer: Consumer, redis: RedisClient, visibility_timeout_s: float):
        self._consumer = consumer
        self._redis = redis
        self._queue = consumer.spec.name
        self._visibility_ms = int(visibility_timeout_s * 1000)
        self._keepalive_every_s = visibility_timeout_s / 3
        self._reclaim_every_s = visibility_timeout_s / 2
        self._mover = redis.register_script(MOVE_DUE)
        self._recovered: set[str] = set()

    async def run(self) -> None:
        last_keepalive = last_reclaim = time.monotonic()
        failures = 0
        while True:
            try:
                await self.move_due()
                now = time.monotonic()
                if now - last_keepalive >= self._keepalive_every_s:
                    await self.keepalive()
                    last_keepalive = now
                if now - last_reclaim >= self._reclaim_every_s:
                    await self.reclaim()
                    last_reclaim = now
                failures = 0
                await asyncio.sleep(MOVE_INTERVAL_S)
            except OUTAGE_ERRORS as err:
                failures += 1
                await self._consumer._outage_pause("maintenance", err, failures)

    async def move_due(self) -> int:
        """Move every due delayed job into the stream; return how many moved."""
        total = 0
        while True:
            moved = int(
                await self._mover(
                    keys=[keys.delayed(self._queue), keys.stream(self._queue)],
                    args=[int(time.time() * 1000), MOVE_BATCH],
                )
            )
            total += moved
            if moved < MOVE_BATCH:
                return total

    async def keepalive(self) -> None:
        """Reset the idle time of entries we run or hold, so nobody reclaims them."""
        ids: list[Any] = self._consumer.live_entry_ids
        for start in range(0, len(ids), CLAIM_CHUNK):
            await self._redis.xclaim(
                keys.stream(self._queue),
                keys.GROUP,
                self._consumer.name,
                min_idle_time=0,
                message_ids=ids[start : start + CLAIM_CHUNK],
                justid=True,
            )

    async def reclaim(self) -> None:
        """Take over entries idle past the visibility timeout (their consumer went silent)."""
        free = self._consumer.free_slots
        if not free:
            return
        reply = await self._redis.xautoclaim(
            keys.stream(self._queue),
            keys.GROUP,
            self._consumer.name,
            min_idle_time=self._visibility_ms,
            start_id="0-0",
            count=free,
        )
        for entry_id, fields in reply[1]:
            await self._consumer.dispatch(entry_id, fields, recovered=True)

    async def may_retry_recovered(self, job: Job) -> bool:
        """Count how often an entry outlived its consumer; past max_attempts it is poison."""
        count = int(await self._redis.hincrby(keys.reclaims(self._queue), job.entry_id, 1))
        self._recovered.add(job.entry_id)
        if count <= self._consumer.spec.max_attempts:
            return True
        reason = (
            f"abandoned {count - 1} time(s) by a consumer that crashed or stalled while running it"
        )
        await self._consumer.settle_dead(job, reason)
        self._recovered.discard(job.entry_id)
        return False

    def forget_recovered(self, pipe: Pipeline | ClusterPipeline, entry_ids: list[str]) -> None:
        """Drop the recovery counters of entries that finished (added to the ack pipeline)."""
        done = [eid for eid in entry_ids if eid in self._recovered]
        if done:
            pipe.hdel(keys.reclaims(self._queue), *done)
            self._recovered.difference_update(done)

    async def clear_recovered(self, entry_id: str) -> None:
        """A recovered entry's handler ran to completion (and held it): not poison."""
        if entry_id in self._recovered:
            self._recovered.discard(entry_id)
            await self._redis.hdel(keys.reclaims(self._queue), entry_id)
