"""Send lanes: one in-process FIFO and one task per session.

A lane runs its session's work one item at a time, in arrival order (so every chat keeps its
order), waits while the session is not connected (without spending attempts: the work asks
for the client right before each attempt), and spaces sends by the session's
`sendRatePerMinute`. Sessions are independent: one slow or dead session never holds up
another's lane.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from zaphubd.sessions.manager import SessionManager
from zaphubd.transport.base import Client

log = logging.getLogger("zaphubd.sessions.lanes")


class LaneContext:
    """What a lane's work item gets: the session, and the way to its connected client."""

    def __init__(self, lane: SendLane) -> None:
        self._lane = lane
        self.session_id = lane.session_id

    async def ready(self) -> Client:
        """Wait until the session is connected here and the pacing allows a send."""
        client = await self._lane.manager.wait_connected(self.session_id)
        await self._lane.pace()
        return client


LaneWork = Callable[[LaneContext], Awaitable[None]]


class SendLane:
    def __init__(
        self, session_id: uuid.UUID, manager: SessionManager, on_done: Callable[[uuid.UUID], None]
    ):
        self.session_id = session_id
        self.manager = manager
        self._queue: asyncio.Queue[tuple[uuid.UUID, LaneWork]] = asyncio.Queue()
        self._on_done = on_done
        self._last_send = 0.0
        self._task = asyncio.create_task(self._run(), name=f"lane:{session_id}")

    def put(self, key: uuid.UUID, work: LaneWork) -> None:
        self._queue.put_nowait((key, work))

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    async def pace(self) -> None:
        rate = self.manager.send_rate_per_minute(self.session_id)
        if rate:
            wait = self._last_send + 60.0 / rate - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        self._last_send = time.monotonic()

    async def _run(self) -> None:
        context = LaneContext(self)
        while True:
            key, work = await self._queue.get()
            try:
                await work(context)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("send lane %s: work item %s failed", self.session_id, key)
            finally:
                self._on_done(key)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class SendLanes:
    """Every session's lane, created on first use. `submit` is synchronous so work arrives in
    the order the callers made it (the queue consumer dispatches in stream order)."""

    def __init__(self, manager: SessionManager) -> None:
        self._manager = manager
        self._lanes: dict[uuid.UUID, SendLane] = {}
        self._known: set[uuid.UUID] = set()

    def knows(self, key: uuid.UUID) -> bool:
        """Whether this work item is queued or running in a lane of this process."""
        return key in self._known

    def submit(self, session_id: uuid.UUID, key: uuid.UUID, work: LaneWork) -> bool:
        """Queue `work` on the session's lane; False when `key` is already there."""
        if key in self._known:
            return False
        lane = self._lanes.get(session_id)
        if lane is None:
            lane = self._lanes[session_id] = SendLane(
                session_id, self._manager, self._known.discard
            )
        self._known.add(key)
        lane.put(key, work)
        return True

    def depth(self) -> int:
        return sum(lane.depth for lane in self._lanes.values())

    async def close(self) -> None:
        """Cancel every lane. Work not finished stays pending in its queue: it runs again."""
        await asyncio.gather(*(lane.close() for lane in self._lanes.values()))
        self._lanes.clear()
        self._known.clear()
