"""Messages: stored once per id, every content type, offline queues, receipts, groups."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from pathlib import Path

from tests.simnet_harness import Events, Pair, Simnet, StartSimnet
from zaphubd.simnet.model import SimnetConfig
from zaphubd.transport.events import Connected, MessageIn, Qr, Receipt
from zaphubd.transport.outbound import (
    Contact,
    Content,
    Location,
    Media,
    OutboundMessage,
    Poll,
    Quoted,
    Reaction,
    Text,
)
from zaphubd.transport.simnet import SimnetTransport

ANA, BEN, CAL = "5511900000001", "5511900000002", "5511900000003"


def to(phone: str) -> str:
    return f"{phone}@s.whatsapp.net"


async def test_a_repeated_message_id_is_acknowledged_and_stored_once(
    simnet: Simnet, transport: SimnetTransport, pair: Pair
) -> None:
    client, events = await pair(ANA)
    message = OutboundMessage(to(BEN), Text("hello"))
    first = await client.send(message, "3EB0AAAAAAAAAAAAAAAAAA")
    again = await client.send(message, "3EB0AAAAAAAAAAAAAAAAAA")
    assert first == again  # same id, same server timestamp

    mailbox = await simnet.mailbox(BEN)
    assert [(m["id"], m["from"], m["content"]) for m in mailbox] == [
        ("3EB0AAAAAAAAAAAAAAAAAA", to(ANA), {"text": "hello"})
    ]
    stats = await simnet.get("/control/stats")
    assert stats["sends"] == 2 and stats["duplicates_ignored"] == 1 and stats["stored"] == 1
    receipt = await events.next(Receipt)
    assert receipt.message_ids == ("3EB0AAAAAAAAAAAAAAAAAA",) and receipt.type == "delivered"
    assert receipt.chat == to(BEN) and receipt.participant is None
    await events.none(Receipt, within=0.1)  # the duplicate is not delivered again


async def test_new_message_ids_look_like_whatsapp_ids(transport: SimnetTransport) -> None:
    ids = {transport.new_message_id() for _ in range(100)}
    assert len(ids) == 100
    for mid in ids:
        assert mid.startswith("3EB0") and len(mid) == 22 and mid == mid.upper()
        int(mid, 16)


async def test_every_content_type_lands_with_its_content(simnet: Simnet, pair: Pair) -> None:
    client, _ = await pair(ANA)
    jpeg, ogg, pdf = b"\xff\xd8jpeg-bytes", b"OggS-voice", b"%PDF-1.7 doc"
    contents: list[Content] = [
        Text("plain"),
        Media("image", jpeg, "image/jpeg", caption="a cat"),
        Media("video", b"mp4", "video/mp4", caption="clip", gif_playback=True),
        Media("audio", ogg, "audio/ogg; codecs=opus", ptt=True),
        Media("document", pdf, "application/pdf", caption="terms", file_name="t.pdf"),
        Media("sticker", b"RIFFwebp", "image/webp"),
        Location(-23.55, -46.63, name="Sé", address="Praça da Sé"),
        Contact("Ana", "BEGIN:VCARD\nFN:Ana\nEND:VCARD"),
        Reaction("3EB0TARGET", "👍"),
        Poll("Lunch?", ("yes", "no"), selectable_count=1),
    ]
    for index, content in enumerate(contents):
        await client.send(OutboundMessage(to(BEN), content), f"3EB0CONTENT{index:02d}")

    box = {m["id"]: m for m in await simnet.mailbox(BEN)}
    assert [box[f"3EB0CONTENT{i:02d}"]["type"] for i in range(len(contents))] == [
        "text",
        "image",
        "video",
        "audio",
        "document",
        "sticker",
        "location",
        "contact",
        "reaction",
        "poll",
    ]
    image = box["3EB0CONTENT01"]["content"]
    assert image == {
        "caption": "a cat",
        "mimeType": "image/jpeg",
        "size": len(jpeg),
        "sha256": hashlib.sha256(jpeg).hexdigest(),
    }
    assert box["3EB0CONTENT02"]["content"]["gifPlayback"] is True
    assert box["3EB0CONTENT03"]["content"]["ptt"] is True
    assert box["3EB0CONTENT03"]["content"]["mimeType"] == "audio/ogg; codecs=opus"
    assert box["3EB0CONTENT04"]["content"]["fileName"] == "t.pdf"
    assert box["3EB0CONTENT04"]["content"]["size"] == len(pdf)
    assert box["3EB0CONTENT06"]["content"] == {
        "latitude": -23.55,
        "longitude": -46.63,
        "name": "Sé",
        "address": "Praça da Sé",
    }
    assert box["3EB0CONTENT07"]["content"]["displayName"] == "Ana"
    assert box["3EB0CONTENT08"]["content"] == {"messageId": "3EB0TARGET", "emoji": "👍"}
    assert box["3EB0CONTENT09"]["content"] == {
        "name": "Lunch?",
        "options": ["yes", "no"],
        "selectableCount": 1,
    }


async def test_quoted_and_mentions_are_kept(simnet: Simnet, pair: Pair) -> None:
    client, _ = await pair(ANA)
    message = OutboundMessage(
        to(BEN),
        Text("@ben look"),
        quoted=Quoted("3EB0QUOTED", to(BEN), "earlier"),
        mentions=(to(BEN),),
    )
    await client.send(message, "3EB0REPLY")
    [entry] = await simnet.mailbox(BEN)
    assert entry["quoted"] == {"messageId": "3EB0QUOTED", "sender": to(BEN), "text": "earlier"}
    assert entry["mentions"] == [to(BEN)]


async def test_two_devices_talk_to_each_other(pair: Pair) -> None:
    ana, ana_events = await pair(ANA)
    ben, ben_events = await pair(BEN)
    message = OutboundMessage(to(BEN), Text("hi Ben"), quoted=Quoted("3EB0OLD"))
    sent = await ana.send(message, "3EB0TALK01")
    got = await ben_events.next(MessageIn)
    assert (got.id, got.chat, got.sender, got.type) == ("3EB0TALK01", to(ANA), to(ANA), "text")
    assert got.content == {"text": "hi Ben"} and got.quoted_id == "3EB0OLD"
    assert got.timestamp == sent.timestamp and not got.from_me and not got.is_group

    await ben.send(OutboundMessage(to(ANA), Text("hi Ana")), "3EB0TALK02")
    back = await ana_events.next(MessageIn)
    assert (back.id, back.sender, back.content) == ("3EB0TALK02", to(BEN), {"text": "hi Ana"})
    assert (await ana_events.next(Receipt)).message_ids == ("3EB0TALK01",)


async def test_a_message_for_an_offline_device_waits_until_it_connects(
    simnet: Simnet, transport: SimnetTransport, pair: Pair
) -> None:
    ana, _ = await pair(ANA)
    ben, ben_events = await pair(BEN)
    await ben.disconnect()
    await ana.send(OutboundMessage(to(BEN), Text("while you were away")), "3EB0QUEUED1")
    await simnet.post(
        "/control/inbound", {"from": CAL, "to": BEN, "message": {"type": "text", "text": "me too"}}
    )
    assert (await simnet.device(ben.session_id))["pending"] == 2
    assert ben_events.of(MessageIn) == []

    later = Events()
    await transport.client(ben.session_id, later).connect()
    first = await later.next(MessageIn)
    second = await later.next(MessageIn)
    assert (first.id, first.content) == ("3EB0QUEUED1", {"text": "while you were away"})
    assert second.sender == to(CAL) and second.content == {"text": "me too"}
    assert later.all.index(first) > later.all.index(later.of(Connected)[0])
    await asyncio.sleep(0.05)  # acks flow back after the callback returned
    assert (await simnet.device(ben.session_id))["pending"] == 0


async def test_receipts_reach_the_sender(simnet: Simnet, pair: Pair) -> None:
    ana, events = await pair(ANA)
    await ana.send(OutboundMessage(to(BEN), Text("read me")), "3EB0READ1")
    delivered = await events.next(Receipt, lambda r: r.type == "delivered")
    assert delivered.sender == to(BEN)
    body = {"phone": BEN, "message_id": "3EB0READ1", "type": "read"}
    await simnet.post("/control/receipt", body)
    read = await events.next(Receipt, lambda r: r.type == "read")
    assert (read.message_ids, read.chat, read.sender) == (("3EB0READ1",), to(BEN), to(BEN))
    [entry] = await simnet.mailbox(BEN)
    assert entry["status"] == "read" and entry["read_at"] >= entry["timestamp"]
    await simnet.post("/control/receipt", body | {"message_id": "3EB0NOPE"}, status=404)


async def test_auto_read_sends_read_receipts(start_simnet: StartSimnet, tmp_path: Path) -> None:
    simnet = await start_simnet(SimnetConfig(auto_read_ms=50, qr_first_s=30))
    transport = SimnetTransport(simnet.url, tmp_path)
    await transport.start()
    events = Events()
    client = transport.client(uuid.uuid4(), events)
    await client.connect()
    await events.next(Qr)
    await simnet.post("/control/scan", {"device_id": str(client.session_id), "phone": ANA})
    await events.next(Connected)
    await client.send(OutboundMessage(to(BEN), Text("auto")), "3EB0AUTO1")
    await events.next(Receipt, lambda r: r.type == "delivered")
    read = await events.next(Receipt, lambda r: r.type == "read", timeout=2)
    assert read.message_ids == ("3EB0AUTO1",)
    assert (await simnet.mailbox(BEN))[0]["status"] == "read"
    await transport.close()


async def test_mark_read_on_a_device_tells_the_sender(simnet: Simnet, pair: Pair) -> None:
    ana, ana_events = await pair(ANA)
    ben, ben_events = await pair(BEN)
    await ana.send(OutboundMessage(to(BEN), Text("seen?")), "3EB0SEEN1")
    got = await ben_events.next(MessageIn)
    await ben.mark_read(got.chat, got.sender, [got.id])
    read = await ana_events.next(Receipt, lambda r: r.type == "read")
    assert read.message_ids == ("3EB0SEEN1",) and read.sender == to(BEN)
    activity = (await simnet.get(f"/control/activity/{BEN}"))["activity"]
    assert [a["action"] for a in activity] == ["read"]
    assert activity[0]["ids"] == ["3EB0SEEN1"] and activity[0]["device_id"] == str(ben.session_id)


async def test_group_messages_reach_every_member_but_the_sender(simnet: Simnet, pair: Pair) -> None:
    ana, ana_events = await pair(ANA)
    _ben, ben_events = await pair(BEN)
    group = "120363000000000001@g.us"
    await simnet.post(
        "/control/group",
        {"group": group, "action": "create", "participants": [BEN, CAL], "by": ANA},
    )
    await ana.send(OutboundMessage(group, Text("hello group")), "3EB0GROUP1")
    got = await ben_events.next(MessageIn)
    assert (got.chat, got.sender, got.is_group) == (group, to(ANA), True)
    assert [m["chat"] for m in await simnet.mailbox(CAL)] == [group]
    assert [m["id"] for m in await simnet.mailbox(BEN)] == ["3EB0GROUP1"]
    assert await simnet.mailbox(ANA) == []
    receipts = [await ana_events.next(Receipt) for _ in range(2)]
    assert {r.participant for r in receipts} == {to(BEN), to(CAL)}
    assert {r.chat for r in receipts} == {group}
    await ana_events.none(MessageIn, within=0.1)


async def test_status_broadcast_goes_to_the_status_list(simnet: Simnet, pair: Pair) -> None:
    ana, _ = await pair(ANA)
    message = OutboundMessage("status@broadcast", Text("my status"), status_jid_list=(to(CAL),))
    await ana.send(message, "3EB0STATUS1")
    [entry] = await simnet.mailbox(CAL)
    assert entry["chat"] == "status@broadcast" and entry["from"] == to(ANA)
    assert await simnet.mailbox(BEN) == []


async def test_own_other_devices_see_the_message_as_from_me(simnet: Simnet, pair: Pair) -> None:
    phone, _ = await pair(ANA)
    _laptop, laptop_events = await pair(ANA)
    await phone.send(OutboundMessage(to(BEN), Text("from my phone")), "3EB0MINE1")
    copy = await laptop_events.next(MessageIn)
    assert copy.from_me and copy.chat == to(BEN) and copy.sender == to(ANA)
