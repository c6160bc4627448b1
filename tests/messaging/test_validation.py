"""The send endpoint's contract: order of checks, per-field errors, outbox and legacy route."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.gateway import Gateway, StartGateway, eventually
from tests.messaging.test_send import RECIPIENT, post


@pytest.fixture
async def gw(gateway: StartGateway) -> Gateway:
    return await gateway()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": RECIPIENT, "text": "x"}, "messageId"),
        ({"messageId": "a", "text": "x"}, "to"),
        ({"messageId": "a", "to": "not a number", "text": "x"}, "to"),
        ({"messageId": "a", "to": RECIPIENT}, "type"),
        (
            {
                "messageId": "a",
                "to": RECIPIENT,
                "text": "x",
                "image": {"url": "https://example.com/a.png"},
            },
            "type",
        ),
        ({"messageId": "a", "to": RECIPIENT, "type": "image", "text": "x"}, "image"),
        ({"messageId": "a", "to": RECIPIENT, "text": ""}, "text"),
        ({"messageId": "a", "to": RECIPIENT, "image": {}}, "image.url"),
        (
            {"messageId": "a", "to": RECIPIENT, "image": {"url": "https://e.x/a", "data": "AAAA"}},
            "image.url",
        ),
        ({"messageId": "a", "to": RECIPIENT, "image": {"data": "not base64!!"}}, "image.data"),
        ({"messageId": "a", "to": RECIPIENT, "image": {"url": "file:///etc/passwd"}}, "image.url"),
        (
            {
                "messageId": "a",
                "to": RECIPIENT,
                "document": {"url": "https://e.x/a", "fileName": "../x"},
            },
            "document.fileName",
        ),
        (
            {"messageId": "a", "to": RECIPIENT, "location": {"latitude": 91, "longitude": 0}},
            "location.latitude",
        ),
        (
            {"messageId": "a", "to": RECIPIENT, "contact": {"displayName": "A", "vcard": "hi"}},
            "contact.vcard",
        ),
        (
            {"messageId": "a", "to": RECIPIENT, "poll": {"name": "Q", "options": ["a"]}},
            "poll.options",
        ),
        (
            {"messageId": "a", "to": RECIPIENT, "poll": {"name": "Q", "options": ["a", "a"]}},
            "poll.options",
        ),
        ({"messageId": "a", "to": RECIPIENT, "reaction": {"emoji": "x"}}, "reaction.messageId"),
        ({"messageId": "a", "to": "status@broadcast", "text": "x"}, "statusJidList"),
        (
            {"messageId": "a", "to": RECIPIENT, "text": "x", "statusJidList": [RECIPIENT]},
            "statusJidList",
        ),
        ({"messageId": "a", "to": RECIPIENT, "text": "x", "mentions": ["nope"]}, "mentions.0"),
        ({"messageId": "a", "to": RECIPIENT, "text": "x", "colour": "red"}, "colour"),
        ({"messageId": "x" * 256, "to": RECIPIENT, "text": "x"}, "messageId"),
    ],
)
async def test_invalid_bodies_name_the_field(gw: Gateway, body: dict[str, Any], field: str) -> None:
    sid = (await gw.create())["id"]
    status, resp = await post(gw, sid, body)
    assert status == 400, resp
    assert resp["error"]["type"] == "ValidationError"
    assert field in resp["error"]["details"], resp["error"]["details"]


async def test_order_of_checks(gw: Gateway) -> None:
    missing = str(uuid.uuid4())
    status, resp = await post(gw, missing, {"bad": "body"})
    assert status == 404  # the session is checked before the body
    status, _ = await post(gw, "not-a-uuid", {"messageId": "a", "to": RECIPIENT, "text": "x"})
    assert status == 400
    await gw.net.post("/control/faults", {"refuse_connections": True})
    sid = (await gw.create(config={"retryLimit": 0}))["id"]
    await gw.wait_status(sid, "failed")
    status, resp = await post(gw, sid, {"messageId": "a", "to": RECIPIENT, "text": "x"})
    assert status == 409 and resp["error"]["type"] == "SessionNotReadyError"
    status, _ = await post(gw, sid, {"messageId": "a"})
    assert status == 400  # body before state


async def test_sends_to_a_session_waiting_for_its_qr_are_accepted(gw: Gateway) -> None:
    sid = (await gw.create())["id"]
    await gw.wait_status(sid, "qr_pending")
    status, resp = await post(
        gw, sid, {"messageId": "early", "to": RECIPIENT, "text": "queued until paired"}
    )
    assert status == 201 and resp["data"]["status"] == "queued"
    await gw.net.post("/control/scan", {"device_id": sid, "phone": "5511933330000"})

    async def delivered() -> bool:
        return bool(await gw.net.mailbox(RECIPIENT))

    await eventually(delivered)


async def test_list_and_get_messages(gw: Gateway) -> None:
    sid = (await gw.connect("5511933330001"))["id"]
    for n in range(3):
        await post(gw, sid, {"messageId": f"l-{n}", "to": RECIPIENT, "text": f"{n}"})
    resp = await gw.api.get(
        f"/api/v1/sessions/{sid}/messages",
        params={"limit": 2, "sortOrder": "asc", "direction": "outbound"},
    )
    body = await resp.json()
    assert [m["messageId"] for m in body["data"]] == ["l-0", "l-1"]
    assert body["pagination"]["total"] == 3 and body["pagination"]["has_more"] is True
    by_uuid = await gw.api.get(f"/api/v1/sessions/{sid}/messages/{body['data'][0]['id']}")
    assert (await by_uuid.json())["data"]["messageId"] == "l-0"
    assert (await gw.api.get(f"/api/v1/sessions/{sid}/messages/nope")).status == 404
    for params in (
        {"status": "lost"},
        {"direction": "sideways"},
        {"sortBy": "text"},
        {"limit": 500},
    ):
        assert (await gw.api.get(f"/api/v1/sessions/{sid}/messages", params=params)).status == 400


async def test_a_send_without_its_wake_up_is_still_sent(gateway: StartGateway) -> None:
    """The row is the queue: a send written while no lane was told (a lost wake-up from
    another node) is found by the lane's own read of its queue."""
    from zaphubd.db.message_batches import NewOutbound
    from zaphubd.http import appkeys

    gw = await gateway(send_poll_s=0.5)
    sid = (await gw.connect("5511933330002"))["id"]
    app = gw.api.server.app
    accepted = await app[appkeys.MESSAGE_REPO].enqueue(
        NewOutbound(
            uuid.UUID(sid),
            "lost-1",
            "text",
            f"{RECIPIENT}@s.whatsapp.net",
            {"text": "found"},
            {},
            "3EB0LOSTWAKEUP0000001",
        )
    )
    assert accepted is not None and accepted[0].status == "queued"

    async def delivered() -> list[dict[str, Any]] | None:
        box = await gw.net.mailbox(RECIPIENT)
        return box or None

    box = await eventually(delivered)
    assert [m["id"] for m in box] == ["3EB0LOSTWAKEUP0000001"]


async def test_legacy_route_goes_through_the_pipeline(gw: Gateway) -> None:
    sid = (await gw.connect("5511933330003"))["id"]
    resp = await gw.api.get(
        "/baileys/send-message", params={"session": sid, "to": RECIPIENT, "text": "old script"}
    )
    assert resp.status == 200
    assert resp.headers["Deprecation"] == "true"
    assert (await resp.json())["data"]["status"] == "queued"

    async def delivered() -> list[dict[str, Any]] | None:
        box = await gw.net.mailbox(RECIPIENT)
        return box or None

    box = await eventually(delivered)
    assert box[0]["content"]["text"] == "old script"
    missing = await gw.api.get("/baileys/send-message", params={"session": sid, "to": RECIPIENT})
    assert missing.status == 400
