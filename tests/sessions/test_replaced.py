"""Another client that logs in with the same account replaces our connection: the session
fails with that reason and is never reconnected by itself (that would fight the other
client, each connect kicking the other out), not by the supervisor nor by recovery."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson

from tests.gateway import StartGateway
from zaphubd.simnet.protocol import PROTOCOL_VERSION

PHONE = "5511900000072"


async def test_a_replaced_connection_fails_the_session_without_fighting_back(
    gateway: StartGateway,
) -> None:
    gw = await gateway()
    sid = (await gw.connect(PHONE))["id"]
    creds = await gw.credentials(sid)
    hello = {"op": "hello", "v": PROTOCOL_VERSION, "device": sid, "creds": creds}
    async with aiohttp.ClientSession() as http, http.ws_connect(gw.net.url) as other:
        await other.send_bytes(orjson.dumps([hello]))
        failed = await gw.wait_status(sid, "failed")
        assert failed["error_message"] == (
            "the connection was replaced by another client using this account"
        )
        await asyncio.sleep(2.0)  # a couple of recovery passes at the test's lease TTL
        log = (await gw.net.get(f"/control/connections/{sid}"))["connections"]
        assert [e["event"] for e in log] == ["online", "replaced", "online"]  # it kept it
        types = await gw.event_types(sid)
        assert "session.reconnecting" not in types
        assert (await gw.session(sid))["status"] == "failed"
    resp = await gw.api.post(f"/api/v1/sessions/{sid}/reconnect")  # the other one is gone
    assert resp.status == 200
    await gw.wait_status(sid, "connected")
