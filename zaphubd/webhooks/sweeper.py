"""The delivery sweeper: a queued delivery whose job was lost is published again.

A delivery row is written before its job is published. If the publish failed (Redis down) or
the process died in between, the row waits `queued` with no job, and its `next_attempt_at`
falls behind. The sweeper re-publishes queued deliveries more than a grace period overdue.
It skips a pass while the stream still has undelivered entries (a backlog: their jobs are
coming). The grace covers the longest a job can wait in a host lane. When the queue holds no
job at all (nothing waiting, running or delayed), no queued row can have one, so the shorter
`idle_grace_s` applies: after a crash between a row and its publish, the delivery goes out
within about half a minute rather than after the full grace. A duplicate that slips through
is harmless: it carries the same deliveryId, which receivers dedupe on.
"""

from __future__ import annotations

import logging

from zaphubd.db.webhooks import WebhookRepo
from zaphubd.queue import keys, queue_counts
from zaphubd.queue.redis import RedisClient
from zaphubd.queue.sweep import sweep_forever
from zaphubd.webhooks.queueing import DeliveryQueue

log = logging.getLogger("zaphubd.webhooks")
BATCH = 500


class DeliverySweeper:
    def __init__(
        self,
        repo: WebhookRepo,
        deliveries: DeliveryQueue,
        redis: RedisClient,
        *,
        grace_s: float,
        idle_grace_s: float = 30.0,
        interval_s: float = 10.0,
    ) -> None:
        self._repo = repo
        self._deliveries = deliveries
        self._redis = redis
        self._grace_s = grace_s
        # Still a grace: a row written a moment ago may be just before its publish.
        self._idle_grace_s = min(idle_grace_s, grace_s)
        self._interval_s = interval_s

    async def run(self) -> None:
        await sweep_forever(self.sweep_once, interval_s=self._interval_s, what="webhooks", log=log)

    async def sweep_once(self) -> int:
        counts = (await queue_counts(self._redis, [keys.WEBHOOK_DELIVERY]))[keys.WEBHOOK_DELIVERY]
        if counts.waiting:
            return 0
        idle = not (counts.in_flight or counts.delayed)
        grace = self._idle_grace_s if idle else self._grace_s
        lost = await self._repo.claim_overdue(grace, BATCH)
        if lost:
            await self._deliveries.requeue(lost)
        return len(lost)
