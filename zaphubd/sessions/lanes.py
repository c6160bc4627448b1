"""Send lanes: each session running on this node sends its pending messages, in order.

The messages table is the queue (`db/outbox.py`). A lane exists while its session runs here;
it reads the ids of the session's oldest pending sends, a few dozen at a time (the prefetch,
also capped for all lanes together), and runs them one by one, so every chat keeps its order
and a backlog of any size stays in Postgres. A lane reads nothing while its session is
disconnected, and spaces sends by the session's `sendRatePerMinute`. Lanes are independent: a
session with a huge backlog, or a dead one, never holds up another's sends.

A lane learns of new sends by `wake` (the API, or a wake-up from another node) and, in case a
wake-up was lost, by reading its head again every `poll_s` while idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from zaphubd.backoff import backoff_delay
from zaphubd.db.outbox import OutboxRepo
from zaphubd.sessions.manager import SessionManager
from zaphubd.transport.base import Client

log = logging.getLogger("zaphubd.sessions.lanes")

#: Consecutive unexpected failures of one send (Postgres down mid-send, a bug) before it is
#: given up: the lane must not stay stuck on one message forever.
MAX_UNEXPECTED_FAILURES = 10


@dataclass(frozen=True, slots=True)
class LaneSettings:
    prefetch: int = 32
    total_prefetch: int = 4096
    poll_s: float = 30.0
    #: Backoff after an unexpected failure (Postgres down...), before trying again.
    retry_base_s: float = 0.5
    retry_cap_s: float = 30.0


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


#: Sends one pending message to the end (sent, dlq, or failed for good); raises when it
#: could not tell (the lane tries the same message again after a backoff).
LaneWork = Callable[[LaneContext, uuid.UUID], Awaitable[None]]
#: Gives a message up after MAX_UNEXPECTED_FAILURES (records it as dlq with the reason).
GiveUp = Callable[[uuid.UUID, str], Awaitable[None]]


class PrefetchBudget:
    """How many send ids all lanes may hold in memory together."""

    def __init__(self, total: int) -> None:
        self._free = total
        self._freed = asyncio.Event()

    async def take(self, want: int) -> int:
        """Between 1 and `want` ids' worth, waiting while none is free."""
        while self._free <= 0:
            self._freed.clear()
            await self._freed.wait()
        granted = min(want, self._free)
        self._free -= granted
        return granted

    def give(self, count: int) -> None:
        self._free += count
        self._freed.set()

    @property
    def free(self) -> int:
        return self._free


@dataclass(frozen=True, slots=True)
class LaneState:
    """What a lane is doing, for the stats endpoint."""

    held: int
    waiting_for_pacing: bool


