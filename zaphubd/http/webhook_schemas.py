"""Schemas of the webhook endpoints: what they accept and what they return."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from zaphubd.db.webhooks import STATUSES
from zaphubd.event_types import CATALOGUE
from zaphubd.http.schemas import QuerySchema, StrictSchema, envelope

_EVENT_NAMES = sorted(CATALOGUE)


def _event_field(**kwargs: Any) -> ma.fields.String:
    return ma.fields.String(
        validate=ma.validate.OneOf(_EVENT_NAMES, error="not an event type of the catalogue"),
        **kwargs,
    )


class TestWebhookSchema(StrictSchema):
    url = ma.fields.Url(
        schemes={"http", "https"},
        require_tld=False,
        validate=ma.validate.Length(max=2048),
        metadata={"description": "default: the session's webhook_url"},
    )
    event = _event_field(metadata={"description": "default: session.connected"})
    webhook_id = ma.fields.UUID(
        metadata={"description": "the webhook whose URL and secret to use (default: the first)"}
    )


class RetryWebhookSchema(StrictSchema):
    delivery_id = ma.fields.UUID(metadata={"description": "re-deliver this delivery"})
    event = _event_field(metadata={"description": "or deliver this event anew ..."})
    payload = ma.fields.Dict(
        keys=ma.fields.String(), metadata={"description": "... with this payload (default {})"}
    )
    webhook_id = ma.fields.UUID(
        metadata={"description": "... to this webhook (default: the session's webhook_url)"}
    )

    @ma.validates_schema
    def _one_form(self, data: dict[str, Any], **_: Any) -> None:
        if ("delivery_id" in data) == ("event" in data):
            raise ma.ValidationError("give either delivery_id, or event (with payload)")
        for name in ("payload", "webhook_id"):
            if name in data and "event" not in data:
                raise ma.ValidationError(f"{name} goes with event", name)


class DeliveriesQuery(QuerySchema):
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    webhookId = ma.fields.UUID(
        metadata={"description": "only this webhook's (the global one's: the nil UUID)"}
    )
    event = _event_field()
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(1, 200))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(0, 10_000_000))


# -- responses -------------------------------------------------------------------------


class TestResultSchema(ma.Schema):
    url = ma.fields.String(required=True)
    event = ma.fields.String(required=True)
    status_code = ma.fields.Integer(allow_none=True, metadata={"description": "null: no answer"})
    ok = ma.fields.Boolean(required=True, metadata={"description": "a 2xx answer"})
    latency_ms = ma.fields.Integer(required=True)
    response = ma.fields.String(
        required=True, metadata={"description": "the first 500 characters of the body"}
    )
    error = ma.fields.String(allow_none=True, metadata={"description": "why it was not ok"})


class WebhookAttemptSchema(ma.Schema):
    at = ma.fields.DateTime(
        required=True, metadata={"description": "when the attempt started (ISO-8601, UTC)"}
    )
    status_code = ma.fields.Integer(
        required=True, allow_none=True, metadata={"description": "null: no HTTP answer"}
    )
    error = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "null on 2xx; else `HTTP <code>` or the network error, short"},
    )
    latency_ms = ma.fields.Integer(required=True)


class DeliverySchema(ma.Schema):
    delivery_id = ma.fields.UUID(required=True, metadata={"description": "the deliveryId"})
    webhook_id = ma.fields.UUID(
        required=True,
        metadata={"description": "its webhook (GET .../webhooks); the global one: the nil UUID"},
    )
    event = ma.fields.String(required=True)
    url = ma.fields.String(required=True)
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(STATUSES))
    attempts = ma.fields.Integer(required=True)
    last_status_code = ma.fields.Integer(allow_none=True)
    last_error = ma.fields.String(allow_none=True)
    last_latency_ms = ma.fields.Integer(allow_none=True)
    attempt_log = ma.fields.List(
        ma.fields.Nested(WebhookAttemptSchema),
        required=True,
        metadata={
            "description": "each attempt, newest last; the newest (retry limit + 1) are kept"
        },
    )
    created_at = ma.fields.DateTime(required=True)
    delivered_at = ma.fields.DateTime(allow_none=True)
    next_attempt_at = ma.fields.DateTime(allow_none=True)


class QueuedDeliverySchema(ma.Schema):
    delivery_id = ma.fields.UUID(required=True)
    webhook_id = ma.fields.UUID(required=True)
    event = ma.fields.String(required=True)
    url = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"enum": ["queued"]})


class CatalogueEntrySchema(ma.Schema):
    event = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    payload = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        required=True,
        metadata={"description": "field -> type (a trailing ? marks an optional field)"},
    )


TestResultEnvelope = envelope(TestResultSchema, "WebhookTestEnvelope")
DeliveryListEnvelope = envelope(
    ma.fields.List(ma.fields.Nested(DeliverySchema), required=True),
    "WebhookDeliveryListEnvelope",
    paginated=True,
)
QueuedDeliveryEnvelope = envelope(QueuedDeliverySchema, "WebhookQueuedEnvelope")
CatalogueEnvelope = envelope(
    ma.fields.List(ma.fields.Nested(CatalogueEntrySchema), required=True),
    "WebhookCatalogueEnvelope",
)
