"""The cluster as an operator sees it: the live nodes and the sessions each one runs.

Who runs a session is read from its lease (the truth), not from the nodes' heartbeats, so a
session shows up under the node that holds it right now, or among the unplaced ones while a
failover or a drain moves it. Used by `GET /api/v1/nodes` and `zaphubd nodes`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from zaphubd.db.nodes import NodeRow
from zaphubd.db.sessions import SessionRepo

Holders = Callable[[Iterable[uuid.UUID]], Awaitable[dict[uuid.UUID, str | None]]]


@dataclass(frozen=True, slots=True)
class NodeView:
    node_id: str
    version: str
    capacity: int
    draining: bool
    started_at: datetime
    heartbeat_at: datetime
    sessions: list[uuid.UUID] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ClusterView:
    nodes: list[NodeView]
    #: Sessions that should run and that no node holds at this moment.
    unplaced: list[uuid.UUID]


async def cluster_view(
    nodes: list[NodeRow], sessions: SessionRepo, holders: Holders
) -> ClusterView:
    ids = [row.id for row in await sessions.recoverable()]
    held = await holders(ids)
    views = {
        n.node_id: NodeView(
            n.node_id, n.version, n.capacity, n.draining, n.started_at, n.heartbeat_at
        )
        for n in nodes
    }
    unplaced: list[uuid.UUID] = []
    for session_id in sorted(ids):
        owner = held.get(session_id)
        if owner is None:
            unplaced.append(session_id)
        elif owner in views:
            views[owner].sessions.append(session_id)
        # held by a node whose heartbeat stopped: it shows up again once it beats or dies
    return ClusterView(list(views.values()), unplaced)