class SendLane:
    def __init__(
        self,
        session_id: uuid.UUID,
        manager: SessionManager,
        lanes: SendLanes,
    ) -> None:
        self.session_id = session_id
        self.manager = manager
        self._lanes = lanes
        self._wakeup = asyncio.Event()
        self._wakeup.set()  # read the head at once: sends may be waiting already
        self._held = 0
        self._last_send = 0.0
        self._pacing = False
        self._task = asyncio.create_task(self._run(), name=f"lane:{session_id}")

    def wake(self) -> None:
        self._wakeup.set()

    @property
    def state(self) -> LaneState:
        return LaneState(self._held, self._pacing)

    async def pace(self) -> None:
        rate = self.manager.send_rate_per_minute(self.session_id)
        if rate:
            wait = self._last_send + 60.0 / rate - time.monotonic()
            if wait > 0:
                self._pacing = True
                try:
                    await asyncio.sleep(wait)
                finally:
                    self._pacing = False
        self._last_send = time.monotonic()

    async def _run(self) -> None:
        context = LaneContext(self)
        failures: dict[uuid.UUID, int] = {}
        while True:
            await self.manager.wait_connected(self.session_id)
            self._wakeup.clear()  # before the read: a send accepted during it wakes us again
            ids = await self._read_head(failures)
            if ids is None:
                continue  # the read failed and the lane paused: read again
            if not ids:
                await self._idle()
                continue
            try:
                await self._send_all(context, ids, failures)
            finally:
                self._lanes.budget.give(self._held)
                self._held = 0

    async def _read_head(self, failures: dict[uuid.UUID, int]) -> list[uuid.UUID] | None:
        budget = self._lanes.budget
        granted = await budget.take(self._lanes.settings.prefetch)
        ids: list[uuid.UUID] = []
        try:
            ids = await self._lanes.outbox.head(self.session_id, granted)
        except Exception as err:
            await self._pause("reading the send queue", err, failures, None)
            return None
        finally:
            budget.give(granted - len(ids))  # also when cancelled mid-read
        failures.pop(self.session_id, None)
        self._held = len(ids)
        return ids

    async def _send_all(
        self, context: LaneContext, ids: list[uuid.UUID], failures: dict[uuid.UUID, int]
    ) -> None:
        for row_id in ids:
            if self.manager.connected_client(self.session_id) is None:
                return  # disconnected: give the rest back rather than hold it while waiting
            try:
                await self._lanes.work(context, row_id)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                await self._pause(f"sending message {row_id}", err, failures, row_id)
                return  # read the head again: the same message comes first
            failures.pop(row_id, None)
            self._held -= 1
            self._lanes.budget.give(1)

    async def _pause(
        self, what: str, err: Exception, failures: dict[uuid.UUID, int], row_id: uuid.UUID | None
    ) -> None:
        key = row_id or self.session_id
        failures[key] = count = failures.get(key, 0) + 1
        reason = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        log.warning("send lane %s: %s failed (%d): %s", self.session_id, what, count, reason)
        if row_id is not None and count >= MAX_UNEXPECTED_FAILURES:
            failures.pop(row_id, None)
            with contextlib.suppress(Exception):
                await self._lanes.give_up(row_id, reason)
            return
        settings = self._lanes.settings
        await asyncio.sleep(backoff_delay(count - 1, settings.retry_base_s, settings.retry_cap_s))

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._lanes.settings.poll_s):
                await self._wakeup.wait()

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class SendLanes:
    """The lanes of the sessions running on this node: opened when a session starts here,
    closed when it stops (a send cut short is in doubt and resolved by the next lane)."""

    def __init__(
        self,
        outbox: OutboxRepo,
        work: LaneWork,
        give_up: GiveUp,
        settings: LaneSettings,
    ) -> None:
        self.outbox = outbox
        self.work = work
        self.give_up = give_up
        self.settings = settings
        self.budget = PrefetchBudget(settings.total_prefetch)
        self._lanes: dict[uuid.UUID, SendLane] = {}
        self._manager: SessionManager | None = None

    def attach(self, manager: SessionManager) -> None:
        """Follow `manager`: a lane per session it runs."""
        self._manager = manager
        manager.watch(self.open, self.close_lane)

    def open(self, session_id: uuid.UUID) -> None:
        assert self._manager is not None, "attach the lanes to the session manager first"
        if session_id not in self._lanes:
            self._lanes[session_id] = SendLane(session_id, self._manager, self)

    async def close_lane(self, session_id: uuid.UUID) -> None:
        lane = self._lanes.pop(session_id, None)
        if lane is not None:
            await lane.close()

    def wake(self, session_id: uuid.UUID) -> bool:
        """Tell the session's lane that sends wait; False when it does not run here."""
        lane = self._lanes.get(session_id)
        if lane is None:
            return False
        lane.wake()
        return True

    def state(self, session_id: uuid.UUID) -> LaneState | None:
        lane = self._lanes.get(session_id)
        return lane.state if lane else None

    @property
    def held(self) -> int:
        """Send ids held in memory by every lane together (bounded by total_prefetch)."""
        return self.settings.total_prefetch - self.budget.free

    async def close(self) -> None:
        """Cancel every lane. A send cut short stays pending in Postgres: it runs again."""
        lanes, self._lanes = list(self._lanes.values()), {}
        await asyncio.gather(*(lane.close() for lane in lanes))
