"""Wake-ups: short signals from one node to another, through that node's Redis stream.

`send`: sends wait in Postgres for a session the receiving node runs (its lane reads them).
`place`: a session needs a node; the receiving node should run its recovery pass now.
A wake-up carries no work, only a session id, so losing one costs latency, never a message
(an idle lane reads its queue again every `poll_s`; recovery passes run on a timer too). A
session running on this node is woken in process. Each node reads its own stream from the
moment it starts; the stream is trimmed to a fixed length, so it never grows with the traffic.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal

from zaphubd.backoff import backoff_delay
from zaphubd.queue import keys
from zaphubd.queue.redis import OUTAGE_ERRORS, RedisClient

log = logging.getLogger("zaphubd.queue.wakeups")

Kind = Literal["send", "place"]
#: Handles a wake-up on this node; for `send`, False when the session does not run here.
Handler = Callable[[uuid.UUID], bool]
#: The node holding each session's lease (None: nobody).
Owners = Callable[[Iterable[uuid.UUID]], Awaitable[dict[uuid.UUID, str | None]]]
STREAM_MAXLEN = 10_000
READ_BLOCK_MS = 1000
READ_COUNT = 500


class Wakeups:
    def __init__(self, redis: RedisClient, node_id: str, owners: Owners) -> None:
        self._redis = redis
        self._node_id = node_id
        self._owners = owners
        self._handlers: dict[str, Handler] = {}

    def handle(self, kind: Kind, handler: Handler) -> None:
        self._handlers[kind] = handler

    async def wake(self, session_id: uuid.UUID) -> None:
        """Tell the session's owner that sends wait. Best effort: a wake-up that cannot be
        sent is made up for by the lane's poll."""
        if self._local("send", session_id):
            return
        try:
            owner = (await self._owners([session_id])).get(session_id)
            if owner and owner != self._node_id:
                await self._send(owner, "send", session_id)
        except OUTAGE_ERRORS as err:
            log.debug("wake-up for %s not sent (its lane will poll): %s", session_id, err)

    async def signal(self, node_id: str, kind: Kind, session_id: uuid.UUID) -> None:
        """Best effort, like `wake`: the receiver's timer makes up for a lost signal."""
        if node_id == self._node_id:
            self._local(kind, session_id)
            return
        try:
            await self._send(node_id, kind, session_id)
        except OUTAGE_ERRORS as err:
            log.debug("%s signal for %s not sent to %s: %s", kind, session_id, node_id, err)

    async def _send(self, node_id: str, kind: Kind, session_id: uuid.UUID) -> None:
        await self._redis.xadd(
            keys.wake_stream(node_id),
            {"s": str(session_id), "k": kind},
            maxlen=STREAM_MAXLEN,
            approximate=True,
        )

    def _local(self, kind: str, session_id: uuid.UUID) -> bool:
        handler = self._handlers.get(kind)
        return handler(session_id) if handler else False

    async def run(self) -> None:
        """Read this node's stream and hand each wake-up to its handler."""
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
                self._dispatch(fields)

    def _dispatch(self, fields: dict[bytes, bytes]) -> None:
        try:
            session_id = uuid.UUID(fields.get(b"s", b"").decode())
        except ValueError:
            return
        self._local(fields.get(b"k", b"send").decode(), session_id)
