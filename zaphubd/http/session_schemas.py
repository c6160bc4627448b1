"""Schemas of the session endpoints: what they accept and what they return."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import marshmallow as ma

from zaphubd import proxies
from zaphubd.db.sessions import SORTABLE, STATUSES
from zaphubd.event_types import CATALOGUE, is_valid_pattern
from zaphubd.http.qr import FORMATS
from zaphubd.http.schemas import QuerySchema, StrictSchema, envelope

# Categories a client may filter events by (API.md), including those of later features.
EVENT_CATEGORIES = ("session", "message", "presence", "chat", "call", "group", "webhook")


def _event_pattern(value: str) -> None:
    if not is_valid_pattern(value):
        raise ma.ValidationError(f"unknown event type or wildcard: {value!r}")


def _proxy_url(value: str) -> None:
    try:
        proxies.check(value)
    except proxies.BadProxy as err:
        raise ma.ValidationError(str(err)) from None


class SessionConfigSchema(StrictSchema):
    markOnlineOnConnect = ma.fields.Boolean()
    retryLimit = ma.fields.Integer(validate=ma.validate.Range(0, 10), strict=True)
    rejectCalls = ma.fields.Boolean()
    webhookEvents = ma.fields.List(
        ma.fields.String(validate=_event_pattern), validate=ma.validate.Length(max=100)
    )
    sendRatePerMinute = ma.fields.Integer(validate=ma.validate.Range(1, 6000), strict=True)
    proxy = ma.fields.String(
        allow_none=True,
        validate=[ma.validate.Length(max=2048), _proxy_url],
        metadata={
            "description": "http://, https:// or socks5:// proxy for this session's WhatsApp "
            "connection and media downloads, with optional user:password (shown back masked)"
        },
    )
    storeMedia = ma.fields.Boolean(
        metadata={"description": "keep a copy of inbound media (ZAPHUB_MEDIA_STORE)"}
    )


class CreateSessionSchema(StrictSchema):
    label = ma.fields.String(required=True, validate=ma.validate.Length(1, 100))
    webhook_url = ma.fields.Url(
        allow_none=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=ma.validate.Length(max=2048),
    )
    webhook_secret = ma.fields.String(
        allow_none=True, validate=ma.validate.Length(16, 256), load_only=True
    )
    config = ma.fields.Nested(SessionConfigSchema, load_default=dict)

    @ma.validates("label")
    def _label_not_blank(self, value: str, **_: Any) -> None:
        if not value.strip():
            raise ma.ValidationError("must not be blank")


class PatchSessionSchema(CreateSessionSchema):
    label = ma.fields.String(validate=ma.validate.Length(1, 100))
    config = ma.fields.Nested(SessionConfigSchema)

    @ma.validates_schema
    def _not_empty(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ma.ValidationError(
                "nothing to update: send label, webhook_url, webhook_secret or config"
            )


class ListSessionsQuery(QuerySchema):
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(1, 100))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(0, 10_000_000))
    sortBy = ma.fields.String(
        load_default="created_at", validate=ma.validate.OneOf(sorted(SORTABLE))
    )
    sortOrder = ma.fields.String(load_default="desc", validate=ma.validate.OneOf(("asc", "desc")))


class DeleteQuery(QuerySchema):
    force = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "delete even if the device's logout cannot be confirmed"},
    )


class QrQuery(QuerySchema):
    format = ma.fields.String(load_default="base64", validate=ma.validate.OneOf(FORMATS))


class EventsQuery(QuerySchema):
    type = ma.fields.String(validate=ma.validate.OneOf(EVENT_CATEGORIES))
    event_type = ma.fields.String(validate=ma.validate.OneOf(sorted(CATALOGUE)))
    from_ = ma.fields.AwareDateTime(data_key="from", default_timezone=UTC)
    to = ma.fields.AwareDateTime(default_timezone=UTC)
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(1, 200))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(0, 10_000_000))


class PairSchema(StrictSchema):
    phone = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(r"^\+?[0-9]{6,15}$", error="must be 6-15 digits"),
    )


# -- responses -------------------------------------------------------------------------


def _resume_after() -> ma.fields.DateTime:
    return ma.fields.DateTime(
        allow_none=True,
        metadata={"description": "held down until then (a temporary ban); null: not held"},
    )


class PendingSendsSchema(ma.Schema):
    queued = ma.fields.Integer(required=True, metadata={"description": "waiting to be sent"})
    in_flight = ma.fields.Integer(required=True, metadata={"description": "being handed over"})
    retrying = ma.fields.Integer(required=True, metadata={"description": "will be retried"})


class SessionSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    label = ma.fields.String(required=True)
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(STATUSES))
    webhook_url = ma.fields.String(allow_none=True)
    has_webhook_secret = ma.fields.Boolean(required=True)
    config = ma.fields.Dict(required=True)
    phone_number = ma.fields.String(allow_none=True)
    push_name = ma.fields.String(allow_none=True)
    qr_code = ma.fields.String(allow_none=True, metadata={"description": "only on GET /:id"})
    last_qr_at = ma.fields.DateTime(allow_none=True)
    retry_count = ma.fields.Integer(required=True)
    error_message = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime(required=True)
    updated_at = ma.fields.DateTime(required=True)
    last_seen = ma.fields.DateTime(allow_none=True)
    connected_at = ma.fields.DateTime(allow_none=True)
    disconnected_at = ma.fields.DateTime(allow_none=True)
    resume_after = _resume_after()
    sends = ma.fields.Nested(
        PendingSendsSchema, metadata={"description": "pending sends; in lists, GET and PATCH"}
    )
    runtime_status = ma.fields.String(
        validate=ma.validate.OneOf(("connected", "connecting", "disconnected"))
    )
    is_connected = ma.fields.Boolean(required=True)
    node_id = ma.fields.String(
        allow_none=True,
        metadata={"description": "the node running the session now (null: none holds it)"},
    )


class StatusSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    label = ma.fields.String(required=True)
    db_status = ma.fields.String(required=True)
    runtime_status = ma.fields.String(required=True)
    is_connected = ma.fields.Boolean(required=True)
    node_id = ma.fields.String(
        allow_none=True,
        metadata={"description": "the node running the session now (null: none holds it)"},
    )
    phone_number = ma.fields.String(allow_none=True)
    last_seen = ma.fields.DateTime(allow_none=True)
    connected_at = ma.fields.DateTime(allow_none=True)
    disconnected_at = ma.fields.DateTime(allow_none=True)
    resume_after = _resume_after()
    error_message = ma.fields.String(allow_none=True)
    retry_count = ma.fields.Integer(required=True)
    has_qr_code = ma.fields.Boolean(required=True)
    qr_expires_at = ma.fields.DateTime(allow_none=True)


class QrSchema(ma.Schema):
    qr_code = ma.fields.String(required=True)
    format = ma.fields.String(required=True)
    generated_at = ma.fields.DateTime(required=True)
    expires_at = ma.fields.DateTime(required=True)


class CapacitySchema(ma.Schema):
    active = ma.fields.Integer(required=True)
    max = ma.fields.Integer(required=True)
    available = ma.fields.Integer(required=True)
    usage_percent = ma.fields.Float(required=True)


class QueueStatSchema(ma.Schema):
    pending = ma.fields.Integer(required=True)
    in_flight = ma.fields.Integer(required=True)
    dlq = ma.fields.Integer(required=True)


class SendTotalsSchema(ma.Schema):
    queued = ma.fields.Integer(required=True, metadata={"description": "waiting to be sent"})
    in_flight = ma.fields.Integer(required=True, metadata={"description": "being handed over"})
    retrying = ma.fields.Integer(
        required=True, metadata={"description": "failed an attempt, will be retried"}
    )
    oldest_queued_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    oldest_queued_age_s = ma.fields.Float(allow_none=True, required=True)


class SessionSendsSchema(SendTotalsSchema):
    waiting_for_pacing = ma.fields.Integer(
        required=True,
        metadata={"description": "queued sends held back only by sendRatePerMinute"},
    )
    prefetched_here = ma.fields.Integer(
        required=True,
        metadata={"description": "queued sends the lane on this node holds in memory"},
    )


class LastHourSchema(ma.Schema):
    received = ma.fields.Integer(
        required=True, metadata={"description": "inbound messages handed over, readable or not"}
    )
    stored = ma.fields.Integer(required=True)
    failed = ma.fields.Integer(
        required=True, metadata={"description": "message.receive.failed events"}
    )
    webhook_delivered = ma.fields.Integer(required=True)
    webhook_failed = ma.fields.Integer(required=True)


class SessionStatsSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    status = ma.fields.String(required=True)
    sends = ma.fields.Nested(SessionSendsSchema, required=True)
    last_hour = ma.fields.Nested(LastHourSchema, required=True)


class StatsSchema(ma.Schema):
    capacity = ma.fields.Nested(CapacitySchema, required=True)
    sessions_by_status = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Integer(), required=True
    )
    queues = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Nested(QueueStatSchema), required=True
    )
    sends = ma.fields.Nested(SendTotalsSchema, required=True)


class EventSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    session_id = ma.fields.UUID(allow_none=True)
    event_type = ma.fields.String(required=True)
    event_category = ma.fields.String(required=True)
    payload = ma.fields.Dict(required=True)
    created_at = ma.fields.DateTime(required=True)


class PairingCodeSchema(ma.Schema):
    pairing_code = ma.fields.String(required=True)


class ScheduledSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    status = ma.fields.String(required=True)


SessionEnvelope = envelope(SessionSchema, "SessionEnvelope")
SessionListEnvelope = envelope(
    ma.fields.List(ma.fields.Nested(SessionSchema), required=True),
    "SessionListEnvelope",
    paginated=True,
)
StatusEnvelope = envelope(StatusSchema, "StatusEnvelope")
QrEnvelope = envelope(QrSchema, "QrEnvelope")
StatsEnvelope = envelope(StatsSchema, "StatsEnvelope")
SessionStatsEnvelope = envelope(SessionStatsSchema, "SessionStatsEnvelope")
EventListEnvelope = envelope(
    ma.fields.List(ma.fields.Nested(EventSchema), required=True),
    "EventListEnvelope",
    paginated=True,
)
PairEnvelope = envelope(PairingCodeSchema, "PairEnvelope")
ScheduledEnvelope = envelope(ScheduledSchema, "ScheduledEnvelope")
