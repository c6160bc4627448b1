"""Every call works on any node: what needs the session's live connection (presence,
subscriptions, a pairing code, inbound media) is answered by the node that runs it.

Two nodes; each request goes to the node that does NOT run the session, and the outcome is
read where it happens: simnet's activity log of the account, the code simnet accepts, the
media bytes served back.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

from tests.cluster.harness import Cluster, eventually
from tests.cluster.traffic import all_connected, pair, sender
from tests.messaging.conftest import png_bytes
from tests.redis_cluster import RedisClusterProcesses

FRIEND = "5511955550077"


async def test_calls_on_the_other_node_reach_the_session_owner(
    pg_url: str, redis_cluster: RedisClusterProcesses, tmp_path: Path
) -> None:
    cluster = await Cluster(pg_url, redis_cluster.url, tmp_path, size=2).start()
    try:
        await _scenario(cluster)
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        await cluster.stop()


async def _post(cluster: Cluster, node: str, path: str, body: Any) -> tuple[int, Any]:
    async with cluster.http.post(cluster.nodes[node].url + path, json=body) as resp:
        return resp.status, await resp.json()


async def _owner(cluster: Cluster, sid: str) -> str:
    async def known() -> str | None:
        return (await cluster.owners()).get(sid)

    return str(await eventually(known, 30))


async def _scenario(cluster: Cluster) -> None:
    sids = list(await asyncio.gather(*(pair(cluster, i) for i in range(4))))
    await eventually(lambda: all_connected(cluster, sids), 60)
    index, sid = 0, sids[0]
    owner = await _owner(cluster, sid)
    other = "n2" if owner == "n1" else "n1"
    base = f"/api/v1/sessions/{sid}"
    phone = sender(index)

    status, body = await _post(cluster, other, base + "/presence/subscribe", {"jid": FRIEND})
    assert status == 200, body
    status, body = await _post(
        cluster, other, base + "/presence", {"jid": FRIEND, "type": "composing"}
    )
    assert status == 200, body
    activity = await asyncio.to_thread(cluster.simnet.control, "GET", f"/control/activity/{phone}")
    actions = [(a["action"], a.get("state")) for a in activity["activity"]]
    assert ("chat_presence", "composing") in actions, actions
    assert any(action == "subscribe" for action, _ in actions), actions
    await _contact_checks(cluster, other, sid, phone)

    png = png_bytes()
    message = {
        "type": "image",
        "image": {"data": base64.b64encode(png).decode(), "mimeType": "image/png"},
    }
    await asyncio.to_thread(
        cluster.simnet.control,
        "POST",
        "/control/inbound",
        {"from": FRIEND, "to": phone, "message": message, "id": "ROUTED-IMG"},
    )

    async def received() -> dict[str, Any] | None:
        _, events = await cluster.on(other, "GET", base + "/events?type=message&limit=50")
        found = [e for e in events["data"] if e["event_type"] == "message.received"]
        return found[0]["payload"] if found else None

    url = (await eventually(received, 20))["content"]["url"]
    async with cluster.http.get(cluster.nodes[other].url + url) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.content_type == "image/png"
        assert await resp.read() == png

    # A pairing code for a session that shows QR codes on the other node.
    status, created = await _post(cluster, other, "/api/v1/sessions", {"label": "by code"})
    assert status == 201, created
    new = created["data"]["id"]

    async def qr_pending() -> bool:
        _, body = await cluster.on(other, "GET", f"/api/v1/sessions/{new}")
        return bool(body["data"]["status"] == "qr_pending")

    await eventually(qr_pending, 30)
    new_owner = await _owner(cluster, new)
    asker = "n2" if new_owner == "n1" else "n1"
    # Not connected yet: the owner's 409 reaches the client unchanged.
    status, body = await _post(
        cluster, asker, f"/api/v1/sessions/{new}/presence", {"jid": FRIEND, "type": "composing"}
    )
    assert status == 409 and body["error"]["type"] == "SessionNotReadyError", body
    status, body = await _post(
        cluster, asker, f"/api/v1/sessions/{new}/pair", {"phone": "5511900000777"}
    )
    assert status == 200, body
    code = body["data"]["pairing_code"]
    await asyncio.to_thread(
        cluster.simnet.control,
        "POST",
        "/control/pair-code",
        {"phone": "5511900000777", "code": code},
    )
    await eventually(lambda: all_connected(cluster, [new]), 20)


async def _contact_checks(cluster: Cluster, node: str, sid: str, phone: str) -> None:
    """Answered by the owner, cached in the Redis Cluster: asked again, WhatsApp is not."""
    await asyncio.to_thread(cluster.simnet.control, "POST", "/control/accounts", {"phone": FRIEND})
    path = f"/api/v1/sessions/{sid}/contacts/check"
    for _ in range(2):
        status, body = await _post(cluster, node, path, {"numbers": [FRIEND, "5511955550078"]})
        assert status == 200, body
        assert [r["exists"] for r in body["data"]] == [True, False], body
    activity = await asyncio.to_thread(cluster.simnet.control, "GET", f"/control/activity/{phone}")
    assert [a["action"] for a in activity["activity"]].count("contacts_check") == 1
