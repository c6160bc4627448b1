"""Schemas of /sessions/:id/webhooks: what they accept and what they return."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from zaphubd.event_types import is_valid_pattern
from zaphubd.http.schemas import StrictSchema, envelope

MAX_PATTERNS = 100


def _event_pattern(value: str) -> None:
    if not is_valid_pattern(value):
        raise ma.ValidationError(f"unknown event type or wildcard: {value!r}")


class WebhookPathSchema(ma.Schema):
    id = ma.fields.UUID(required=True, metadata={"description": "session id (UUID)"})
    webhookId = ma.fields.UUID(required=True, metadata={"description": "webhook id (UUID)"})


class CreateWebhookSchema(StrictSchema):
    url = ma.fields.Url(
        required=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=ma.validate.Length(max=2048),
    )
    secret = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(16, 256),
        load_only=True,
        metadata={"description": "HMAC secret (default: ZAPHUB_WEBHOOK_SECRET); never shown"},
    )
    events = ma.fields.List(
        ma.fields.String(validate=_event_pattern),
        allow_none=True,
        validate=ma.validate.Length(max=MAX_PATTERNS),
        metadata={"description": "exact names and `category.*` wildcards; null: every event"},
    )
    enabled = ma.fields.Boolean(metadata={"description": "default true"})


class PatchWebhookSchema(CreateWebhookSchema):
    url = ma.fields.Url(
        schemes={"http", "https"}, require_tld=False, validate=ma.validate.Length(max=2048)
    )

    @ma.validates_schema
    def _not_empty(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ma.ValidationError("nothing to update: send url, secret, events or enabled")


# -- responses -------------------------------------------------------------------------


class WebhookSchema(ma.Schema):
    id = ma.fields.UUID(required=True, metadata={"description": "the webhook's id"})
    url = ma.fields.String(required=True)
    has_secret = ma.fields.Boolean(required=True, metadata={"description": "its own secret"})
    events = ma.fields.List(
        ma.fields.String(), required=True, allow_none=True, metadata={"description": "null: all"}
    )
    enabled = ma.fields.Boolean(required=True)
    first = ma.fields.Boolean(
        required=True,
        metadata={"description": "the session's webhook_url (its filter: config.webhookEvents)"},
    )
    created_at = ma.fields.DateTime(required=True)
    updated_at = ma.fields.DateTime(required=True)


class DeletedWebhookSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    deleted = ma.fields.Boolean(required=True, metadata={"enum": [True]})


WebhookEnvelope = envelope(WebhookSchema, "WebhookEnvelope")
WebhookListEnvelope = envelope(
    ma.fields.List(ma.fields.Nested(WebhookSchema), required=True), "WebhookListEnvelope"
)
DeletedWebhookEnvelope = envelope(DeletedWebhookSchema, "DeletedWebhookEnvelope")
