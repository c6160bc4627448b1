"""Which node should open each session nobody runs.

Every node computes the same assignment from the same inputs (the orphaned sessions in id
order, the live nodes and their loads), so without talking to each other they agree on who
starts what; each then starts only its own share. A session goes to the least loaded node that
has room, so loads stay even however the capacities differ, and no node is handed more than it
can hold. Ties go to the node with the most room, then to the highest hash of (session, node)
(rendezvous hashing): nodes that place sessions one at a time from the same stale loads, as
new sessions are created, still spread them instead of all picking the first node id.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NodeLoad:
    node_id: str
    capacity: int
    sessions: int


def assign(sessions: Iterable[uuid.UUID], nodes: Sequence[NodeLoad]) -> dict[uuid.UUID, str]:
    """Session id -> node id, for as many sessions as the nodes have room for."""
    load = {node.node_id: node.sessions for node in nodes}
    capacity = {node.node_id: node.capacity for node in nodes}
    placed: dict[uuid.UUID, str] = {}
    for session_id in sorted(sessions):
        open_nodes = [n for n in load if load[n] < capacity[n]]
        if not open_nodes:
            break
        best = min(
            open_nodes, key=lambda n: (load[n], load[n] - capacity[n], -_rank(session_id, n))
        )
        placed[session_id] = best
        load[best] += 1
    return placed


def _rank(session_id: uuid.UUID, node_id: str) -> int:
    digest = hashlib.blake2b(session_id.bytes + node_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")
