"""Contacts that write from a LID (WhatsApp's privacy addressing), in both orders: the phone
number known from the start, or only later. simnet models LID-addressed accounts
(/control/lid); what is checked is what a webhook consumer reads: `from` is the phone JID
whenever it is known, `lid` names the LID, and learning the number later fixes the messages
stored before."""

from __future__ import annotations

from typing import Any

from tests.gateway import Gateway, StartGateway, eventually

ME = "5511900000101"
CONTACT = "5511988880101"
LID = "190000000000101@lid"
PHONE_JID = f"{CONTACT}@s.whatsapp.net"


async def write(gw: Gateway, message_id: str) -> None:
    body = {"from": CONTACT, "to": ME, "id": message_id, "message": {"type": "text", "text": "oi"}}
    await gw.net.post("/control/inbound", body)


async def received(gw: Gateway, sid: str, message_id: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        for event in await gw.events(sid, type="message"):
            payload: dict[str, Any] = event["payload"]
            if event["event_type"] == "message.received" and payload["messageId"] == message_id:
                return payload
        return None

    found: dict[str, Any] = await eventually(probe, 15)
    return found


async def stored_from(gw: Gateway, sid: str, message_id: str) -> str:
    resp = await gw.api.get(f"/api/v1/sessions/{sid}/messages/{message_id}")
    assert resp.status == 200, await resp.text()
    sender: str = (await resp.json())["data"]["from"]
    return sender


async def test_the_number_known_from_the_start(gateway: StartGateway) -> None:
    gw = await gateway()
    sid = (await gw.connect(ME))["id"]
    await gw.net.post("/control/lid", {"phone": CONTACT, "lid": LID, "share_phone": True})
    await write(gw, "LID-A1")
    payload = await received(gw, sid, "LID-A1")
    assert payload["from"] == PHONE_JID and payload["chatId"] == PHONE_JID
    assert payload["lid"] == LID
    assert await stored_from(gw, sid, "LID-A1") == PHONE_JID
    assert "contact.lid_mapped" in await gw.event_types(sid)


async def test_the_number_known_later(gateway: StartGateway) -> None:
    gw = await gateway()
    sid = (await gw.connect(ME))["id"]
    await gw.net.post("/control/lid", {"phone": CONTACT, "lid": LID, "share_phone": False})
    await write(gw, "LID-B1")
    first = await received(gw, sid, "LID-B1")
    assert first["from"] == LID and first["lid"] == LID  # all that is known yet
    assert await stored_from(gw, sid, "LID-B1") == LID

    await gw.net.post("/control/lid", {"phone": CONTACT, "share_phone": True})
    await write(gw, "LID-B2")
    second = await received(gw, sid, "LID-B2")
    assert second["from"] == PHONE_JID and second["lid"] == LID
    events = await gw.events(sid)
    mapped = [e["payload"] for e in events if e["event_type"] == "contact.lid_mapped"]
    assert mapped == [{"lid": LID, "phone": PHONE_JID}]
    assert await stored_from(gw, sid, "LID-B1") == PHONE_JID  # the earlier one, fixed

    await gw.net.post("/control/lid", {"phone": CONTACT, "share_phone": False})
    await write(gw, "LID-B3")  # from the LID alone again: the number is remembered
    third = await received(gw, sid, "LID-B3")
    assert third["from"] == PHONE_JID and third["lid"] == LID


async def test_a_send_to_a_lid_reaches_the_contact(gateway: StartGateway) -> None:
    gw = await gateway()
    sid = (await gw.connect(ME))["id"]
    await gw.net.post("/control/lid", {"phone": CONTACT, "lid": LID})
    body = {"messageId": "to-lid", "to": LID, "text": "to the lid"}
    resp = await gw.api.post(f"/api/v1/sessions/{sid}/messages", json=body)
    assert resp.status == 201, await resp.text()

    async def delivered() -> list[str] | None:
        texts = [m["content"]["text"] for m in await gw.net.mailbox(CONTACT)]
        return texts or None

    assert await eventually(delivered, 15) == ["to the lid"]


async def test_receipts_presence_calls_and_groups_name_the_phone_too(
    gateway: StartGateway,
) -> None:
    gw = await gateway()
    sid = (await gw.connect(ME))["id"]
    await gw.net.post("/control/lid", {"phone": CONTACT, "lid": LID, "share_phone": True})
    await write(gw, "LID-C1")  # teaches the mapping
    await received(gw, sid, "LID-C1")
    await gw.net.post("/control/lid", {"phone": CONTACT, "share_phone": False})  # LID only now

    body = {"messageId": "to-contact", "to": CONTACT, "text": "hello"}
    assert (await gw.api.post(f"/api/v1/sessions/{sid}/messages", json=body)).status == 201
    subscribe = await gw.api.post(
        f"/api/v1/sessions/{sid}/presence/subscribe", json={"jid": PHONE_JID}
    )
    assert subscribe.status == 200, await subscribe.text()
    await gw.net.post("/control/presence", {"phone": CONTACT, "presence": "available"})
    await gw.net.post("/control/call", {"from": CONTACT, "to": ME, "action": "offer"})
    group = {
        "group": "120363000000000111@g.us",
        "action": "create",
        "participants": [ME, CONTACT],
        "by": CONTACT,
    }
    await gw.net.post("/control/group", group)

    wanted = {
        "message.receipt.delivered": ("remoteJid", PHONE_JID),
        "presence.update": ("jid", PHONE_JID),
        "call.offer": ("from", PHONE_JID),
    }

    async def all_seen() -> dict[str, dict[str, Any]] | None:
        seen = {e["event_type"]: e["payload"] for e in await gw.events(sid)}
        return seen if set(wanted) | {"group.joined"} <= set(seen) else None

    seen = await eventually(all_seen, 15)
    for event_type, (field, value) in wanted.items():
        assert seen[event_type][field] == value, (event_type, seen[event_type])
        assert seen[event_type]["lid"] == LID, (event_type, seen[event_type])
    assert seen["group.joined"]["by"] == PHONE_JID


async def test_sent_from_the_phone_to_a_lid_in_both_orders(gateway: StartGateway) -> None:
    """What the account sends from its phone to a LID chat is stored (and announced) with
    the contact's phone JID once known; sent before the number was known, it is fixed."""
    gw = await gateway()
    sid = (await gw.connect(ME))["id"]
    await gw.net.post("/control/lid", {"phone": CONTACT, "lid": LID, "share_phone": False})

    async def from_phone(message_id: str) -> dict[str, Any]:
        body = {"from": ME, "to": LID, "id": message_id, "message": {"type": "text", "text": "x"}}
        await gw.net.post("/control/inbound", body)

        async def stored() -> dict[str, Any] | None:
            resp = await gw.api.get(f"/api/v1/sessions/{sid}/messages/{message_id}")
            return (await resp.json())["data"] if resp.status == 200 else None

        found: dict[str, Any] = await eventually(stored, 15)
        return found

    assert (await from_phone("PHONE-1"))["to"] == LID  # nothing known yet
    await gw.net.post("/control/lid", {"phone": CONTACT, "share_phone": True})
    await write(gw, "LID-D1")  # teaches the mapping
    await received(gw, sid, "LID-D1")
    fixed = await (await gw.api.get(f"/api/v1/sessions/{sid}/messages/PHONE-1")).json()
    assert fixed["data"]["to"] == PHONE_JID
    second = await from_phone("PHONE-2")
    assert second["to"] == PHONE_JID and second["direction"] == "outbound"
    sent = [e["payload"] for e in await gw.events(sid, event_type="message.sent")]
    assert [(p["to"], p.get("lid")) for p in sent if p["messageId"] == "PHONE-2"] == [
        (PHONE_JID, LID)
    ]
