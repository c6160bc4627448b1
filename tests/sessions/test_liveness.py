"""A connection that stays open but carries nothing (simnet's freeze fault) is noticed by its
unanswered keep-alives, closed and reconnected; sends queued meanwhile go out once."""

from __future__ import annotations

import time
from typing import Any

from tests.gateway import StartGateway, eventually

PHONE = "5511900000061"
FRIEND = "5511988880061"


async def test_a_frozen_connection_is_reconnected_and_its_sends_go_out_once(
    gateway: StartGateway,
) -> None:
    gw = await gateway(liveness_timeout_s=3)
    session = await gw.connect(PHONE)
    sid = session["id"]
    before = (await gw.net.get("/control/stats"))["connections_total"]
    await gw.net.post("/control/freeze", {"device_id": sid})
    frozen_at = time.monotonic()
    for n in range(3):  # accepted while the socket is dead: they wait, then go out once
        body = {"messageId": f"frozen-{n}", "to": FRIEND, "text": f"frozen-{n}"}
        resp = await gw.api.post(f"/api/v1/sessions/{sid}/messages", json=body)
        assert resp.status == 201, await resp.text()

    async def reconnected() -> bool:
        stats = await gw.net.get("/control/stats")
        device = next(
            d for d in (await gw.net.get("/control/devices"))["devices"] if d["device_id"] == sid
        )
        return stats["connections_total"] > before and device["state"] == "connected"

    await eventually(reconnected, 20)
    healed_s = time.monotonic() - frozen_at

    async def delivered() -> list[str] | None:
        texts = [m["content"]["text"] for m in await gw.net.mailbox(FRIEND)]
        return texts if len(texts) >= 3 else None

    assert await eventually(delivered, 20) == ["frozen-0", "frozen-1", "frozen-2"]
    events = await gw.events(sid, type="session")
    ends: list[dict[str, Any]] = [e for e in events if e["event_type"] == "session.disconnected"]
    assert ends and ends[-1]["payload"]["reason"] == "keepalive", ends
    assert "no answer to keep-alives for 3 s" in ends[-1]["payload"]["detail"]
    assert "session.reconnecting" in [e["event_type"] for e in events]
    assert (await gw.session(sid))["status"] == "connected"
    # Keep-alives every second, declared dead 3 s after the first unanswered one.
    assert healed_s < 3 + 1.5 + 3, healed_s
