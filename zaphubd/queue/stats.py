"""How much work each queue holds, for /sessions/stats and /metrics."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from zaphubd.queue import keys
from zaphubd.queue.redis import RedisClient, outage_as_unavailable


@dataclass(frozen=True, slots=True)
class QueueCounts:
    #: Entries in the stream not yet handed to a consumer.
    waiting: int
    #: Entries handed to a consumer and not yet acknowledged (running or held).
    in_flight: int
    #: Jobs waiting in the delayed set for a retry or a delay.
    delayed: int
    #: Jobs in the dead-letter stream.
    dead: int

    @property
    def pending(self) -> int:
        """Work that will run: waiting now or later."""
        return self.waiting + self.delayed


async def queue_counts(redis: RedisClient, queues: Iterable[str]) -> dict[str, QueueCounts]:
    names = list(queues)
    async with outage_as_unavailable():
        pipe = redis.pipeline(transaction=False)
        for queue in names:
            pipe.xlen(keys.stream(queue))
            pipe.xpending(keys.stream(queue), keys.GROUP)
            pipe.zcard(keys.delayed(queue))
            pipe.xlen(keys.dead_letters(queue))
        results = await pipe.execute(raise_on_error=False)
    counts = {}
    for index, queue in enumerate(names):
        length, pending, delayed, dead = results[index * 4 : index * 4 + 4]
        # XPENDING fails with NOGROUP before the first consumer created the group.
        in_flight = int(pending["pending"]) if isinstance(pending, dict) else 0
        counts[queue] = QueueCounts(
            waiting=max(0, int(length) - in_flight),
            in_flight=in_flight,
            delayed=int(delayed),
            dead=int(dead),
        )
    return counts
