"""The EventSink listener that turns a session's events into webhook deliveries.

An event gets one delivery per webhook that wants it: the session's first (its webhook_url,
filtered by `webhookEvents`), each of its other webhooks and the global one, when enabled,
set before the event, and their filter lets it through (absent: everything). Events of the
`webhook` category are never delivered: a delivery reporting on a delivery would queue
another one, without end. They stay visible in the events API, and a filter entry naming
them matches nothing.

An event's delivery id is derived from the event's id and the webhook's, so the catch-up
(`catchup.py`) can hand the listener an event again without a second delivery.
"""

from __future__ import annotations

import asyncio

from zaphubd.db.events import EventRow
from zaphubd.db.webhooks import event_delivery_id
from zaphubd.webhooks.queueing import DeliveryQueue
from zaphubd.webhooks.targets import Targets

#: The category whose events are recorded but never sent to webhooks.
NOT_DELIVERED_CATEGORY = "webhook"


class WebhookListener:
    def __init__(self, targets: Targets, deliveries: DeliveryQueue) -> None:
        self._targets = targets
        self._deliveries = deliveries

    async def __call__(self, row: EventRow) -> None:
        if row.session_id is None or row.event_category == NOT_DELIVERED_CATEGORY:
            return
        targets = await self._targets.get(row.session_id)
        if targets is None:
            return
        # Together, so that the deliveries of one event share one batched write.
        await asyncio.gather(
            *(
                self._deliveries.create(
                    row.session_id,
                    row.event_type,
                    row.payload,
                    row.created_at,
                    target.url,
                    event_delivery_id(row.id, target.webhook_id),
                    target.webhook_id,
                )
                for target in targets.all()
                if target.url is not None and target.wants(row)
            )
        )
