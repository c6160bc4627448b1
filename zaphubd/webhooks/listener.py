"""The EventSink listener that turns a session's events into webhook deliveries.

An event is delivered when its session has a webhook_url and the session's `webhookEvents`
filter lets it through (absent: everything). Events of the `webhook` category are never
delivered: a delivery reporting on a delivery would queue another one, without end. They stay
visible in the events API, and a `webhookEvents` entry naming them matches nothing.

An event's delivery id is derived from the event's id, so the catch-up (`catchup.py`) can
hand the listener an event again without a second delivery.
"""

from __future__ import annotations

from zaphubd.db.events import EventRow
from zaphubd.db.webhooks import event_delivery_id
from zaphubd.event_types import matches
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
        target = await self._targets.get(row.session_id)
        if target is None or target.url is None or not matches(row.event_type, target.events):
            return
        await self._deliveries.create(
            row.session_id,
            row.event_type,
            row.payload,
            row.created_at,
            target.url,
            event_delivery_id(row.id),
        )
