"""Recovery and takeover: start every session that should run and that nobody runs.

At startup this resumes the sessions whose status says they should be running, most recently
seen first, spread over time so a thousand sessions do not connect in the same instant. It then
keeps looking: when another daemon dies its leases expire and its sessions are taken over here,
up to this node's capacity. Sessions left down for lack of capacity say so in `error_message`.
"""

from __future__ import annotations

import asyncio
import logging
import time

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
        *,
        starts_per_s: float,
        interval_s: float,
    ) -> None:
        self._repo = repo
        self._manager = manager
        self._leases = leases
        self._limiter = RateLimiter(starts_per_s)
        self._interval_s = interval_s

    async def run(self) -> None:
        """A pass at once, then one every `interval_s` (a fraction of the lease TTL)."""
        while True:
            try:
                started = await self.pass_once()
                if started:
                    log.info("recovery started %d session(s)", started)
            except _SKIP_PASS as err:
                log.warning("recovery pass skipped: %s", err)
            await asyncio.sleep(self._interval_s)

    async def pass_once(self) -> int:
        rows = [r for r in await self._repo.recoverable() if self._manager.get(r.id) is None]
        if not rows:
            return 0
        holders = await self._leases.holders(r.id for r in rows)
        free = [r for r in rows if holders[r.id] in (None, self._leases.node_id)]
        started = 0
        for index, row in enumerate(free):
            if self._manager.at_capacity:
                await self._mark_over_capacity(free[index:])
                break
            await self._limiter.wait()
            if await self._manager.start(row.id) == "started":
                started += 1
        return started

    async def _mark_over_capacity(self, rows: list[SessionRow]) -> None:
        reason = (
            f"not started: ZAPHUB_MAX_CONCURRENT_SESSIONS ({self._manager.max_sessions}) "
            f"reached on node {self._leases.node_id}"
        )
        for row in rows:
            if row.error_message != reason:
                await self._repo.update(row.id, error_message=reason)
        log.warning("%d session(s) left down: capacity reached", len(rows))
