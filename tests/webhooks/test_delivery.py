"""Deliveries end to end: the daemon in-process on simnet, a real receiver on loopback."""

from __future__ import annotations

import asyncio
import time
import uuid

from tests.gateway import StartGateway, eventually
from tests.messaging.test_send import RECIPIENT_JID, post
from tests.webhooks.conftest import (
    SECRET,
    Receiver,
    StartReceiver,
    deliveries,
    emit,
    signed_with,
    webhook_gateway,
)

HEADERS = (
    "Content-Type",
    "User-Agent",
    "X-ZapHub-Event",
    "X-ZapHub-Session",
    "X-ZapHub-Delivery",
    "X-ZapHub-Timestamp",
    "X-ZapHub-Signature",
)
ONLY_CREATED = {"webhookEvents": ["session.initializing"]}


async def test_envelope_headers_and_signature(gateway: StartGateway, receiver: Receiver) -> None:
    gw = await webhook_gateway(gateway)
    session = await gw.create(webhook_url=receiver.url, webhook_secret=SECRET, config=ONLY_CREATED)
    [got] = await receiver.wait_for("session.initializing")
    body = got.json
    assert set(body) == {"event", "sessionId", "payload", "timestamp", "deliveryId"}
    assert body["sessionId"] == session["id"] and body["payload"] == {"reason": "created"}
    assert body["timestamp"].endswith("Z") and len(body["timestamp"]) == 24  # ms precision
    assert all(name in got.headers for name in HEADERS)
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["User-Agent"] == "ZapHub-Webhook/1.0"
    assert got.headers["X-ZapHub-Event"] == "session.initializing"
    assert got.headers["X-ZapHub-Session"] == session["id"]
    assert got.headers["X-ZapHub-Delivery"] == body["deliveryId"]
    assert abs(int(got.headers["X-ZapHub-Timestamp"]) - time.time()) < 30
    assert signed_with(got, SECRET)
    assert not signed_with(got, "another-secret-0123456789")
    items, _ = await deliveries(gw, session["id"])
    assert items[0]["delivery_id"] == body["deliveryId"]


async def test_global_secret_signs_when_the_session_has_none(
    gateway: StartGateway, receiver: Receiver
) -> None:
    global_secret = "global-secret-abcdef0123456789"
    gw = await webhook_gateway(gateway, webhook_secret=global_secret)
    await gw.create(webhook_url=receiver.url, config=ONLY_CREATED)
    [got] = await receiver.wait_for("session.initializing")
    assert signed_with(got, global_secret)


async def test_no_signature_without_any_secret(gateway: StartGateway, receiver: Receiver) -> None:
    gw = await webhook_gateway(gateway)
    await gw.create(webhook_url=receiver.url, config=ONLY_CREATED)
    [got] = await receiver.wait_for("session.initializing")
    assert "X-ZapHub-Signature" not in got.headers and "X-ZapHub-Timestamp" not in got.headers
    assert got.headers["X-ZapHub-Delivery"] == got.json["deliveryId"]


async def test_a_connected_session_reports_connection_and_sends(
    gateway: StartGateway, receiver: Receiver
) -> None:
    gw = await webhook_gateway(gateway)
    session = await gw.connect("5511944440000", webhook_url=receiver.url)
    [connected] = await receiver.wait_for("session.connected")
    assert connected.json["payload"]["phone_number"] == "5511944440000"
    status, _ = await post(
        gw, session["id"], {"messageId": "w1", "to": RECIPIENT_JID, "type": "text", "text": "hi"}
    )
    assert status == 201
    [sent] = await receiver.wait_for("message.sent")
    assert sent.json["payload"]["messageId"] == "w1"
    # Deliveries run concurrently, so arrival order is not event order: the envelope's
    # timestamp (when the event happened) is what a receiver orders by.
    first = {r.event: r.json["timestamp"] for r in receiver.received[:2]}
    assert set(first) == {"session.initializing", "session.qr_generated"}
    assert first["session.initializing"] <= first["session.qr_generated"]


async def test_webhook_events_are_recorded_but_never_delivered(
    gateway: StartGateway, receiver: Receiver
) -> None:
    gw = await webhook_gateway(gateway)
    session = await gw.create(webhook_url=receiver.url, config={"webhookEvents": ["*"]})
    await receiver.wait_for("session.qr_generated")

    async def recorded() -> bool:
        return (await gw.event_types(session["id"])).count("webhook.delivered") >= 2

    await eventually(recorded)
    await asyncio.sleep(0.3)
    assert not [r for r in receiver.received if r.event.startswith("webhook.")]
    assert len(receiver.received) == 2


async def test_filters_exact_names_and_wildcards(
    gateway: StartGateway, receiver_factory: StartReceiver
) -> None:
    gw = await webhook_gateway(gateway)
    exact, wildcard, everything = [await receiver_factory() for _ in range(3)]
    await gw.create(webhook_url=exact.url, config={"webhookEvents": ["session.qr_generated"]})
    sid = (await gw.create(webhook_url=wildcard.url, config={"webhookEvents": ["message.*"]}))["id"]
    other = (await gw.create(webhook_url=everything.url))["id"]
    await exact.wait_for("session.qr_generated")
    for target in (sid, other):
        await emit(gw, target, "message.reaction", {"messageId": "m", "emoji": "x"})
        await emit(gw, target, "presence.update", {"jid": "a@s.whatsapp.net"})
    await wildcard.wait_for("message.reaction")
    await everything.wait_for("presence.update")
    await asyncio.sleep(0.3)
    assert [r.event for r in exact.received] == ["session.qr_generated"]
    assert [r.event for r in wildcard.received] == ["message.reaction"]
    assert {r.event for r in everything.received} >= {
        "session.initializing",
        "message.reaction",
        "presence.update",
    }


async def test_patch_takes_effect_at_once(
    gateway: StartGateway, receiver_factory: StartReceiver
) -> None:
    gw = await webhook_gateway(gateway)
    first, second = await receiver_factory(), await receiver_factory()
    sid = (await gw.create(webhook_url=first.url, config={"webhookEvents": ["presence.*"]}))["id"]
    await emit(gw, sid, "presence.update", {"n": 1})
    await first.wait_for("presence.update")
    resp = await gw.api.patch(
        f"/api/v1/sessions/{sid}",
        json={"webhook_url": second.url, "config": {"webhookEvents": ["chat.*"]}},
    )
    assert resp.status == 200
    await emit(gw, sid, "presence.update", {"n": 2})
    await emit(gw, sid, "chat.presence", {"n": 3})
    await second.wait_for("chat.presence", timeout_s=2)
    cleared = await gw.api.patch(f"/api/v1/sessions/{sid}", json={"webhook_url": None})
    assert cleared.status == 200
    await emit(gw, sid, "chat.presence", {"n": 4})
    await asyncio.sleep(0.3)
    assert len(first.received) == 1 and len(second.received) == 1


async def test_delivery_ids_are_unique_per_delivery(
    gateway: StartGateway, receiver: Receiver
) -> None:
    gw = await webhook_gateway(gateway)
    sid = (await gw.create(webhook_url=receiver.url, config={"webhookEvents": ["chat.*"]}))["id"]
    for n in range(20):
        await emit(gw, sid, "chat.presence", {"n": n})
    got = await receiver.wait_for("chat.presence", 20)
    ids = {r.json["deliveryId"] for r in got}
    assert len(ids) == 20 and all(uuid.UUID(i) for i in ids)
    _, total = await deliveries(gw, sid, status="delivered")
    assert total == 20
