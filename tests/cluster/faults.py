"""One fault under a burst of traffic on a three-node cluster, checked end to end.

The scenario the cluster tests share (and the figures of the results table in
docs/operations.md): pair the sessions through random nodes, check the placement, start
per-chat ordered traffic through random nodes, inject the fault once a quarter (rolling: a
tenth) of the burst is acked, then check that every acked message reached simnet's mailbox
exactly once and in order, that the affected sessions run elsewhere within the bound, and
that none needed a new QR.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tests.chaos.report import outcome, report
from tests.cluster.harness import LEASE_TTL_S, Cluster, eventually
from tests.cluster.traffic import (
    Traffic,
    all_connected,
    pair_many,
    placed,
    qr_count_unchanged,
    spread,
)

FAULTS = ("sigkill", "sigterm", "rolling")
VICTIM = "n2"


@dataclass
class Outcome:
    fault: str
    acked: int
    delivered_once: int
    recover_s: float

    def line(self) -> str:
        return (
            f"{self.fault}: {self.acked} acked, {self.delivered_once} delivered once, "
            f"0 lost, 0 duplicated, recovered in {self.recover_s:.1f} s"
        )


async def run_fault(
    fault: str, pg_url: str, redis_url: str, tmp: Path, sessions: int, per_chat: int
) -> Outcome:
    cluster = await Cluster(pg_url, redis_url, tmp).start()
    try:
        outcome = await _scenario(cluster, fault, sessions, per_chat)
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        await cluster.stop()
    print("\n" + outcome.line())
    return outcome


async def _scenario(cluster: Cluster, fault: str, sessions: int, per_chat: int) -> Outcome:
    sids = await pair_many(cluster, sessions)
    owners = await placed(cluster, sessions)
    per_node = spread(owners)
    assert set(per_node) == set(cluster.nodes), per_node
    even = sessions / len(cluster.nodes)
    assert all(abs(n - even) <= 0.2 * even for n in per_node.values()), per_node

    moved = sids if fault == "rolling" else [s for s, node in owners.items() if node == VICTIM]
    traffic = Traffic(cluster, sids, per_chat)
    if fault == "rolling":
        traffic.enough.clear()  # continuous: until every node has been restarted
    burst = asyncio.create_task(traffic.run())
    await traffic.reached(sessions * per_chat // (10 if fault == "rolling" else 4))
    if fault == "rolling":
        recover_s = max(await _rolling_restart(cluster, sids))
        traffic.enough.set()
    else:
        started = time.monotonic()
        cluster.nodes[VICTIM].signal(signal.SIGKILL if fault == "sigkill" else signal.SIGTERM)
        await _taken_over(cluster, moved, VICTIM, LEASE_TTL_S + 15 if fault == "sigkill" else 5)
        recover_s = time.monotonic() - started
    await burst
    boxes = await traffic.delivered()
    acked = [m for chat in traffic.acked.values() for m in chat]
    figures = outcome(acked, Counter(m for box in boxes.values() for m in box))
    report(f"cluster {fault}", **figures, recover_s=round(recover_s, 1))
    assert figures["lost"] == figures["duplicated"] == 0, figures
    traffic.check(boxes)  # and in order
    if fault == "sigterm":
        assert await asyncio.to_thread(cluster.nodes[VICTIM].wait, 30) == 0
    await qr_count_unchanged(cluster, moved, reconnected=True)
    return Outcome(fault, traffic.total, sum(map(len, boxes.values())), recover_s)


async def _taken_over(cluster: Cluster, moved: list[str], gone: str, within_s: float) -> None:
    async def probe() -> bool:
        now = await cluster.owners()
        return all(now.get(sid) not in (None, gone) for sid in moved) and (
            await all_connected(cluster, moved)
        )

    await eventually(probe, within_s, 0.05)


async def _rolling_restart(cluster: Cluster, sids: list[str]) -> list[float]:
    """Each node in turn: SIGTERM (a drain), exit 0, start again, healthy, and every
    session connected before the next one goes (what a deploy script does). Returns how
    long each node's sessions took to run elsewhere."""
    handovers = []
    for node_id, node in cluster.nodes.items():
        owners = await cluster.owners()
        leaving = [sid for sid, owner in owners.items() if owner == node_id]
        started = time.monotonic()
        node.signal(signal.SIGTERM)
        await _taken_over(cluster, leaving, node_id, 5)
        handovers.append(time.monotonic() - started)
        assert await asyncio.to_thread(node.wait, 30) == 0
        node.start()
        await asyncio.to_thread(node.wait_healthy, 60)
        await eventually(lambda: all_connected(cluster, sids), 30)
    return handovers
