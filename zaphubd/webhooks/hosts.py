"""Per-destination lanes, so that a slow or dead receiver holds only its own slots.

A lane is one webhook on one host (the dispatcher's `lane_key`: `host:port#webhook`), so a
failing webhook marks only itself congested, even beside a healthy one on the same host. The
lanes of one host take turns (FIFO) for its `per_host` slots, as many as the pooled
connections to it (sender.open_http): an attempt starts, and its deadline runs, only once it
has a slot and so a connection, never while it waits for one. Each lane runs at most
`per_host` attempts at once; its other deliveries wait in
its lane, outside the queue consumer's concurrency budget. When a lane is full, the submitter
waits for room in FIFO order, but never longer than `max_wait_s`: past that the submit is
refused and the dispatcher puts the delivery back in the queue for later. So a host that
stops answering can hold a consumer slot for `max_wait_s` at most, and a healthy host with a
backlog drains at full speed (its waiters get in well before the deadline).

A host is *congested* when its last attempt failed or was slow, or an attempt has been running
longer than `slow_s`. Its lane then keeps only `congested_waiting` deliveries and refuses the
rest at once. All lanes together hold at most `max_held` deliveries (then submitters wait).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from zaphubd.tasks import cancel_and_wait

log = logging.getLogger("zaphubd.webhooks")
Work = Coroutine[Any, Any, None]
#: How long a failure or a slow answer keeps a host marked congested.
HEALTH_MEMORY_S = 60.0
PRUNE_EVERY = 1000


class Admission(enum.Enum):
    ACCEPTED = "accepted"
    #: No room in time: put the delivery back for later.
    REFUSED = "refused"
    #: Shutting down: leave the delivery's queue entry pending for the next start.
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class LaneLimits:
    per_host: int = 16
    #: Deliveries that may wait in a healthy host's lane ...
    waiting: int = 1024
    #: ... and in a congested one's.
    congested_waiting: int = 16
    max_held: int = 4096
    #: Longest a submitter waits for room in one lane before the delivery is put back.
    max_wait_s: float = 0.25
    slow_s: float = 1.0


class _Lane:
    __slots__ = ("last_bad_at", "pending", "started", "waiters", "workers")

    def __init__(self) -> None:
        self.pending: deque[Work] = deque()
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.started: list[float] = []  # monotonic start of each running attempt
        self.workers = 0
        self.last_bad_at: float | None = None  # last failed or slow attempt

    def congested(self, now: float, slow_s: float) -> bool:
        if self.last_bad_at is not None and now - self.last_bad_at < HEALTH_MEMORY_S:
            return True
        return bool(self.started) and now - min(self.started) > slow_s

    @property
    def idle(self) -> bool:
        return not self.pending and not self.workers and not self.waiters


class HostLanes:
    def __init__(self, limits: LaneLimits) -> None:
        self.limits = limits
        self._lanes: dict[str, _Lane] = {}
        #: Each host's slots, shared by its lanes (a lane's key starts with its host).
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._held = 0
        self._held_waiters: deque[asyncio.Future[None]] = deque()
        self._submitted = 0
        self._closed = False

    @property
    def held(self) -> int:
        """Deliveries waiting or running in all lanes."""
        return self._held

    def congested(self, host: str) -> bool:
        lane = self._lanes.get(host)
        return lane is not None and lane.congested(time.monotonic(), self.limits.slow_s)

    async def submit(self, host: str, start: Callable[[], Work]) -> Admission:
        """Queue `start()` in `host`'s lane, waiting in line for room up to `max_wait_s`.

        `start` is called only once the delivery is accepted.
        """
        self._submitted += 1
        if self._submitted % PRUNE_EVERY == 0:
            self._prune()
        deadline = time.monotonic() + self.limits.max_wait_s
        while not self._closed:
            lane = self._lane(host)  # again after a wait: an idle lane may have been pruned
            now = time.monotonic()
            congested = lane.congested(now, self.limits.slow_s)
            room = self.limits.congested_waiting if congested else self.limits.waiting
            if len(lane.pending) < room:
                if self._held < self.limits.max_held:
                    self._accept(host, lane, start())
                    return Admission.ACCEPTED
                await _wait(self._held_waiters, None)  # everyone's backpressure: no deadline
            elif congested or now >= deadline or not await _wait(lane.waiters, deadline - now):
                return Admission.REFUSED
        return Admission.CLOSED

    def report(self, host: str, ok: bool, latency_s: float) -> None:
        """An attempt to `host` finished: failures and slow answers mark it congested."""
        lane = self._lanes.get(host)
        if lane is not None:
            bad = not ok or latency_s > self.limits.slow_s
            lane.last_bad_at = time.monotonic() if bad else None

    async def close(self, grace_s: float = 0.0) -> None:
        """Take nothing more; let attempts in flight finish within `grace_s`, cancel the rest.

        Deliveries that never started are dropped here: their queue entries stay pending and
        run at the next start.
        """
        self._closed = True
        for lane in self._lanes.values():
            while lane.pending:
                lane.pending.popleft().close()
                self._held -= 1
            _wake_all(lane.waiters)
        _wake_all(self._held_waiters)
        if self._tasks and grace_s > 0:
            await asyncio.wait(list(self._tasks), timeout=grace_s)
        for task in list(self._tasks):
            await cancel_and_wait(task)

    def _accept(self, host: str, lane: _Lane, work: Work) -> None:
        lane.pending.append(work)
        self._held += 1
        if lane.workers < self.limits.per_host:
            lane.workers += 1
            task = asyncio.create_task(self._work(host, lane), name=f"webhook-lane:{host}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _work(self, host: str, lane: _Lane) -> None:
        slots = self._host_slots(host)
        try:
            while lane.pending and not self._closed:
                async with slots:
                    if not lane.pending or self._closed:
                        break  # emptied, or closing, while this worker waited for a slot
                    await self._run_next(host, lane)
        finally:
            lane.workers -= 1

    async def _run_next(self, host: str, lane: _Lane) -> None:
        work = lane.pending.popleft()
        _wake(lane.waiters)  # a place in the lane just freed up
        started = time.monotonic()
        lane.started.append(started)
        try:
            await work
        except Exception:
            log.exception("webhook delivery to %s crashed", host)
        finally:
            lane.started.remove(started)
            self._held -= 1
            _wake(self._held_waiters)

    def _host_slots(self, lane_key: str) -> asyncio.Semaphore:
        host = lane_key.partition("#")[0]
        slots = self._slots.get(host)
        if slots is None:
            slots = self._slots[host] = asyncio.Semaphore(self.limits.per_host)
        return slots

    def _lane(self, host: str) -> _Lane:
        lane = self._lanes.get(host)
        if lane is None:
            lane = self._lanes[host] = _Lane()
        return lane

    def _prune(self) -> None:
        now = time.monotonic()
        for host in [h for h, lane in self._lanes.items() if lane.idle]:
            if not self._lanes[host].congested(now, self.limits.slow_s):
                del self._lanes[host]
        # A lane with a worker is never idle, so no slot of a host left without lanes is held.
        used = {key.partition("#")[0] for key in self._lanes}
        self._slots = {h: slots for h, slots in self._slots.items() if h in used}


async def _wait(waiters: deque[asyncio.Future[None]], timeout_s: float | None) -> bool:
    """Wait in line to be woken; False if `timeout_s` passed first."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    waiters.append(future)
    try:
        async with asyncio.timeout(timeout_s):
            await future
        return True
    except TimeoutError:
        if future.done() and not future.cancelled():
            _wake(waiters)  # woken just as time ran out: pass the place on
        return False
    finally:
        if not future.done() or future.cancelled():
            with contextlib.suppress(ValueError):
                waiters.remove(future)


def _wake(waiters: deque[asyncio.Future[None]]) -> None:
    """Wake the first waiter still waiting."""
    while waiters:
        future = waiters.popleft()
        if not future.done():
            future.set_result(None)
            return


def _wake_all(waiters: deque[asyncio.Future[None]]) -> None:
    while waiters:
        _wake(waiters)
