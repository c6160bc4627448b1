"""Drain: SIGTERM on one node hands its sessions to the others at once (no TTL to wait, no
logout, no new QR) and the node exits 0; sends accepted meanwhile go out once."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from tests.cluster.harness import LEASE_TTL_S, Cluster, eventually
from tests.cluster.traffic import all_connected, pair, recipient
from tests.redis_cluster import RedisClusterProcesses

SESSIONS = 12


async def test_sigterm_hands_the_sessions_over_within_seconds(
    pg_url: str, redis_cluster: RedisClusterProcesses, tmp_path: Path
) -> None:
    cluster = await Cluster(pg_url, redis_cluster.url, tmp_path, size=2).start()
    try:
        sids = list(await asyncio.gather(*(pair(cluster, i) for i in range(SESSIONS))))
        await eventually(lambda: all_connected(cluster, sids), 60)

        async def placed() -> dict[str, str] | None:
            owners = await cluster.owners()
            return owners if len(owners) == SESSIONS else None

        owners = await eventually(placed, 30)
        leaving = [sid for sid, node in owners.items() if node == "n1"]
        assert leaving, owners
        cluster.nodes["n1"].signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        assert await asyncio.to_thread(cluster.nodes["n1"].wait, 30) == 0

        async def handed_over() -> bool:
            now = await cluster.owners()
            return all(now.get(sid) == "n2" for sid in leaving) and await all_connected(
                cluster, leaving
            )

        await eventually(handed_over, LEASE_TTL_S + 15, 0.05)
        took_s = time.monotonic() - stopped_at
        assert took_s < LEASE_TTL_S, took_s  # released, not expired
        index = sids.index(leaving[0])
        body = {"messageId": "after-drain", "to": recipient(index), "text": "after-drain"}
        status, reply = await cluster.call("POST", f"/api/v1/sessions/{leaving[0]}/messages", body)
        assert status == 201, reply

        async def delivered() -> list[str] | None:
            box = await asyncio.to_thread(
                cluster.simnet.control, "GET", f"/control/mailbox/{recipient(index)}"
            )
            return [m["content"]["text"] for m in box["messages"]] or None

        assert await eventually(delivered, 20) == ["after-drain"]
        for sid in leaving:
            _, events = await cluster.call("GET", f"/api/v1/sessions/{sid}/events?type=session")
            types = [e["event_type"] for e in events["data"]]
            assert types.count("session.qr_generated") == 1, types
            assert "session.logged_out" not in types, types
        print(f"\ndrain: {len(leaving)} sessions connected on n2 {took_s:.2f} s after SIGTERM")
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        await cluster.stop()
