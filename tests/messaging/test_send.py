"""Sending end to end: the daemon in-process, simnet's mailboxes as the observable outcome."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import Any

import pytest

from tests.gateway import Gateway, StartGateway, eventually
from tests.messaging.conftest import MediaServer

RECIPIENT = "5511988880000"
RECIPIENT_JID = f"{RECIPIENT}@s.whatsapp.net"


async def post(gw: Gateway, sid: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    resp = await gw.api.post(f"/api/v1/sessions/{sid}/messages", json=body)
    return resp.status, await resp.json()


async def message(gw: Gateway, sid: str, key: str) -> dict[str, Any]:
    resp = await gw.api.get(f"/api/v1/sessions/{sid}/messages/{key}")
    assert resp.status == 200, await resp.text()
    data: dict[str, Any] = (await resp.json())["data"]
    return data


async def wait_message_status(
    gw: Gateway, sid: str, key: str, *statuses: str, timeout_s: float = 10
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        row = await message(gw, sid, key)
        return row if row["status"] in statuses else None

    result: dict[str, Any] = await eventually(probe, timeout_s)
    return result


async def mailbox(gw: Gateway, phone: str = RECIPIENT) -> list[dict[str, Any]]:
    return await gw.net.mailbox(phone)


async def wait_mailbox(gw: Gateway, count: int, phone: str = RECIPIENT) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]] | None:
        box = await mailbox(gw, phone)
        return box if len(box) >= count else None

    try:
        await eventually(probe, timeout_s=20)
    except AssertionError:
        await _explain(gw)
        raise
    await asyncio.sleep(0.2)  # a duplicate would show up now
    return await mailbox(gw, phone)


async def _explain(gw: Gateway) -> None:
    """On a timeout, print where every send stands (pytest shows it with the failure)."""
    for session in (await (await gw.api.get("/api/v1/sessions")).json())["data"]:
        resp = await gw.api.get(f"/api/v1/sessions/{session['id']}/messages", params={"limit": 100})
        rows = (await resp.json())["data"]
        print(
            session["id"],
            session["status"],
            [(r["messageId"], r["status"], r["attempts"], r["error_message"]) for r in rows],
        )


@pytest.fixture
async def sender(gateway: StartGateway) -> tuple[Gateway, str]:
    gw = await gateway(media_allow_private=True, media_max_bytes=2 * 1024 * 1024)
    session = await gw.connect("5511977770000")
    return gw, session["id"]


async def test_text_is_delivered_and_tracked(sender: tuple[Gateway, str]) -> None:
    gw, sid = sender
    status, body = await post(
        gw,
        sid,
        {
            "messageId": "t-1",
            "to": RECIPIENT,
            "type": "text",
            "text": "Olá!",
            "metadata": {"ticket": "#1"},
        },
    )
    assert status == 201
    data = body["data"]
    assert set(data) == {"id", "messageId", "status", "type", "to", "created_at", "queued_at"}
    assert data["status"] == "queued" and data["to"] == RECIPIENT_JID
    sent = await wait_message_status(gw, sid, "t-1", "sent", "delivered", "read")
    box = await wait_mailbox(gw, 1)
    assert [(m["type"], m["content"]["text"], m["from"]) for m in box] == [
        ("text", "Olá!", "5511977770000@s.whatsapp.net")
    ]
    assert box[0]["id"] == sent["wa_message_id"]
    assert sent["metadata"] == {"ticket": "#1"} and sent["attempts"] == 1
    assert sent["sent_at"] and sent["wa_timestamp"]
    delivered = await wait_message_status(gw, sid, "t-1", "delivered")
    assert delivered["delivered_at"]
    types = await gw.event_types(sid)
    assert {"message.send.queued", "message.sent", "message.receipt.delivered"} <= set(types)


async def test_every_content_type_arrives_with_its_content(
    sender: tuple[Gateway, str], media_server: MediaServer
) -> None:
    gw, sid = sender
    png = media_server.files["photo.png"]
    bodies: list[dict[str, Any]] = [
        {"type": "image", "image": {"url": media_server.url("photo.png"), "caption": "a photo"}},
        {"type": "image", "image": {"data": base64.b64encode(png).decode(), "caption": "inline"}},
        {"type": "video", "video": {"url": media_server.url("clip.mp4"), "gifPlayback": True}},
        {"type": "audio", "audio": {"url": media_server.url("voice.ogg"), "ptt": True}},
        {"type": "document", "document": {"url": media_server.url("report.pdf")}},
        {"type": "sticker", "sticker": {"url": media_server.url("sticker.webp")}},
        {"type": "location", "location": {"latitude": -23.55, "longitude": -46.63, "name": "SP"}},
        {
            "type": "contact",
            "contact": {
                "displayName": "Ana",
                "vcard": "BEGIN:VCARD\nVERSION:3.0\nFN:Ana\nEND:VCARD",
            },
        },
        {
            "type": "poll",
            "poll": {"name": "Lunch?", "options": ["yes", "no"], "selectableCount": 1},
        },
    ]
    for n, body in enumerate(bodies):
        status, resp = await post(gw, sid, {"messageId": f"m-{n}", "to": RECIPIENT, **body})
        assert status == 201, resp
    box = await wait_mailbox(gw, len(bodies))
    by_type = [(m["type"], m["content"]) for m in box]
    assert [t for t, _ in by_type] == [
        "image",
        "image",
        "video",
        "audio",
        "document",
        "sticker",
        "location",
        "contact",
        "poll",
    ]
    image, inline, video, audio, document, sticker, location, contact, poll = (
        c for _, c in by_type
    )
    assert image["caption"] == "a photo" and image["mimeType"] == "image/png"
    assert image["sha256"] == hashlib.sha256(png).hexdigest() == inline["sha256"]
    assert video["mimeType"] == "video/mp4" and video["gifPlayback"] is True
    assert audio["ptt"] is True and audio["mimeType"] in ("audio/ogg", "application/ogg")
    assert document["fileName"] == "report.pdf" and document["mimeType"] == "application/pdf"
    assert sticker["mimeType"] == "image/webp"
    assert location["latitude"] == -23.55 and location["name"] == "SP"
    assert contact["displayName"] == "Ana" and contact["vcard"].startswith("BEGIN:VCARD")
    assert poll["name"] == "Lunch?" and poll["options"] == ["yes", "no"]


async def test_reply_mentions_and_reaction(sender: tuple[Gateway, str]) -> None:
    gw, sid = sender
    await post(gw, sid, {"messageId": "first", "to": RECIPIENT, "text": "first"})
    first = await wait_message_status(gw, sid, "first", "sent", "delivered")
    wa_id = first["wa_message_id"]
    await post(
        gw,
        sid,
        {
            "messageId": "reply",
            "to": RECIPIENT,
            "text": "@5511912345678 see above",
            "quoted": wa_id,
            "mentions": ["5511912345678"],
        },
    )
    await post(
        gw,
        sid,
        {"messageId": "react", "to": RECIPIENT, "reaction": {"messageId": wa_id, "emoji": "👍"}},
    )
    box = await wait_mailbox(gw, 3)
    assert box[1]["quoted"]["messageId"] == wa_id and box[1]["mentions"] == [
        "5511912345678@s.whatsapp.net"
    ]
    assert box[2]["type"] == "reaction" and box[2]["content"]["messageId"] == wa_id
    assert box[2]["content"]["emoji"] == "👍"


async def test_a_repeated_message_id_is_sent_once(sender: tuple[Gateway, str]) -> None:
    gw, sid = sender
    body = {"messageId": "dup-1", "to": RECIPIENT, "text": "once"}
    first_status, first = await post(gw, sid, body)
    second_status, second = await post(gw, sid, {**body, "text": "a different body"})
    assert (first_status, second_status) == (201, 200)
    assert second["data"]["id"] == first["data"]["id"]
    assert second["data"]["content"] == {"text": "once"}
    racing = await asyncio.gather(
        *(post(gw, sid, {"messageId": "race", "to": RECIPIENT, "text": "race"}) for _ in range(10))
    )
    assert sorted(s for s, _ in racing) == [200] * 9 + [201]
    assert len({b["data"]["id"] for _, b in racing}) == 1
    box = await wait_mailbox(gw, 2)
    assert sorted(m["content"]["text"] for m in box) == ["once", "race"]


async def test_fifty_messages_to_one_chat_arrive_in_order(sender: tuple[Gateway, str]) -> None:
    gw, sid = sender
    for n in range(50):
        status, _ = await post(gw, sid, {"messageId": f"o-{n}", "to": RECIPIENT, "text": f"#{n}"})
        assert status == 201
    box = await wait_mailbox(gw, 50)
    assert [m["content"]["text"] for m in box] == [f"#{n}" for n in range(50)]


async def test_a_drop_mid_burst_delivers_everything_once(sender: tuple[Gateway, str]) -> None:
    gw, sid = sender
    statuses = []
    for n in range(30):  # one after the other: the order of acceptance is the order to keep
        if n == 10:
            await gw.net.post("/control/drop", {"device_id": sid})
        status, _ = await post(gw, sid, {"messageId": f"d-{n}", "to": RECIPIENT, "text": f"#{n}"})
        statuses.append(status)
    assert statuses == [201] * 30
    box = await wait_mailbox(gw, 30)
    texts = [m["content"]["text"] for m in box]
    assert sorted(texts, key=lambda t: int(t[1:])) == [f"#{n}" for n in range(30)]
    assert len(texts) == len(set(texts)) == 30
    assert texts == sorted(texts, key=lambda t: int(t[1:]))  # order kept across the reconnect


@pytest.mark.parametrize(
    ("image", "error"),
    [
        ({"url": "MEDIA/missing.png"}, "404"),
        ({"url": "MEDIA/big.png"}, "larger than"),
        ({"url": "MEDIA/report.pdf"}, "not an image"),
    ],
)
async def test_bad_media_ends_in_dlq_and_the_lane_goes_on(
    sender: tuple[Gateway, str], media_server: MediaServer, image: dict[str, str], error: str
) -> None:
    gw, sid = sender
    await gw.api.patch(f"/api/v1/sessions/{sid}", json={"config": {"retryLimit": 5}})
    url = image["url"].replace("MEDIA", media_server.base)
    await post(gw, sid, {"messageId": "bad", "to": RECIPIENT, "image": {"url": url}})
    await post(gw, sid, {"messageId": "after", "to": RECIPIENT, "text": "still works"})
    failed = await wait_message_status(gw, sid, "bad", "dlq")
    assert error in failed["error_message"]
    await wait_message_status(gw, sid, "after", "sent", "delivered")
    box = await wait_mailbox(gw, 1)
    assert [m["content"].get("text") for m in box] == ["still works"]
    assert "message.moved_to_dlq" in await gw.event_types(sid)


async def test_private_media_urls_are_refused_with_the_guard_on(
    gateway: StartGateway, media_server: MediaServer
) -> None:
    gw = await gateway(media_allow_private=False)
    sid = (await gw.connect("5511977770001"))["id"]
    await post(
        gw,
        sid,
        {"messageId": "ssrf", "to": RECIPIENT, "image": {"url": media_server.url("photo.png")}},
    )
    failed = await wait_message_status(gw, sid, "ssrf", "dlq")
    assert "private" in failed["error_message"] or "refused" in failed["error_message"]
    assert await mailbox(gw) == []


async def test_sends_wait_while_disconnected_without_spending_attempts(
    sender: tuple[Gateway, str],
) -> None:
    gw, sid = sender
    await gw.net.post("/control/faults", {"refuse_connections": True})
    await gw.net.post("/control/drop", {"device_id": sid})
    await gw.wait_status(sid, "reconnecting")
    status, _ = await post(gw, sid, {"messageId": "waits", "to": RECIPIENT, "text": "later"})
    assert status == 201
    await asyncio.sleep(0.5)
    waiting = await message(gw, sid, "waits")
    assert waiting["status"] == "queued" and waiting["attempts"] == 0
    await gw.net.post("/control/faults", {})
    await wait_message_status(gw, sid, "waits", "sent", "delivered", timeout_s=15)
    assert (await message(gw, sid, "waits"))["attempts"] == 1
