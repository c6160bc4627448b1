"""Wake-ups: telling the node that runs a session that sends wait for it in Postgres.

A wake-up carries no work, only a session id, so losing one costs latency, never a message
(an idle lane reads its queue again every `poll_s`). A session running on this node is woken
in process; one running on another node through that node's wake-up stream, found from the
session's lease. Each node reads its own stream from the moment it starts; the stream is
trimmed to a fixed length, so it never grows with the traffic.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from zaphubd.backoff import backoff_delay
from zaphubd.queue import keys
from zaphubd.queue.redis import OUTAGE_ERRORS, RedisClient

log = logging.getLogger("zaphubd.queue.wakeups")

#: Wakes the local lane of a session; False when the session does not run here.
WakeLocal = Callable[[uuid.UUID], bool]
#: The node holding each session's lease (None: nobody).
Owners = Callable[[Iterable[uuid.UUID]], Awaitable[dict[uuid.UUID, str | None]]]
STREAM_MAXLEN = 10_000
READ_BLOCK_MS = 1000
READ_COUNT = 500


class Wakeups:
    def __init__(
        self, redis: RedisClient, node_id: str, wake_local: WakeLocal, owners: Owners
    ) -> None:
        self._redis = redis
        self._node_id = node_id
        self._wake_local = wake_local
        self._owners = owners

    async def wake(self, session_id: uuid.UUID) -> None:
        """Best effort: a wake-up that cannot be sent is made up for by the lane's poll."""
        if self._wake_local(session_id):
            return
        try:
            owner = (await self._owners([session_id])).get(session_id)
            if owner and owner != self._node_id:
                await self._redis.xadd(
                    keys.wake_stream(owner),
                    {"s": str(session_id)},
                    maxlen=STREAM_MAXLEN,
                    approximate=True,
                )
        except OUTAGE_ERRORS as err:
            log.debug("wake-up for %s not sent (its lane will poll): %s", session_id, err)

    async def run(self) -> None:
        """Read this node's wake-up stream and wake the lanes it names."""
        stream, cursor, failures = keys.wake_stream(self._node_id), "$", 0
        while True:
            try:
                reply: Any = await self._redis.xread(
                    {stream: cursor}, count=READ_COUNT, block=READ_BLOCK_MS
                )
                failures = 0
            except OUTAGE_ERRORS as err:
                failures += 1
                if failures == 1:
                    log.warning("wake-ups: redis unavailable, lanes poll meanwhile: %s", err)
                await asyncio.sleep(backoff_delay(failures - 1, 0.2, 5.0))
                continue
            for entry_id, fields in reply[0][1] if reply else []:
                cursor = entry_id
                self._wake_id(fields.get(b"s", b""))

    def _wake_id(self, raw: bytes) -> None:
        try:
            session_id = uuid.UUID(raw.decode())
        except ValueError:
            return
        self._wake_local(session_id)
