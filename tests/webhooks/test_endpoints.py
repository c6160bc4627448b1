"""The webhook endpoints: test POST, delivery history, retry, and the event catalogue."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.gateway import Gateway, StartGateway
from tests.webhooks.conftest import (
    SECRET,
    Receiver,
    StartReceiver,
    deliveries,
    emit,
    signed_with,
    wait_delivery,
    webhook_gateway,
)
from zaphubd.event_types import CATALOGUE

QUIET = {"webhookEvents": ["chat.*", "presence.*", "message.*"]}
SESSION_ROUTES = [
    ("POST", "/webhook/test", {}),
    ("GET", "/webhook/events", None),
    ("POST", "/webhook/retry", {"event": "chat.presence"}),
]


async def call(gw: Gateway, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    resp = await gw.api.request(method, path, json=body)
    return resp.status, await resp.json()


@pytest.mark.parametrize(("method", "suffix", "body"), SESSION_ROUTES)
async def test_bad_and_unknown_session_ids(
    gateway: StartGateway, method: str, suffix: str, body: Any
) -> None:
    gw = await gateway()
    status, bad = await call(gw, method, f"/api/v1/sessions/nope{suffix}", body)
    assert status == 400 and bad["error"]["type"] == "ValidationError"
    status, missing = await call(gw, method, f"/api/v1/sessions/{uuid.uuid4()}{suffix}", body)
    assert status == 404 and missing["error"]["type"] == "NotFoundError"


async def test_test_posts_once_signed_and_reports(
    gateway: StartGateway, receiver_factory: StartReceiver
) -> None:
    gw = await webhook_gateway(gateway)
    main = await receiver_factory(answer="x" * 800)
    other = await receiver_factory(default=500)
    sid = (await gw.create(webhook_url=main.url, webhook_secret=SECRET, config=QUIET))["id"]
    status, body = await call(gw, "POST", f"/api/v1/sessions/{sid}/webhook/test", {})
    assert status == 200, body
    result = body["data"]
    assert result["url"] == main.url and result["status_code"] == 200 and result["ok"] is True
    assert result["response"] == "x" * 500 and result["latency_ms"] >= 0
    [got] = main.received
    assert got.event == "session.connected" and signed_with(got, SECRET)
    assert got.json["deliveryId"].startswith("test-")
    assert set(got.json["payload"]) == set(CATALOGUE["session.connected"].payload)
    status, body = await call(
        gw,
        "POST",
        f"/api/v1/sessions/{sid}/webhook/test",
        {"url": other.url, "event": "message.received"},
    )
    assert status == 200 and body["data"]["ok"] is False
    assert body["data"]["status_code"] == 500 and body["data"]["error"] == "HTTP 500"
    assert other.received[0].event == "message.received"
    assert (await deliveries(gw, sid))[1] == 0  # tests are not recorded as deliveries


async def test_test_reports_network_errors_and_needs_a_url(gateway: StartGateway) -> None:
    gw = await webhook_gateway(gateway)
    sid = (await gw.create())["id"]
    status, body = await call(gw, "POST", f"/api/v1/sessions/{sid}/webhook/test", {})
    assert status == 400 and "url" in body["error"]["details"]
    closed = "http://127.0.0.1:9/hook"  # discard port: nothing listens
    status, body = await call(gw, "POST", f"/api/v1/sessions/{sid}/webhook/test", {"url": closed})
    assert status == 200
    assert body["data"]["ok"] is False and body["data"]["status_code"] is None
    assert body["data"]["error"].startswith("network error")
    for bad in ({"event": "nope.nope"}, {"url": "ftp://x.example/"}, {"extra": 1}):
        status, _ = await call(gw, "POST", f"/api/v1/sessions/{sid}/webhook/test", bad)
        assert status == 400


async def test_history_filters_and_paginates(gateway: StartGateway, receiver: Receiver) -> None:
    gw = await webhook_gateway(gateway, webhook_max_retries=0)
    sid = (await gw.create(webhook_url=receiver.url, config=QUIET))["id"]
    for n in range(3):
        await emit(gw, sid, "chat.presence", {"n": n})
    await receiver.wait_for("chat.presence", 3)
    receiver.default = 500
    await emit(gw, sid, "presence.update", {"n": 9})
    await wait_delivery(gw, sid, "failed")
    items, total = await deliveries(gw, sid)
    assert total == 4 and items[0]["event"] == "presence.update"
    assert set(items[0]) == {
        "delivery_id",
        "webhook_id",
        "event",
        "url",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "last_latency_ms",
        "attempt_log",
        "created_at",
        "delivered_at",
        "next_attempt_at",
    }
    _, delivered = await deliveries(gw, sid, status="delivered")
    _, failed = await deliveries(gw, sid, status="failed", event="presence.update")
    page, total = await deliveries(gw, sid, event="chat.presence", limit=2, offset=1)
    assert (delivered, failed, len(page), total) == (3, 1, 2, 3)
    resp = await gw.api.get(f"/api/v1/sessions/{sid}/webhook/events", params={"limit": 1})
    assert (await resp.json())["pagination"] == {
        "total": 4,
        "limit": 1,
        "offset": 0,
        "has_more": True,
    }
    for params in ({"status": "lost"}, {"event": "nope"}, {"limit": 0}, {"limit": 201}):
        resp = await gw.api.get(f"/api/v1/sessions/{sid}/webhook/events", params=params)
        assert resp.status == 400


async def test_retry_delivers_an_event_anew(gateway: StartGateway, receiver: Receiver) -> None:
    gw = await webhook_gateway(gateway)
    sid = (await gw.create(webhook_url=receiver.url, config=QUIET))["id"]
    payload = {"messageId": "ABC", "text": "by hand"}
    status, body = await call(
        gw,
        "POST",
        f"/api/v1/sessions/{sid}/webhook/retry",
        {"event": "message.received", "payload": payload},
    )
    assert status == 202, body
    queued = body["data"]
    assert queued["status"] == "queued" and queued["url"] == receiver.url
    [got] = await receiver.wait_for("message.received")
    assert got.json["payload"] == payload and got.json["deliveryId"] == queued["delivery_id"]
    [event] = await gw.events(sid, event_type="webhook.delivery.queued")
    assert event["payload"]["reason"] == "manual"


async def test_retry_refuses_bad_bodies(gateway: StartGateway) -> None:
    gw = await webhook_gateway(gateway)
    bare = (await gw.create())["id"]
    path = f"/api/v1/sessions/{bare}/webhook/retry"
    for body in (
        {},
        {"delivery_id": str(uuid.uuid4()), "event": "chat.presence"},
        {"event": "nope.nope"},
        {"payload": {}},
        {"delivery_id": "x"},
        {"event": "chat.presence"},  # the session has no webhook_url
    ):
        status, answer = await call(gw, "POST", path, body)
        assert status == 400, (body, answer)
    status, _ = await call(gw, "POST", path, {"delivery_id": str(uuid.uuid4())})
    assert status == 404


async def test_catalogue_lists_every_event_type(gateway: StartGateway) -> None:
    gw = await gateway()
    status, body = await call(gw, "GET", "/api/v1/webhook/events")
    assert status == 200
    listed = {item["event"]: item for item in body["data"]}
    assert set(listed) == set(CATALOGUE)
    failed = listed["webhook.failed"]
    assert failed["category"] == "webhook" and failed["description"]
    assert failed["payload"]["willRetry"] == "boolean"
    assert listed["message.received"]["payload"]["from"] == "jid"


async def test_openapi_documents_the_webhook_routes(gateway: StartGateway) -> None:
    gw = await gateway()
    spec = await (await gw.api.get("/api/docs/openapi.json")).json()
    paths = spec["paths"]
    expected = {
        ("/api/v1/sessions/{id}/webhook/test", "post", "200"),
        ("/api/v1/sessions/{id}/webhook/events", "get", "200"),
        ("/api/v1/sessions/{id}/webhook/retry", "post", "202"),
        ("/api/v1/webhook/events", "get", "200"),
    }
    for path, method, code in expected:
        operation = paths[path][method]
        assert code in operation["responses"] and "webhooks" in operation["tags"]
    assert "400" in paths["/api/v1/sessions/{id}/webhook/retry"]["post"]["responses"]
    attempt = spec["components"]["schemas"]["WebhookAttempt"]
    assert set(attempt["properties"]) == {"at", "status_code", "error", "latency_ms"}
