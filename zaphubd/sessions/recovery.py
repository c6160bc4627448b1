"""Recovery and takeover: start every session that should run and that nobody runs.

At startup this resumes the sessions whose status says they should be running, most recently
seen first, spread over time so a thousand sessions do not connect in the same instant. It then
keeps looking: when another daemon dies or drains its leases expire or are released, and its
sessions are taken over. With several nodes, each pass places the orphaned sessions over the
live nodes (`cluster/placement.py`) and starts only this node's share; an orphan that is still
orphaned at the next pass (its node did not take it) is started by whoever sees it, so a
placement never strands a session. A pass runs every `interval_s`, and at once when asked
(`request_pass`: a session was created or released elsewhere). Sessions left down for lack
of capacity say so in `error_message`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

from zaphubd.cluster.placement import NodeLoad, assign
from zaphubd.cluster.registry import NodeRegistry
from zaphubd.db.sessions import SessionRepo, SessionRow
from zaphubd.errors import DependencyUnavailable
from zaphubd.queue.redis import OUTAGE_ERRORS
from zaphubd.sessions.lease import LeaseKeeper
from zaphubd.sessions.manager import SessionManager

log = logging.getLogger("zaphubd.sessions.recovery")
_SKIP_PASS: tuple[type[BaseException], ...] = (DependencyUnavailable, *OUTAGE_ERRORS)


class RateLimiter:
    """At most `per_s` passes per second, evenly spaced."""

    def __init__(self, per_s: float) -> None:
        self._interval = 1.0 / per_s
        self._next = time.monotonic()

    async def wait(self) -> None:
        now = time.monotonic()
        if self._next > now:
            await asyncio.sleep(self._next - now)
        self._next = max(now, self._next) + self._interval


class Recovery:
    def __init__(
        self,
        repo: SessionRepo,
        manager: SessionManager,
        leases: LeaseKeeper,
        registry: NodeRegistry | None = None,
        *,
        starts_per_s: float,
        interval_s: float,
        grace_s: float = 0.0,
    ) -> None:
        self._repo = repo
        self._manager = manager
        self._leases = leases
        self._registry = registry
        self._limiter = RateLimiter(starts_per_s)
        self._interval_s = interval_s
        self._wanted = asyncio.Event()
        #: Orphans placed on another node, and since when (monotonic): still orphaned after
        #: `grace_s`, that node is not taking them and whoever sees them starts them.
        self._placed_elsewhere: dict[uuid.UUID, float] = {}
        self._grace_s = grace_s

    def request_pass(self, _session_id: uuid.UUID | None = None) -> bool:
        """Run a pass now rather than at the next interval (a `place` wake-up's handler)."""
        self._wanted.set()
        return True

    async def run(self) -> None:
        """A pass at once, then one every `interval_s` (a fraction of the lease TTL)."""
        while True:
            self._wanted.clear()
            try:
                started = await self.pass_once()
                if started:
                    log.info("recovery started %d session(s)", started)
            except _SKIP_PASS as err:
                log.warning("recovery pass skipped: %s", err)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval_s):
                    await self._wanted.wait()

    async def pass_once(self) -> int:
        rows = [r for r in await self._repo.recoverable() if self._manager.get(r.id) is None]
        if not rows:
            self._placed_elsewhere = {}
            return 0
        holders = await self._leases.holders(r.id for r in rows)
        orphans = [r for r in rows if holders[r.id] in (None, self._leases.node_id)]
        free = await self._ours(orphans)
        started = 0
        for index, row in enumerate(free):
            if self._manager.at_capacity:
                await self._mark_over_capacity(free[index:])
                break
            await self._limiter.wait()
            if await self._manager.start(row.id) == "started":
                started += 1
        return started

    async def _ours(self, orphans: list[SessionRow]) -> list[SessionRow]:
        """The orphans this node should start: its placement share, and those placed on
        another node more than `grace_s` ago that it still has not started."""
        me = self._leases.node_id
        loads = await self._registry.loads() if self._registry else []
        if not any(load.node_id == me for load in loads):  # alone, or draining: no placement
            loads = [NodeLoad(me, self._manager.max_sessions, self._manager.count)]
        placed = assign((r.id for r in orphans), loads)
        now, since = time.monotonic(), self._placed_elsewhere
        self._placed_elsewhere = {
            r.id: since.get(r.id, now) for r in orphans if placed.get(r.id, me) != me
        }
        overdue = {sid for sid, at in self._placed_elsewhere.items() if now - at >= self._grace_s}
        return [r for r in orphans if placed.get(r.id, me) == me or r.id in overdue]

    async def _mark_over_capacity(self, rows: list[SessionRow]) -> None:
        reason = (
            f"not started: ZAPHUB_MAX_CONCURRENT_SESSIONS ({self._manager.max_sessions}) "
            f"reached on node {self._leases.node_id}"
        )
        for row in rows:
            if row.error_message != reason:
                await self._repo.update(row.id, error_message=reason)
        log.warning("%d session(s) left down: capacity reached", len(rows))
