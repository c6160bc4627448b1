"""Fencing: a node frozen (SIGSTOP) or cut off from Redis past its lease TTL must not fight
the node that took its sessions over: no reconnect, no state written, no second connection.

Asserted on simnet's connection log of each moved session, on the session rows both nodes
show, and on a message sent afterwards, delivered once.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.cluster.harness import Cluster, eventually
from tests.cluster.traffic import all_connected, pair, recipient
from tests.redis_cluster import RedisClusterProcesses
from tests.services import LocalServices
from tests.tcp_proxy import TcpProxy

SESSIONS = 6
#: Shorter than the harness's lease: every wait below is a multiple of it, and the daemons'
#: renewals (every third of it) keep well inside it on a loaded machine.
TTL_S = 4.0


async def test_a_node_paused_past_its_lease_stands_down_when_it_resumes(
    pg_url: str, redis_cluster: RedisClusterProcesses, tmp_path: Path
) -> None:
    cluster = await Cluster(pg_url, redis_cluster.url, tmp_path, size=2, lease_ttl_s=TTL_S).start()
    try:
        await _scenario(cluster)
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        await cluster.stop()


async def _connections(cluster: Cluster, sid: str) -> list[dict[str, object]]:
    log = await asyncio.to_thread(cluster.simnet.control, "GET", f"/control/connections/{sid}")
    return list(log["connections"])


async def _placed(cluster: Cluster) -> tuple[list[str], dict[str, str]]:
    sids = list(await asyncio.gather(*(pair(cluster, i) for i in range(SESSIONS))))
    await eventually(lambda: all_connected(cluster, sids), 60)

    async def placed() -> dict[str, str] | None:
        owners = await cluster.owners()
        return owners if len(owners) == SESSIONS else None

    owners = await eventually(placed, 30)
    assert set(owners.values()) == {"n1", "n2"}, owners
    return sids, owners


async def _rows_agree(cluster: Cluster, sids: list[str], owner: str) -> None:
    for sid in sids:
        for node in cluster.nodes:  # both nodes tell the same story
            status, body = await cluster.on(node, "GET", f"/api/v1/sessions/{sid}")
            assert status == 200, body
            assert body["data"]["status"] == "connected", body
            assert body["data"]["node_id"] == owner, body


async def _send_once(cluster: Cluster, via: str, sids: list[str], sid: str) -> None:
    index = sids.index(sid)
    url = f"{cluster.nodes[via].url}/api/v1/sessions/{sid}/messages"
    body = {"messageId": "after", "to": recipient(index), "text": "after"}
    async with cluster.http.post(url, json=body) as resp:
        assert resp.status == 201, await resp.text()

    async def delivered() -> list[str] | None:
        box = await asyncio.to_thread(
            cluster.simnet.control, "GET", f"/control/mailbox/{recipient(index)}"
        )
        return [m["content"]["text"] for m in box["messages"]] or None

    assert await eventually(delivered, 20) == ["after"]
    await asyncio.sleep(1)
    assert await delivered() == ["after"]  # once


async def _scenario(cluster: Cluster) -> None:
    sids, owners = await _placed(cluster)
    frozen = [sid for sid, node in owners.items() if node == "n1"]

    cluster.nodes["n1"].signal(signal.SIGSTOP)
    cluster.paused.add("n1")

    async def taken_over() -> bool:
        now = await cluster.owners()  # n2 answers: n1 is paused
        return all(now.get(sid) == "n2" for sid in frozen) and await all_connected(cluster, frozen)

    await eventually(taken_over, TTL_S + 15)
    cluster.nodes["n1"].signal(signal.SIGCONT)
    cluster.paused.discard("n1")
    await asyncio.sleep(2 * TTL_S)  # time enough to fight back, if it were to

    for sid in frozen:
        events = [e["event"] for e in await _connections(cluster, sid)]
        assert events == ["online", "replaced", "online"], (sid, events)  # one handover only
    await _rows_agree(cluster, frozen, "n2")
    await _send_once(cluster, "n1", sids, frozen[0])  # accepted by the resumed node


async def test_a_node_cut_off_from_redis_closes_its_sessions_before_they_are_taken(
    pg_url: str, services: LocalServices, redis_url: str, tmp_path: Path
) -> None:
    """Without fencing, the cut-off node keeps its sockets until simnet replaces them, and
    then records its sessions as failed in Postgres (which it still reaches)."""
    host_port = redis_url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    proxy = await TcpProxy(host, int(port)).start()
    cluster = Cluster(pg_url, redis_url, tmp_path, size=2, lease_ttl_s=TTL_S)
    cluster.redis_urls["n1"] = f"redis://127.0.0.1:{proxy.port}/0"
    await cluster.start()
    try:
        sids, owners = await _placed(cluster)
        cut_off = [sid for sid, node in owners.items() if node == "n1"]
        proxy.cut()

        async def taken_over() -> bool:
            now = {
                sid: (await cluster.on("n2", "GET", f"/api/v1/sessions/{sid}"))[1]["data"]
                for sid in cut_off
            }
            return all(v["node_id"] == "n2" and v["status"] == "connected" for v in now.values())

        await eventually(taken_over, TTL_S + 15)
        await asyncio.sleep(TTL_S)
        for sid in cut_off:
            events = [e["event"] for e in await _connections(cluster, sid)]
            # closed by n1 itself before n2 connected: never replaced, never two at once
            assert events == ["online", "closed", "online"], (sid, events)
        proxy.heal()
        await asyncio.sleep(2 * TTL_S)
        await _rows_agree(cluster, cut_off, "n2")
        for sid in cut_off:
            assert len(await _connections(cluster, sid)) == 3
        await _send_once(cluster, "n1", sids, cut_off[0])
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        await cluster.stop()
        await proxy.close()
