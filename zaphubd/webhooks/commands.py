"""What the webhook endpoints ask: a test POST, a re-delivery, a delivery by hand.

The HTTP layer checks that the session exists first (404) and validates bodies; these
commands do the rest and raise ApiErrors for what only they can judge.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from zaphubd.db.webhook_targets import first_webhook_id
from zaphubd.db.webhooks import WebhookRepo
from zaphubd.errors import DependencyUnavailable, NotFound, ValidationFailed
from zaphubd.event_types import lookup
from zaphubd.eventsink import EventSink
from zaphubd.webhooks import envelope
from zaphubd.webhooks.queueing import DeliveryQueue
from zaphubd.webhooks.sender import WebhookSender
from zaphubd.webhooks.targets import Target, Targets
from zaphubd.webhooks.urlpolicy import WebhookUrlPolicy

log = logging.getLogger("zaphubd.webhooks")
#: The event a test delivery carries unless the client names another.
TEST_EVENT = "session.connected"
RESPONSE_CHARS = 500


@dataclass(frozen=True, slots=True)
class QueuedDelivery:
    delivery_id: uuid.UUID
    event: str
    url: str
    webhook_id: uuid.UUID


class WebhookCommands:
    def __init__(
        self,
        repo: WebhookRepo,
        deliveries: DeliveryQueue,
        sender: WebhookSender,
        targets: Targets,
        policy: WebhookUrlPolicy,
        sink: EventSink,
    ) -> None:
        self.repo = repo
        self.policy = policy
        self._deliveries = deliveries
        self._sender = sender
        self._targets = targets
        self._sink = sink

    async def test(
        self,
        session_id: uuid.UUID,
        url: str | None,
        event: str | None,
        webhook_id: uuid.UUID | None = None,
    ) -> dict[str, Any]:
        """One synchronous, signed POST of a sample event (to `url`, else the webhook's URL,
        with the webhook's secret; default: the first webhook); recorded nowhere."""
        target = await self._target(session_id, webhook_id)
        url = url or target.url
        if url is None:
            raise ValidationFailed(
                "no webhook URL: give `url` or set the session's webhook_url",
                {"url": ["required when the session has no webhook_url"]},
            )
        await self.policy.check(url, "url")
        kind = lookup(event or TEST_EVENT)
        now = datetime.now(UTC)
        payload = envelope.sample_payload(kind, now)
        body = envelope.build(kind.name, session_id, payload, now, f"test-{uuid.uuid4()}")
        result = await self._sender.post(url, body, target.secret)
        if result.permanent and result.status_code is None:
            raise ValidationFailed(f"url {result.error}", {"url": [result.error or "refused"]})
        return {
            "url": url,
            "event": kind.name,
            "status_code": result.status_code,
            "ok": result.ok,
            "latency_ms": result.latency_ms,
            "response": result.response_head[:RESPONSE_CHARS],
            "error": result.error,
        }

    async def redeliver(self, session_id: uuid.UUID, delivery_id: uuid.UUID) -> QueuedDelivery:
        """Queue a recorded delivery again, with its deliveryId and body unchanged."""
        row = await self.repo.requeue(session_id, delivery_id)
        if row is None:
            raise NotFound(f"delivery {delivery_id} not found in this session")
        try:
            await self._deliveries.requeue([row])
        except DependencyUnavailable as err:
            log.warning("re-delivery %s waits for the sweeper: %s", delivery_id, err)
        webhook_id = row.webhook_id or first_webhook_id(row.session_id)
        queued = QueuedDelivery(row.id, row.event, row.url, webhook_id)
        return await self._queued(row.session_id, queued, "redelivery")

    async def deliver(
        self,
        session_id: uuid.UUID,
        event: str,
        payload: dict[str, Any],
        webhook_id: uuid.UUID | None = None,
    ) -> QueuedDelivery:
        """Queue a new delivery of `event` with `payload` to a webhook (default: the
        session's webhook_url)."""
        target = await self._target(session_id, webhook_id)
        if target.url is None:
            raise ValidationFailed(
                "the session has no webhook_url to deliver to",
                {"event": ["the session has no webhook_url"]},
            )
        kind = lookup(event)
        now = datetime.now(UTC)
        delivery_id = await self._deliveries.create(
            session_id, kind.name, payload, now, target.url, webhook_id=target.webhook_id
        )
        webhook_id = target.webhook_id or first_webhook_id(session_id)
        queued = QueuedDelivery(delivery_id, kind.name, target.url, webhook_id)
        return await self._queued(session_id, queued, "manual")

    async def _target(self, session_id: uuid.UUID, webhook_id: uuid.UUID | None) -> Target:
        """The webhook named by its public id (None or the first's id: the webhook_url)."""
        targets = await self._targets.get(session_id)
        if targets is None:
            raise NotFound(f"session {session_id} not found")
        if webhook_id is None or webhook_id == first_webhook_id(session_id):
            return targets.first
        target = targets.find(webhook_id)
        if target is None:
            raise NotFound(f"webhook {webhook_id} not found in this session")
        return target

    async def _queued(
        self, session_id: uuid.UUID, queued: QueuedDelivery, reason: str
    ) -> QueuedDelivery:
        payload = {
            "deliveryId": str(queued.delivery_id),
            "webhookId": str(queued.webhook_id),
            "event": queued.event,
            "url": queued.url,
            "reason": reason,
        }
        await self._sink.emit(session_id, "webhook.delivery.queued", payload)
        return queued
