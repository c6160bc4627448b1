"""Every inbound message ends stored (with message.received) or recorded with a reason
(message.receive.failed), counted per outcome in /metrics and per session for the last hour.

simnet models WhatsApp's undecryptable messages: the device gets the message's id, sender
and chat but no content, answers with a retry receipt, and the sender's phone sends it again
(`undecryptable: retry`), or never can (`permanent`).
"""

from __future__ import annotations

import re
from typing import Any

from tests.gateway import Gateway, StartGateway, eventually

ME = "5511900000071"
FRIEND = "5511988880071"


async def inbound(gw: Gateway, message_id: str, **extra: Any) -> None:
    body = {
        "from": FRIEND,
        "to": ME,
        "id": message_id,
        "message": {"type": "text", "text": "secret body"},
    }
    await gw.net.post("/control/inbound", body | extra)


async def events_of(gw: Gateway, sid: str, message_id: str) -> list[dict[str, Any]]:
    events = await gw.events(sid, type="message")
    return [e for e in events if e["payload"].get("messageId") == message_id]


def counter(metrics: str, outcome: str) -> float:
    found = re.search(rf'zaphubd_inbound_messages_total{{outcome="{outcome}"}} ([\d.]+)', metrics)
    return float(found.group(1)) if found else 0.0


async def test_each_inbound_outcome_is_recorded(gateway: StartGateway) -> None:
    gw = await gateway()
    sid = (await gw.connect(ME))["id"]
    await inbound(gw, "PLAIN-1")
    await inbound(gw, "RETRIED-1", undecryptable="retry")
    await inbound(gw, "LOST-1", undecryptable="permanent")

    async def settled() -> list[str] | None:
        types = [
            (e["payload"]["messageId"], e["event_type"])
            for e in await gw.events(sid, type="message")
            if e["event_type"] in ("message.received", "message.receive.failed")
        ]
        return types if len(types) >= 4 else None

    await eventually(settled, 15)
    plain = [e["event_type"] for e in await events_of(gw, sid, "PLAIN-1")]
    # (queued is written after the job is published, so the two may come in either order)
    assert sorted(plain) == ["message.receive.queued", "message.received"]
    retried = await events_of(gw, sid, "RETRIED-1")
    assert retried[0]["event_type"] == "message.receive.failed"  # not decrypted at first...
    assert sorted(e["event_type"] for e in retried[1:]) == [  # ...then sent again
        "message.receive.queued",
        "message.received",
    ]
    failed = retried[0]["payload"]
    assert failed["reason"] == "undecryptable" and failed["from"].startswith(FRIEND)
    assert "secret body" not in str(failed)
    received = next(e for e in retried if e["event_type"] == "message.received")
    assert received["payload"]["content"] == {"text": "secret body"}
    lost = await events_of(gw, sid, "LOST-1")
    assert [e["event_type"] for e in lost] == ["message.receive.failed"]
    assert (await gw.net.get("/control/stats"))["retries"] == 1

    stored = await (await gw.api.get(f"/api/v1/sessions/{sid}/messages?direction=inbound")).json()
    assert sorted(m["wa_message_id"] for m in stored["data"]) == ["PLAIN-1", "RETRIED-1"]
    stats = (await (await gw.api.get(f"/api/v1/sessions/{sid}/stats")).json())["data"]
    assert stats["last_hour"] | {"webhook_delivered": 0, "webhook_failed": 0} == {
        "received": 4,  # PLAIN, RETRIED twice (unreadable, then readable), LOST
        "stored": 2,
        "failed": 2,
        "webhook_delivered": 0,
        "webhook_failed": 0,
    }
    metrics = await (await gw.api.get("/metrics")).text()
    assert counter(metrics, "stored") == 2
    assert counter(metrics, "undecryptable") == 2


async def test_simnet_refuses_a_bad_undecryptable_mode(gateway: StartGateway) -> None:
    gw = await gateway()
    await gw.connect(ME)
    body = {
        "from": FRIEND,
        "to": ME,
        "message": {"type": "text", "text": "x"},
        "undecryptable": "no",
    }
    error = await gw.net.post("/control/inbound", body, status=400)
    assert "undecryptable must be one of" in str(error)
