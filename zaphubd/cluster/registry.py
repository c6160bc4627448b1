"""This node's entry in the nodes table, and the other live nodes as this node sees them.

Every node writes its row (version, capacity, sessions running, draining) at a third of the
session lease TTL, and soon after its number of sessions changed (`touch`), so that the
other nodes place new sessions from a load at most a fraction of a second old. A node counts
as live while its heartbeat is younger than two thirds of the TTL: a node that died drops out
of placement before its leases expire, so its sessions are placed on the survivors at the
first recovery pass after that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime

from zaphubd.cluster.placement import NodeLoad
from zaphubd.db.database import OUTAGE_ERRORS
from zaphubd.db.nodes import NodeRepo, NodeRow
from zaphubd.errors import DependencyUnavailable

log = logging.getLogger("zaphubd.cluster")
_SKIP: tuple[type[BaseException], ...] = (DependencyUnavailable, *OUTAGE_ERRORS)
#: Rows of nodes silent this long are deleted (a node that crashed and never came back).
FORGET_AFTER_S = 24 * 3600.0
#: Beats caused by `touch` are this far apart at least (a burst of starts writes a few rows).
TOUCH_SPACING_S = 0.1


class NodeRegistry:
    def __init__(
        self,
        repo: NodeRepo,
        node_id: str,
        version: str,
        capacity: int,
        running: Callable[[], int],
        lease_ttl_s: float,
    ) -> None:
        self.node_id = node_id
        self._repo = repo
        self._version = version
        self._capacity = capacity
        self._running = running
        self._interval_s = lease_ttl_s / 3
        self.live_within_s = lease_ttl_s * 2 / 3
        self._started_at = datetime.now(UTC)
        self._touched = asyncio.Event()
        self._lease_ttl_s = lease_ttl_s
        self._peer_seen_at = -math.inf
        self.draining = False

    def touch(self, _session_id: object = None) -> None:
        """This node's load changed: beat soon."""
        self._touched.set()

    async def beat(self) -> None:
        await self._repo.beat(
            self.node_id,
            self._version,
            self._capacity,
            self._running(),
            self.draining,
            self._started_at,
        )

    async def run(self) -> None:
        """Beat at once, then every third of the lease TTL or when touched."""
        beats = 0
        while True:
            self._touched.clear()
            try:
                await self.beat()
                await self.live()  # notes whether other nodes run (fencing needs to know)
                if beats % 100 == 0:
                    await self._repo.forget_dead(FORGET_AFTER_S)
                beats += 1
            except _SKIP as err:
                log.warning("node heartbeat not written: %s", err)
            await asyncio.sleep(TOUCH_SPACING_S)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval_s - TOUCH_SPACING_S):
                    await self._touched.wait()

    async def live(self) -> list[NodeRow]:
        """The live nodes, this one included (with its current load) even if its last
        heartbeat could not be written."""
        rows = [r for r in await self._repo.live(self.live_within_s) if r.node_id != self.node_id]
        if rows:
            self._peer_seen_at = time.monotonic()
        return sorted([*rows, self.own_row()], key=lambda r: r.node_id)

    def has_peers(self) -> bool:
        """Whether another live node was seen lately (three lease TTLs): if not, this node
        runs alone and nobody can take its sessions over."""
        return time.monotonic() - self._peer_seen_at < 3 * self._lease_ttl_s

    def own_row(self) -> NodeRow:
        now = datetime.now(UTC)
        return NodeRow(
            self.node_id,
            self._version,
            self._capacity,
            self._running(),
            self.draining,
            self._started_at,
            now,
        )

    async def loads(self) -> list[NodeLoad]:
        """What placement needs: the live nodes that take sessions (not draining)."""
        return [
            NodeLoad(r.node_id, r.capacity, r.sessions) for r in await self.live() if not r.draining
        ]

    async def capacity(self) -> int:
        """Sessions the live nodes can hold together (what a new session is checked against)."""
        return sum(r.capacity for r in await self.live() if not r.draining)

    async def leave(self) -> None:
        """Delete this node's row (a clean stop: it is gone at once, not after the TTL)."""
        try:
            await self._repo.remove(self.node_id)
        except _SKIP as err:
            log.warning("node row not removed (it expires): %s", err)
