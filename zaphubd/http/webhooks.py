"""The webhook endpoints of API.md: test, delivery history, re-delivery, event catalogue."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from aiohttp_apigami import match_info_schema, querystring_schema

from zaphubd.db.webhook_targets import first_webhook_id
from zaphubd.db.webhooks import DeliveryFilter, DeliveryRow
from zaphubd.event_types import CATALOGUE
from zaphubd.http import appkeys
from zaphubd.http.parsing import parse_body
from zaphubd.http.responses import ok, page
from zaphubd.http.schemas import SessionPathSchema, documented, documents_body
from zaphubd.http.webhook_schemas import (
    CatalogueEnvelope,
    DeliveriesQuery,
    DeliveryListEnvelope,
    QueuedDeliveryEnvelope,
    RetryWebhookSchema,
    TestResultEnvelope,
    TestWebhookSchema,
)
from zaphubd.webhooks.commands import QueuedDelivery

TAG = "webhooks"


async def _session_id(request: web.Request) -> uuid.UUID:
    """The path's session, which must exist (404 before anything about the body)."""
    session_id: uuid.UUID = request["match_info"]["id"]
    await request.app[appkeys.SESSION_COMMANDS].require(session_id)
    return session_id


def delivery_view(row: DeliveryRow) -> dict[str, Any]:
    return {
        "delivery_id": row.id,
        "webhook_id": row.webhook_id or first_webhook_id(row.session_id),
        "event": row.event,
        "url": row.url,
        "status": row.status,
        "attempts": row.attempts,
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "last_latency_ms": row.last_latency_ms,
        "attempt_log": row.attempt_log,
        "created_at": row.created_at,
        "delivered_at": row.delivered_at,
        "next_attempt_at": row.next_attempt_at,
    }


def _queued_view(queued: QueuedDelivery) -> dict[str, Any]:
    return {
        "delivery_id": queued.delivery_id,
        "webhook_id": queued.webhook_id,
        "event": queued.event,
        "url": queued.url,
        "status": "queued",
    }


@documented(
    "Send one signed test POST now (to a webhook, the session's webhook_url, or `url`)",
    TAG,
    (200, TestResultEnvelope),
    errors=(400, 404),
    scope="webhooks",
)
@documents_body(TestWebhookSchema)
@match_info_schema(SessionPathSchema)
async def test_webhook(request: web.Request) -> web.Response:
    session_id = await _session_id(request)
    body = await parse_body(request, TestWebhookSchema())
    result = await request.app[appkeys.WEBHOOKS].test(
        session_id, body.get("url"), body.get("event"), body.get("webhook_id")
    )
    return ok(result, message="delivered" if result["ok"] else "not delivered")


@documented(
    "Delivery history, newest first",
    TAG,
    (200, DeliveryListEnvelope),
    errors=(400, 404),
    scope="webhooks",
)
@querystring_schema(DeliveriesQuery)
@match_info_schema(SessionPathSchema)
async def list_deliveries(request: web.Request) -> web.Response:
    session_id = await _session_id(request)
    q = request["querystring"]
    filt = DeliveryFilter(session_id, q.get("status"), q.get("event"), q.get("webhookId"))
    rows, total = await request.app[appkeys.WEBHOOKS].repo.list_page(filt, q["limit"], q["offset"])
    return ok([delivery_view(r) for r in rows], pagination=page(total, q["limit"], q["offset"]))


@documented(
    "Queue a delivery again ({delivery_id}) or anew ({event, payload})",
    TAG,
    (202, QueuedDeliveryEnvelope),
    errors=(400, 404),
    scope="webhooks",
)
@documents_body(RetryWebhookSchema)
@match_info_schema(SessionPathSchema)
async def retry_webhook(request: web.Request) -> web.Response:
    session_id = await _session_id(request)
    body = await parse_body(request, RetryWebhookSchema())
    commands = request.app[appkeys.WEBHOOKS]
    if "delivery_id" in body:
        queued = await commands.redeliver(session_id, body["delivery_id"])
    else:
        queued = await commands.deliver(
            session_id, body["event"], body.get("payload", {}), body.get("webhook_id")
        )
    return ok(_queued_view(queued), status=202, message="Delivery queued")


@documented("Every event type the daemon emits", TAG, (200, CatalogueEnvelope), scope="any")
async def catalogue(request: web.Request) -> web.Response:
    data = [
        {
            "event": kind.name,
            "category": kind.category,
            "description": kind.description,
            "payload": dict(kind.payload),
        }
        for kind in CATALOGUE.values()
    ]
    return ok(data)


def setup(app: web.Application) -> None:
    base = "/api/v1/sessions/{id}/webhook"
    app.router.add_post(base + "/test", test_webhook)
    app.router.add_get(base + "/events", list_deliveries, allow_head=False)
    app.router.add_post(base + "/retry", retry_webhook)
    app.router.add_get("/api/v1/webhook/events", catalogue, allow_head=False)
