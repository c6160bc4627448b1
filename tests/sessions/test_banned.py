"""A temporarily banned account (simnet's ban, whatsmeow's TemporaryBan) is held down until
its ban ends, without a reconnect storm; it says why and until when, keeps what was queued,
and comes back by itself once the ban is over (or on `reconnect`, with the same login)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.gateway import Gateway, StartGateway, eventually

PHONE = "5511900000071"
FRIEND = "5511988880071"


async def test_a_banned_account_is_held_down_and_a_reconnect_during_the_ban_is_refused(
    gateway: StartGateway,
) -> None:
    gw = await gateway()
    sid = (await gw.connect(PHONE))["id"]
    banned = await gw.net.post("/control/ban", {"phone": PHONE, "seconds": 600})
    assert banned["closed"] == [sid]

    down = await gw.wait_status(sid, "disconnected")
    assert down["error_message"] == (
        "the account is temporarily banned: temporary ban (code 101) for 600 s"
    )
    resume = datetime.fromisoformat(down["resume_after"])
    expected = datetime.now(UTC) + timedelta(seconds=660)
    assert abs((resume - expected).total_seconds()) < 5, down["resume_after"]
    await _send(gw, sid, "during-ban")

    resp = await gw.api.post(f"/api/v1/sessions/{sid}/reconnect")
    assert resp.status == 200, await resp.text()
    await eventually(lambda: _bans_seen(gw, sid, 2), 10)
    await asyncio.sleep(1.5)  # several recovery passes: none may bring it back into the ban
    assert await _bans_seen(gw, sid, 2) and not await _bans_seen(gw, sid, 3)
    events = await gw.events(sid, type="session")
    types = [e["event_type"] for e in events]
    assert "session.reconnecting" not in types, types
    ends: list[dict[str, Any]] = [e for e in events if e["event_type"] == "session.disconnected"]
    assert [e["payload"]["reason"] for e in ends] == ["banned", "banned"], ends
    assert (await gw.session(sid))["status"] == "disconnected"
    assert await gw.net.mailbox(FRIEND) == []

    await gw.net.post("/control/ban", {"phone": PHONE, "seconds": 0})  # lifted early
    resp = await gw.api.post(f"/api/v1/sessions/{sid}/reconnect")
    assert resp.status == 200, await resp.text()
    back = await gw.wait_status(sid, "connected")
    assert back["resume_after"] is None and back["error_message"] is None
    assert await _delivered(gw) == ["during-ban"]  # same login: no QR, the send went out


async def test_a_session_resumes_by_itself_when_the_ban_ends(gateway: StartGateway) -> None:
    gw = await gateway()
    sid = (await gw.connect(PHONE))["id"]
    await gw.net.post("/control/ban", {"phone": PHONE, "seconds": 2})
    await gw.wait_status(sid, "disconnected")
    await _send(gw, sid, "after-ban")
    back = await gw.wait_status(sid, "connected", timeout_s=15)
    assert back["resume_after"] is None
    assert await _delivered(gw) == ["after-ban"]
    log = (await gw.net.get(f"/control/connections/{sid}"))["connections"]
    assert [e["event"] for e in log] == ["online", "banned", "online"]  # no try in between


async def test_a_bad_ban_request_is_refused(gateway: StartGateway) -> None:
    gw = await gateway()
    for body, field in (({"phone": "12"}, "phone"), ({"phone": PHONE, "seconds": -1}, "seconds")):
        status, answer = await gw.net.call("POST", "/control/ban", body)
        assert status == 400 and field in str(answer), answer


async def _send(gw: Gateway, sid: str, text: str) -> None:
    body = {"messageId": text, "to": FRIEND, "text": text}
    resp = await gw.api.post(f"/api/v1/sessions/{sid}/messages", json=body)
    assert resp.status == 201, await resp.text()


async def _delivered(gw: Gateway) -> list[str]:
    async def texts() -> list[str] | None:
        return [m["content"]["text"] for m in await gw.net.mailbox(FRIEND)] or None

    found = await eventually(texts, 10)
    await asyncio.sleep(0.3)
    assert [m["content"]["text"] for m in await gw.net.mailbox(FRIEND)] == found  # once
    return list(found)


async def _bans_seen(gw: Gateway, sid: str, count: int) -> bool:
    log = (await gw.net.get(f"/control/connections/{sid}"))["connections"]
    return sum(1 for e in log if e["event"] == "banned") >= count
