"""Failed attempts: retried with backoff, stopped by 410, timed out, redirects not followed."""

from __future__ import annotations

import asyncio

from tests.gateway import StartGateway
from tests.webhooks.conftest import (
    Receiver,
    StartReceiver,
    deliveries,
    wait_delivery,
    webhook_gateway,
)

ONLY_CREATED = {"webhookEvents": ["session.initializing"]}


async def test_two_500s_then_200_is_three_recorded_attempts(
    gateway: StartGateway, receiver: Receiver
) -> None:
    receiver.script = [500, 500]
    gw = await webhook_gateway(gateway)
    sid = (await gw.create(webhook_url=receiver.url, config=ONLY_CREATED))["id"]
    item = await wait_delivery(gw, sid, "delivered")
    assert item["attempts"] == 3 and item["last_status_code"] == 200
    assert item["last_error"] is None and item["delivered_at"] is not None
    got = receiver.of("session.initializing")
    assert len(got) == 3
    assert len({r.json["deliveryId"] for r in got}) == 1  # one delivery, three attempts
    assert len({r.body for r in got}) == 1
    failed = await gw.events(sid, event_type="webhook.failed")
    assert [e["payload"]["attempt"] for e in failed] == [1, 2]
    assert all(e["payload"]["willRetry"] and e["payload"]["statusCode"] == 500 for e in failed)
    [delivered] = await gw.events(sid, event_type="webhook.delivered")
    assert delivered["payload"]["attempt"] == 3
    assert delivered["payload"]["deliveryId"] == item["delivery_id"]


async def test_410_gone_stops_after_one_attempt(gateway: StartGateway, receiver: Receiver) -> None:
    receiver.default = 410
    gw = await webhook_gateway(gateway)
    sid = (await gw.create(webhook_url=receiver.url, config=ONLY_CREATED))["id"]
    item = await wait_delivery(gw, sid, "failed")
    await asyncio.sleep(0.4)  # a retry would have come by now
    assert item["attempts"] == 1 and item["last_status_code"] == 410
    assert item["next_attempt_at"] is None
    assert len(receiver.received) == 1
    [failed] = await gw.events(sid, event_type="webhook.failed")
    assert failed["payload"]["willRetry"] is False


async def test_a_receiver_that_never_answers_times_out_and_is_retried(
    gateway: StartGateway, receiver: Receiver
) -> None:
    receiver.hang = True
    gw = await webhook_gateway(gateway, webhook_timeout_ms=300, webhook_max_retries=1)
    sid = (await gw.create(webhook_url=receiver.url, config=ONLY_CREATED))["id"]
    item = await wait_delivery(gw, sid, "failed")
    assert item["attempts"] == 2 and item["last_status_code"] is None
    assert "timed out after 300 ms" in item["last_error"]
    assert len(receiver.received) == 2


async def test_redirects_are_not_followed(
    gateway: StartGateway, receiver_factory: StartReceiver
) -> None:
    target = await receiver_factory()
    redirector = await receiver_factory(default=307, location=target.url)
    gw = await webhook_gateway(gateway, webhook_max_retries=1)
    sid = (await gw.create(webhook_url=redirector.url, config=ONLY_CREATED))["id"]
    item = await wait_delivery(gw, sid, "failed")
    assert item["attempts"] == 2 and item["last_status_code"] == 307
    assert "redirects are not followed" in item["last_error"]
    assert target.received == []


async def test_a_failed_delivery_is_retryable_by_hand(
    gateway: StartGateway, receiver: Receiver
) -> None:
    receiver.default = 503
    gw = await webhook_gateway(gateway, webhook_max_retries=0)
    sid = (await gw.create(webhook_url=receiver.url, config=ONLY_CREATED))["id"]
    failed = await wait_delivery(gw, sid, "failed")
    receiver.default = 200
    resp = await gw.api.post(
        f"/api/v1/sessions/{sid}/webhook/retry", json={"delivery_id": failed["delivery_id"]}
    )
    assert resp.status == 202, await resp.text()
    assert (await resp.json())["data"]["delivery_id"] == failed["delivery_id"]
    item = await wait_delivery(gw, sid, "delivered")
    assert item["delivery_id"] == failed["delivery_id"] and item["attempts"] == 2
    first, second = receiver.received
    assert first.json == second.json  # the same delivery, the same body
    [queued] = await gw.events(sid, event_type="webhook.delivery.queued")
    assert queued["payload"]["deliveryId"] == failed["delivery_id"]
    assert queued["payload"]["reason"] == "redelivery"
    _, total = await deliveries(gw, sid)
    assert total == 1
