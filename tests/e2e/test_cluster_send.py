"""One send end to end through a `zaphubd` process whose Redis is a 3-master Redis Cluster.

The send itself waits in Postgres; what crosses the cluster is everything around it: the
session-init queue that opens the session, its lease script, the receipt-events queue that
marks the message delivered.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.daemon_process import DaemonProcess, simnet_env
from tests.redis_cluster import RedisClusterProcesses
from tests.simnet_process import SimnetProcess, http_json, wait_until
from zaphubd.queue import keys
from zaphubd.queue.redis import client_from_url

SENDER, RECIPIENT = "5511960000001", "5511970000009"


def session_status(daemon: DaemonProcess, sid: str) -> str:
    return str(http_json("GET", f"{daemon.url}/api/v1/sessions/{sid}")[1]["data"]["status"])


async def cluster_get(cluster_url: str, key: str) -> bytes | None:
    client = client_from_url(cluster_url)
    try:
        value: bytes | None = await client.get(key)
        return value
    finally:
        await client.aclose()


async def flush(cluster_url: str) -> None:
    client = client_from_url(cluster_url)
    try:
        await client.flushall()  # the cluster is shared by the test session: start empty
    finally:
        await client.aclose()


def test_a_send_through_a_daemon_on_a_redis_cluster(
    pg_url: str, redis_cluster: RedisClusterProcesses, tmp_path: Path
) -> None:
    asyncio.run(flush(redis_cluster.url))
    simnet = SimnetProcess(tmp_path / "simnet.log").start()
    env = simnet_env(pg_url, redis_cluster.url, simnet.ws_url, tmp_path / "auth", NODE_ID="c-1")
    daemon = DaemonProcess(env, tmp_path / "daemon.log").start()
    try:
        daemon.wait_healthy()
        assert "connected to redis cluster at redis+cluster://" in daemon.logs()
        status, body = http_json("POST", f"{daemon.url}/api/v1/sessions", {"label": "cluster"})
        assert status == 201, body
        sid = body["data"]["id"]
        wait_until(lambda: session_status(daemon, sid) == "qr_pending")
        simnet.control("POST", "/control/scan", {"device_id": sid, "phone": SENDER})
        wait_until(lambda: session_status(daemon, sid) == "connected")
        lease = asyncio.run(cluster_get(redis_cluster.url, keys.session_lease(sid)))
        assert lease == b"c-1"

        url = f"{daemon.url}/api/v1/sessions/{sid}/messages"
        status, body = http_json("POST", url, {"messageId": "c-1", "to": RECIPIENT, "text": "hi"})
        assert status == 201, body
        mailbox = f"/control/mailbox/{RECIPIENT}"
        wait_until(lambda: simnet.control("GET", mailbox)["messages"])
        assert [m["content"]["text"] for m in simnet.control("GET", mailbox)["messages"]] == ["hi"]
        wait_until(lambda: http_json("GET", f"{url}/c-1")[1]["data"]["status"] == "delivered")
        assert "Traceback" not in daemon.logs()
    finally:
        daemon.stop()
        simnet.stop()
