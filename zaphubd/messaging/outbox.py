"""The outbox sweeper: a send the API acknowledged is never lost.

The API writes the message row (`queued`) before publishing its job. If the publish failed
(Redis down) or the process died in between, the row waits with no job. The sweeper
re-publishes queued rows older than a grace period that no lane here knows about. It skips a
pass while the stream still has undelivered entries (their jobs are coming), and duplicates
are harmless: a lane takes each message once and a finished row is not sent again.
"""

from __future__ import annotations

import logging

import redis.asyncio as aioredis

from zaphubd.db.messages import MessageRepo
from zaphubd.queue import keys, queue_counts
from zaphubd.queue.producer import Publisher
from zaphubd.queue.sweep import sweep_forever
from zaphubd.sessions.lanes import SendLanes

log = logging.getLogger("zaphubd.messaging.outbox")
BATCH = 500


class OutboxSweeper:
    def __init__(
        self,
        repo: MessageRepo,
        publisher: Publisher,
        redis: aioredis.Redis,
        lanes: SendLanes,
        *,
        grace_s: float = 30.0,
        interval_s: float = 10.0,
    ) -> None:
        self._repo = repo
        self._publisher = publisher
        self._redis = redis
        self._lanes = lanes
        self._grace_s = grace_s
        self._interval_s = interval_s

    async def run(self) -> None:
        await sweep_forever(self.sweep_once, interval_s=self._interval_s, what="outbox", log=log)

    async def sweep_once(self) -> int:
        counts = (await queue_counts(self._redis, [keys.MESSAGE_SEND]))[keys.MESSAGE_SEND]
        if counts.waiting or counts.delayed:
            return 0  # entries still on their way to a lane
        stale = await self._repo.stale_queued(self._grace_s, BATCH)
        lost = [(row_id, sid) for row_id, sid in stale if not self._lanes.knows(row_id)]
        if lost:
            await self._publisher.publish_many(
                keys.MESSAGE_SEND,
                [(None, {"id": str(row_id), "session_id": str(sid)}) for row_id, sid in lost],
            )
        return len(lost)
