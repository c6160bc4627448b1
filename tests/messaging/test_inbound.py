"""Inbound messages, receipts, presence, calls and groups, end to end from simnet."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.gateway import Gateway, StartGateway, eventually
from tests.messaging.conftest import png_bytes
from tests.messaging.test_send import RECIPIENT, post, wait_message_status

ME = "5511966660000"
FRIEND = "5511955550000"


@pytest.fixture
async def account(gateway: StartGateway) -> tuple[Gateway, str]:
    gw = await gateway(media_allow_private=True)
    session = await gw.connect(ME)
    return gw, session["id"]


async def inbound(gw: Gateway, message: dict[str, Any], **extra: Any) -> None:
    await gw.net.post("/control/inbound", {"from": FRIEND, "to": ME, "message": message, **extra})


async def listed(gw: Gateway, sid: str, **params: Any) -> list[dict[str, Any]]:
    resp = await gw.api.get(f"/api/v1/sessions/{sid}/messages", params=params)
    assert resp.status == 200, await resp.text()
    data: list[dict[str, Any]] = (await resp.json())["data"]
    return data


async def events_of(gw: Gateway, sid: str, event_type: str, count: int = 1) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]] | None:
        found = await gw.events(sid, event_type=event_type)
        return found if len(found) >= count else None

    result: list[dict[str, Any]] = await eventually(probe)
    return result


async def test_every_inbound_type_is_stored_and_listed(account: tuple[Gateway, str]) -> None:
    gw, sid = account
    png = png_bytes()
    messages = [
        {"type": "text", "text": "hello"},
        {
            "type": "image",
            "image": {
                "data": base64.b64encode(png).decode(),
                "caption": "pic",
                "mimeType": "image/png",
            },
        },
        {"type": "location", "location": {"latitude": 1.5, "longitude": 2.5}},
        {
            "type": "contact",
            "contact": {"displayName": "Bo", "vcard": "BEGIN:VCARD\nFN:Bo\nEND:VCARD"},
        },
        {"type": "poll", "poll": {"name": "Q", "options": ["a", "b"]}},
    ]
    for n, message in enumerate(messages):
        await inbound(gw, message, id=f"IN{n}", push_name="Friend")
    received = await events_of(gw, sid, "message.received", len(messages))
    rows = await listed(gw, sid, direction="inbound", sortOrder="asc", limit=100)
    assert [r["type"] for r in rows] == ["text", "image", "location", "contact", "poll"]
    assert all(r["status"] == "delivered" and r["from"] == f"{FRIEND}@s.whatsapp.net" for r in rows)
    text_event = received[0]["payload"]
    assert text_event["content"] == {"text": "hello"} and text_event["messageId"] == "IN0"
    assert text_event["pushName"] == "Friend" and text_event["isGroup"] is False
    image = next(e["payload"] for e in received if e["payload"]["type"] == "image")
    assert image["content"]["caption"] == "pic" and image["content"]["size"] == len(png)
    assert "_media" not in image["content"]
    media = await gw.api.get(image["content"]["url"])
    assert media.status == 200 and await media.read() == png
    assert media.content_type == "image/png"


async def test_a_redelivered_inbound_message_is_stored_once(account: tuple[Gateway, str]) -> None:
    gw, sid = account
    await inbound(gw, {"type": "text", "text": "once"}, id="SAME")
    await inbound(gw, {"type": "text", "text": "once"}, id="SAME")
    await events_of(gw, sid, "message.received")
    await inbound(gw, {"type": "text", "text": "later"}, id="LATER")
    await events_of(gw, sid, "message.received", 2)
    rows = await listed(gw, sid, direction="inbound")
    assert sorted(r["messageId"] for r in rows) == ["LATER", "SAME"]


async def test_reactions_edits_and_revocations_become_events(account: tuple[Gateway, str]) -> None:
    gw, sid = account
    await inbound(gw, {"type": "text", "text": "orig"}, id="ORIG")
    await inbound(
        gw, {"type": "reaction", "reaction": {"messageId": "ORIG", "emoji": "❤️"}}, id="R1"
    )
    await inbound(gw, {"type": "edit", "edit": {"messageId": "ORIG", "text": "edited"}}, id="E1")
    await inbound(gw, {"type": "revoke", "revoke": {"messageId": "ORIG"}}, id="V1")
    reaction = (await events_of(gw, sid, "message.reaction"))[0]["payload"]
    edited = (await events_of(gw, sid, "message.edited"))[0]["payload"]
    revoked = (await events_of(gw, sid, "message.revoked"))[0]["payload"]
    assert (reaction["targetId"], reaction["emoji"]) == ("ORIG", "❤️")
    assert (edited["targetId"], edited["text"]) == ("ORIG", "edited")
    assert revoked["targetId"] == "ORIG"


async def test_receipts_only_move_forward(account: tuple[Gateway, str]) -> None:
    gw, sid = account
    await post(gw, sid, {"messageId": "r-1", "to": RECIPIENT, "text": "read me"})
    sent = await wait_message_status(gw, sid, "r-1", "delivered")
    await gw.net.post(
        "/control/receipt",
        {"phone": RECIPIENT, "message_id": sent["wa_message_id"], "type": "read"},
    )
    read = await wait_message_status(gw, sid, "r-1", "read")
    await gw.net.post(
        "/control/receipt",
        {"phone": RECIPIENT, "message_id": sent["wa_message_id"], "type": "delivered"},
    )
    await events_of(gw, sid, "message.receipt.read")
    final = await wait_message_status(gw, sid, "r-1", "read")
    assert final["read_at"] == read["read_at"] and final["delivered_at"] == sent["delivered_at"]
    receipt = (await gw.events(sid, event_type="message.receipt.read"))[0]["payload"]
    assert receipt["messageId"] == sent["wa_message_id"] and receipt["id"] == sent["id"]
    assert receipt["receiptType"] == "read" and receipt["timestamp"] > 10**12  # milliseconds
    assert len(await gw.events(sid, event_type="message.receipt.delivered")) == 1


async def test_presence_and_chat_presence(account: tuple[Gateway, str]) -> None:
    gw, sid = account
    resp = await gw.api.post(f"/api/v1/sessions/{sid}/presence/subscribe", json={"jid": FRIEND})
    assert resp.status == 200
    await gw.net.post("/control/presence", {"phone": FRIEND, "to": ME, "presence": "available"})
    await gw.net.post("/control/presence", {"phone": FRIEND, "to": ME, "presence": "composing"})
    update = (await events_of(gw, sid, "presence.update"))[0]["payload"]
    typing = (await events_of(gw, sid, "chat.presence"))[0]["payload"]
    assert update["jid"] == f"{FRIEND}@s.whatsapp.net" and update["available"] is True
    assert typing["state"] == "composing"
    sent = await gw.api.post(
        f"/api/v1/sessions/{sid}/presence", json={"jid": FRIEND, "type": "composing"}
    )
    assert sent.status == 200
    activity = (await gw.net.get(f"/control/activity/{ME}"))["activity"]
    assert any(a["action"] == "chat_presence" and a["state"] == "composing" for a in activity)
    bad = await gw.api.post(
        f"/api/v1/sessions/{sid}/presence", json={"jid": FRIEND, "type": "dancing"}
    )
    assert bad.status == 400


async def test_presence_on_a_disconnected_session_is_409(gateway: StartGateway) -> None:
    gw = await gateway()
    sid = (await gw.create())["id"]
    resp = await gw.api.post(
        f"/api/v1/sessions/{sid}/presence", json={"jid": FRIEND, "type": "available"}
    )
    assert resp.status == 409
    assert (await resp.json())["error"]["type"] == "SessionNotReadyError"


async def test_calls_are_recorded_and_listed(account: tuple[Gateway, str]) -> None:
    gw, sid = account
    for action in ("offer", "accept", "terminate"):
        await gw.net.post(
            "/control/call",
            {"from": FRIEND, "to": ME, "call_id": "C1", "video": True, "action": action},
        )
    await events_of(gw, sid, "call.terminate")
    resp = await gw.api.get(f"/api/v1/sessions/{sid}/calls", params={"is_video": "true"})
    calls = (await resp.json())["data"]
    assert len(calls) == 1
    call = calls[0]
    assert call["call_id"] == "C1" and call["status"] == "terminate" and call["is_video"] is True
    assert call["offered_at"] and call["accepted_at"] and call["ended_at"]
    types = await gw.event_types(sid)
    assert [t for t in types if t.startswith("call.")] == [
        "call.offer",
        "call.accept",
        "call.terminate",
    ]


async def test_reject_calls_rejects_automatically(gateway: StartGateway) -> None:
    gw = await gateway()
    sid = (await gw.connect(ME, config={"rejectCalls": True}))["id"]
    await gw.net.post(
        "/control/call", {"from": FRIEND, "to": ME, "call_id": "C2", "action": "offer"}
    )
    await events_of(gw, sid, "call.reject")
    activity = (await gw.net.get(f"/control/activity/{ME}"))["activity"]
    assert any(a["action"] == "reject_call" and a["call_id"] == "C2" for a in activity)
    calls = (await (await gw.api.get(f"/api/v1/sessions/{sid}/calls")).json())["data"]
    assert calls[0]["rejected_by_us"] is True


async def test_group_changes_become_events(account: tuple[Gateway, str]) -> None:
    gw, sid = account
    group = "120363000000000001@g.us"
    await gw.net.post(
        "/control/group",
        {"group": group, "action": "create", "participants": [ME, FRIEND], "by": FRIEND},
    )
    await gw.net.post(
        "/control/group",
        {"group": group, "action": "add", "participants": ["5511944440000"], "by": FRIEND},
    )
    await gw.net.post(
        "/control/group",
        {"group": group, "action": "subject", "participants": [], "by": FRIEND, "subject": "Team"},
    )
    added = (await events_of(gw, sid, "group.participants.add"))[-1]["payload"]
    assert added["groupId"] == group and "5511944440000@s.whatsapp.net" in added["participants"]
    update = (await events_of(gw, sid, "group.update"))[0]["payload"]
    assert update["subject"] == "Team"


async def test_nul_characters_from_the_network_do_not_block_the_inbound_line(
    account: tuple[Gateway, str],
) -> None:
    """Anyone can send a business a message; Postgres stores no U+0000 in text or jsonb."""
    gw, sid = account
    await inbound(gw, {"type": "text", "text": "a\x00b"}, id="NUL1", push_name="x\x00y")
    await inbound(gw, {"type": "text", "text": "after"}, id="NUL2")
    await events_of(gw, sid, "message.received", 2)
    rows = await listed(gw, sid, direction="inbound", sortOrder="asc")
    assert [r["messageId"] for r in rows] == ["NUL1", "NUL2"]
    assert rows[0]["content"] == {"text": "a\ufffdb"}  # shown as U+FFFD, like any bad character
