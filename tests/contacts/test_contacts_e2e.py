"""Contacts end to end: the daemon in-process on simnet, asserted through the API, simnet's
control API (accounts, mailboxes, activity) and the pictures its CDN serves."""

from __future__ import annotations

import asyncio
import base64
import io
import time
import uuid
from typing import Any

import pytest
from PIL import Image

from tests.gateway import Gateway, StartGateway, eventually
from zaphubd.http import appkeys
from zaphubd.transport.base import RateLimited

ME = "5511900000001"
FRIEND = "5511900000002"
STRANGER = "5511900000003"  # not on WhatsApp
OTHER = "5511900000004"


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


async def call(gw: Gateway, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    resp = await gw.api.request(method, "/api/v1/sessions/" + path, json=body)
    return resp.status, await resp.json()


async def checks_made(gw: Gateway, phone: str) -> int:
    activity = (await gw.net.get(f"/control/activity/{phone}"))["activity"]
    return sum(1 for entry in activity if entry["action"] == "contacts_check")


async def fetch(gw: Gateway, url: str) -> tuple[int, str, bytes]:
    async with gw.net.http.get(url) as resp:
        return resp.status, resp.content_type, await resp.read()


async def test_check_cache_pace_profile_and_block(
    gateway: StartGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = await gateway(contacts_check_interval_ms=150)
    await gw.net.post("/control/check-limit", {"interval_ms": 100})
    picture = png(48, 48)
    await gw.net.post(
        "/control/accounts", {"phone": FRIEND, "about": "Disponível", "picture": b64(picture)}
    )
    status, body = await call(gw, "POST", f"{uuid.uuid4()}/contacts/check", {"numbers": [FRIEND]})
    assert (status, body["error"]["type"]) == (404, "NotFoundError")
    idle = await gw.create()
    status, body = await call(gw, "POST", f"{idle['id']}/contacts/check", {"numbers": [FRIEND]})
    assert (status, body["error"]["type"]) == (409, "SessionNotReadyError")
    sid = (await gw.connect(ME))["id"]

    # Invalid entries are named; nothing is asked.
    status, body = await call(
        gw, "POST", f"{sid}/contacts/check", {"numbers": [FRIEND, "abc", "1203630@g.us"]}
    )
    assert status == 400 and set(body["error"]["details"]) == {"numbers.1", "numbers.2"}
    for bad in ([], [FRIEND] * 101):
        status, _ = await call(gw, "POST", f"{sid}/contacts/check", {"numbers": bad})
        assert status == 400

    asked = [FRIEND, "+55 11 90000-0003", f"{FRIEND}@s.whatsapp.net"]
    status, body = await call(gw, "POST", f"{sid}/contacts/check", {"numbers": asked})
    assert status == 200, body
    assert body["data"] == [
        {"number": asked[0], "exists": True, "jid": f"{FRIEND}@s.whatsapp.net"},
        {"number": asked[1], "exists": False, "jid": None},
        {"number": asked[2], "exists": True, "jid": f"{FRIEND}@s.whatsapp.net"},
    ]
    assert await checks_made(gw, ME) == 1
    status, again = await call(gw, "POST", f"{sid}/contacts/check", {"numbers": asked})
    assert (status, again["data"]) == (200, body["data"])
    assert await checks_made(gw, ME) == 1  # answered from the cache

    # Concurrent checks of new numbers are paced: none is refused by WhatsApp's limit.
    fresh = [[f"55119100000{i:02d}"] for i in range(3)]
    results = await asyncio.gather(
        *(call(gw, "POST", f"{sid}/contacts/check", {"numbers": n}) for n in fresh)
    )
    assert [s for s, _ in results] == [200, 200, 200], results
    assert await checks_made(gw, ME) == 4
    # ... and the pace is what keeps them apart: unpaced, simnet refuses the second.
    client = gw.api.server.app[appkeys.SESSIONS].connected_client(uuid.UUID(sid))
    assert client is not None
    await asyncio.sleep(0.15)
    await client.contacts.check(["5511920000000"])
    with pytest.raises(RateLimited):
        await client.contacts.check(["5511920000001"])
    # WhatsApp saying "too fast" through the API: a 429, and the next check waits longer.
    monkeypatch.setattr("zaphubd.sessions.contact_cache.PENALTY_INTERVALS", 2)
    monkeypatch.setattr("zaphubd.sessions.contact_cache.PENALTY_MIN_S", 0.3)
    await gw.net.post("/control/check-limit", {"interval_ms": 60_000})
    status, body = await call(gw, "POST", f"{sid}/contacts/check", {"numbers": ["5511920000002"]})
    assert (status, body["error"]["type"]) == (429, "CapacityError")
    await gw.net.post("/control/check-limit", {"interval_ms": 0})
    began = time.monotonic()
    status, body = await call(gw, "POST", f"{sid}/contacts/check", {"numbers": ["5511920000003"]})
    assert status == 200 and time.monotonic() - began >= 0.25, body

    # A contact's profile; its picture comes from the CDN.
    status, body = await call(gw, "GET", f"{sid}/contacts/+{FRIEND}")
    assert status == 200, body
    contact = body["data"]
    assert contact["jid"] == f"{FRIEND}@s.whatsapp.net" and contact["about"] == "Disponível"
    assert contact["aboutSetAt"] is not None and contact["picture"]["id"]
    assert await fetch(gw, contact["picture"]["url"]) == (200, "image/png", picture)
    for target, code in ((STRANGER, 404), ("abc", 400), ("120363000000@g.us", 400)):
        status, body = await call(gw, "GET", f"{sid}/contacts/{target}")
        assert status == code, (target, body)

    # Blocking: the blocked contact's messages stop reaching the account.
    status, body = await call(gw, "POST", f"{sid}/contacts/{FRIEND}/block")
    assert (status, body["data"]) == (200, {"jid": f"{FRIEND}@s.whatsapp.net", "blocked": True})
    status, body = await call(gw, "GET", f"{sid}/contacts/blocked")
    assert body["data"] == [{"jid": f"{FRIEND}@s.whatsapp.net"}]
    assert body["pagination"]["total"] == 1
    assert (await gw.net.get(f"/control/accounts/{ME}"))["blocked"] == [FRIEND]
    text = {"type": "text", "text": "olá"}
    await gw.net.post("/control/inbound", {"from": FRIEND, "to": ME, "message": text})
    await gw.net.post("/control/inbound", {"from": OTHER, "to": ME, "message": text})
    assert [m["from"] for m in await gw.net.mailbox(ME)] == [f"{OTHER}@s.whatsapp.net"]
    status, _ = await call(gw, "POST", f"{sid}/contacts/{STRANGER}/block")
    assert status == 404
    status, body = await call(gw, "DELETE", f"{sid}/contacts/{FRIEND}/block")
    assert (status, body["data"]["blocked"]) == (200, False)
    await gw.net.post("/control/inbound", {"from": FRIEND, "to": ME, "message": text})
    assert len(await gw.net.mailbox(ME)) == 2
    status, body = await call(gw, "GET", f"{sid}/contacts/blocked")
    assert body["data"] == []


async def test_own_profile_read_and_set(gateway: StartGateway) -> None:
    gw = await gateway()
    idle = await gw.create()
    status, _ = await call(gw, "GET", f"{idle['id']}/profile")
    assert status == 409
    status, _ = await call(gw, "GET", f"{uuid.uuid4()}/profile")
    assert status == 404
    sid = (await gw.connect(ME))["id"]
    peer = (await gw.connect(FRIEND))["id"]

    status, body = await call(gw, "GET", f"{sid}/profile")
    assert status == 200, body
    assert body["data"] == {
        "jid": f"{ME}@s.whatsapp.net",
        "pushName": "Simnet 0001",
        "about": None,
        "picture": None,
    }
    for bad in ({}, {"pushName": ""}, {"pushName": "x" * 26}, {"about": "x" * 140}, {"x": 1}):
        status, _ = await call(gw, "PATCH", f"{sid}/profile", bad)
        assert status == 400, bad
    change = {"pushName": "Loja Centro", "about": "Aberto 9-18"}
    status, body = await call(gw, "PATCH", f"{sid}/profile", change)
    assert (status, body["data"]) == (200, change)

    status, body = await call(gw, "PUT", f"{sid}/profile/picture", {"data": b64(png(100, 60))})
    assert status == 200, body
    picture_id = body["data"]["id"]
    for bad in (
        {"data": b64(b"not an image")},
        {"data": "@@"},
        {},
        {"url": "http://x", "data": "a"},
    ):
        status, _ = await call(gw, "PUT", f"{sid}/profile/picture", bad)
        assert status == 400, bad

    status, body = await call(gw, "GET", f"{sid}/profile")
    own = body["data"]
    assert (own["pushName"], own["about"], own["picture"]["id"]) == (
        "Loja Centro",
        "Aberto 9-18",
        picture_id,
    )
    status, kind, data = await fetch(gw, own["picture"]["url"])
    assert (status, kind) == (200, "image/jpeg")
    assert Image.open(io.BytesIO(data)).size == (60, 60)  # WhatsApp's square JPEG

    # Others see it: the contact lookup, and the push name on the next message.
    status, body = await call(gw, "GET", f"{peer}/contacts/{ME}")
    assert (body["data"]["about"], body["data"]["picture"]["id"]) == ("Aberto 9-18", picture_id)
    send = {"messageId": "profile-1", "to": FRIEND, "type": "text", "text": "oi"}
    resp = await gw.api.post(f"/api/v1/sessions/{sid}/messages", json=send)
    assert resp.status in (201, 202), await resp.text()
    box = await eventually(lambda: gw.net.mailbox(FRIEND))
    assert box[0]["push_name"] == "Loja Centro"

    # The contact blocks us: our message goes out (one tick) but never reaches it.
    await gw.net.post("/control/block", {"phone": FRIEND, "jid": ME, "action": "block"})
    send = {"messageId": "profile-2", "to": FRIEND, "type": "text", "text": "oi?"}
    resp = await gw.api.post(f"/api/v1/sessions/{sid}/messages", json=send)
    assert resp.status in (201, 202), await resp.text()

    async def sent() -> bool:
        resp = await gw.api.get(f"/api/v1/sessions/{sid}/messages/profile-2")
        return bool((await resp.json())["data"]["status"] == "sent")

    await eventually(sent)
    await asyncio.sleep(0.2)
    assert len(await gw.net.mailbox(FRIEND)) == 1
    assert await sent()  # never delivered
