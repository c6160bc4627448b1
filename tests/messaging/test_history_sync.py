"""A newly linked device gets the account's past messages (WhatsApp's history sync, modelled
by simnet): zaphubd stores them, announces the sync once, and sends no message.received
for them (they are not news)."""

from __future__ import annotations

import re
from typing import Any

from tests.gateway import Gateway, StartGateway, eventually

ME = "5511900000111"
FRIEND = "5511988880111"


async def write(gw: Gateway, message_id: str, text: str) -> None:
    body = {"from": FRIEND, "to": ME, "id": message_id, "message": {"type": "text", "text": text}}
    await gw.net.post("/control/inbound", body)


async def test_past_messages_are_stored_without_webhook_events(gateway: StartGateway) -> None:
    gw = await gateway()
    first = (await gw.connect(ME))["id"]  # the account's first linked device gets them live
    for n in range(3):
        await write(gw, f"PAST-{n}", f"past {n}")

    async def live_on_first() -> bool:
        return (await gw.event_types(first)).count("message.received") == 3

    await eventually(live_on_first, 15)
    sid = (await gw.connect(ME))["id"]  # a second device of the same account, linked now

    async def stored() -> list[dict[str, Any]] | None:
        params = {"direction": "inbound"}
        resp = await gw.api.get(f"/api/v1/sessions/{sid}/messages", params=params)
        rows: list[dict[str, Any]] = (await resp.json())["data"]
        return rows if len(rows) >= 3 else None

    rows = await eventually(stored, 15)
    assert sorted(r["wa_message_id"] for r in rows) == ["PAST-0", "PAST-1", "PAST-2"]
    assert all(r["metadata"].get("history") for r in rows)
    assert "message.received" not in await gw.event_types(sid)
    synced = [e for e in await gw.events(sid) if e["event_type"] == "session.history_synced"]
    assert [e["payload"] for e in synced] == [{"conversations": 1, "messages": 3}]
    assert "session.history_synced" not in await gw.event_types(first)
    metrics = await (await gw.api.get("/metrics")).text()
    found = re.search(r'zaphubd_inbound_messages_total\{outcome="history"\} ([\d.]+)', metrics)
    assert found and float(found.group(1)) == 3

    await write(gw, "LIVE-1", "now")

    async def announced() -> bool:
        return "message.received" in await gw.event_types(sid)

    await eventually(announced, 15)  # what comes after the link is news again
