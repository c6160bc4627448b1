"""Schemas of the messaging endpoints: the send body of every type, list filters, responses."""

from __future__ import annotations

import binascii
from contextvars import ContextVar
from typing import Any

import marshmallow as ma

from zaphubd import jid
from zaphubd.http.schemas import QuerySchema, StrictSchema, envelope

CONTENT_TYPES = (
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contact",
    "reaction",
    "poll",
)
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
MESSAGE_STATUSES = ("queued", "processing", "sent", "delivered", "read", "failed", "dlq")
INBOUND_TYPES = (*CONTENT_TYPES, "edit", "revoke", "unknown")
_MIME = ma.validate.Regexp(
    r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$", error="not a MIME type"
)


#: True while a multipart send is validated: the media is the uploaded file, not url or data.
UPLOADING: ContextVar[bool] = ContextVar("uploading", default=False)


def _jid_field(**kwargs: Any) -> ma.fields.String:
    return ma.fields.String(validate=ma.validate.Length(1, 128), **kwargs)


def _no_path(value: str) -> None:
    if "/" in value or "\\" in value or value in (".", "..") or "\x00" in value:
        raise ma.ValidationError("must be a file name, not a path")


class _Media(StrictSchema):
    url = ma.fields.Url(
        schemes={"http", "https"}, require_tld=False, validate=ma.validate.Length(max=4096)
    )
    data = ma.fields.String(
        validate=ma.validate.Length(min=1), metadata={"description": "base64 (or a data: URL)"}
    )
    mimeType = ma.fields.String(validate=_MIME)

    @ma.validates_schema
    def _one_source(self, data: dict[str, Any], **_: Any) -> None:
        if UPLOADING.get():  # a multipart send: the `file` part is the media
            if "url" in data or "data" in data:
                raise ma.ValidationError("the uploaded file replaces url and data", "url")
            return
        if ("url" in data) == ("data" in data):
            raise ma.ValidationError("give exactly one of url or data", "url")
        if "data" in data:
            _check_base64(data["data"])


def _check_base64(value: str) -> None:
    payload = value.split(",", 1)[1] if value.startswith("data:") else value
    try:
        binascii.a2b_base64(payload.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ma.ValidationError("not valid base64", "data") from None


def _caption() -> ma.fields.String:
    return ma.fields.String(validate=ma.validate.Length(max=4096))


class ImageSchema(_Media):
    caption = _caption()


class VideoSchema(_Media):
    caption = _caption()
    gifPlayback = ma.fields.Boolean()


class AudioSchema(_Media):
    ptt = ma.fields.Boolean(metadata={"description": "send as a voice note"})


class DocumentSchema(_Media):
    caption = _caption()
    fileName = ma.fields.String(validate=[ma.validate.Length(1, 255), _no_path])


class StickerSchema(_Media):
    pass


class LocationSchema(StrictSchema):
    latitude = ma.fields.Float(required=True, validate=ma.validate.Range(-90, 90), allow_nan=False)
    longitude = ma.fields.Float(
        required=True, validate=ma.validate.Range(-180, 180), allow_nan=False
    )
    name = ma.fields.String(validate=ma.validate.Length(max=256))
    address = ma.fields.String(validate=ma.validate.Length(max=1024))


class ContactSchema(StrictSchema):
    displayName = ma.fields.String(required=True, validate=ma.validate.Length(1, 256))
    vcard = ma.fields.String(required=True, validate=ma.validate.Length(1, 16384))

    @ma.validates("vcard")
    def _is_vcard(self, value: str, **_: Any) -> None:
        if not value.lstrip().upper().startswith("BEGIN:VCARD"):
            raise ma.ValidationError("must be a vCard (BEGIN:VCARD ... END:VCARD)")


class ReactionSchema(StrictSchema):
    messageId = ma.fields.String(required=True, validate=ma.validate.Length(1, 255))
    emoji = ma.fields.String(
        required=True,
        validate=ma.validate.Length(max=32),
        metadata={"description": "empty removes"},
    )


class PollSchema(StrictSchema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 256))
    options = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(1, 100)),
        required=True,
        validate=ma.validate.Length(2, 12),
    )
    selectableCount = ma.fields.Integer(validate=ma.validate.Range(0, 12), strict=True)

    @ma.validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        options = data.get("options", [])
        if len(set(options)) != len(options):
            raise ma.ValidationError("options must be distinct", "options")
        if data.get("selectableCount", 1) > len(options):
            raise ma.ValidationError("cannot exceed the number of options", "selectableCount")


class SendMessageSchema(StrictSchema):
    messageId = ma.fields.String(
        required=True,
        validate=ma.validate.Length(1, 255),
        metadata={"description": "idempotency key"},
    )
    to = _jid_field(required=True, metadata={"description": "JID or bare phone number"})
    type = ma.fields.String(validate=ma.validate.OneOf(CONTENT_TYPES))
    text = ma.fields.String(validate=ma.validate.Length(1, 65536))
    image = ma.fields.Nested(ImageSchema)
    video = ma.fields.Nested(VideoSchema)
    audio = ma.fields.Nested(AudioSchema)
    document = ma.fields.Nested(DocumentSchema)
    sticker = ma.fields.Nested(StickerSchema)
    location = ma.fields.Nested(LocationSchema)
    contact = ma.fields.Nested(ContactSchema)
    reaction = ma.fields.Nested(ReactionSchema)
    poll = ma.fields.Nested(PollSchema)
    metadata = ma.fields.Dict(keys=ma.fields.String(validate=ma.validate.Length(1, 128)))
    statusJidList = ma.fields.List(_jid_field(), validate=ma.validate.Length(1, 10000))
    quoted = ma.fields.String(
        validate=ma.validate.Length(1, 255),
        metadata={"description": "WhatsApp id of the message to reply to"},
    )
    mentions = ma.fields.List(_jid_field(), validate=ma.validate.Length(max=1024))

    @ma.validates_schema
    def _one_content(self, data: dict[str, Any], **_: Any) -> None:
        present = [name for name in CONTENT_TYPES if name in data]
        chosen = data.get("type") or (present[0] if len(present) == 1 else None)
        if chosen is None:
            raise ma.ValidationError(
                "give exactly one content field (" + ", ".join(CONTENT_TYPES) + ")", "type"
            )
        if present != [chosen]:
            extra = [name for name in present if name != chosen]
            if chosen not in present:
                raise ma.ValidationError(f"type {chosen} needs the field {chosen}", chosen)
            raise ma.ValidationError(
                f"only the {chosen} field is allowed with type {chosen}", extra[0]
            )

    @ma.post_load
    def _normalise(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        data["type"] = data.get("type") or next(n for n in CONTENT_TYPES if n in data)
        data["to"] = _normalise_jid(data["to"], "to", errors)
        for name in ("mentions", "statusJidList"):
            if name in data:
                data[name] = [
                    _normalise_jid(v, f"{name}.{i}", errors) for i, v in enumerate(data[name])
                ]
        is_status = data["to"] == jid.STATUS_BROADCAST
        if is_status and not data.get("statusJidList"):
            errors["statusJidList"] = ["required when sending to status@broadcast"]
        if not is_status and "statusJidList" in data:
            errors["statusJidList"] = ["only allowed when sending to status@broadcast"]
        if errors:
            raise ma.ValidationError(errors)
        return data


def _normalise_jid(value: str, field: str, errors: dict[str, Any]) -> str:
    try:
        return jid.normalize(value)
    except jid.InvalidJid as err:
        errors[field] = [str(err)]
        return value


class ListMessagesQuery(QuerySchema):
    status = ma.fields.String(validate=ma.validate.OneOf(MESSAGE_STATUSES))
    direction = ma.fields.String(validate=ma.validate.OneOf(("inbound", "outbound")))
    type = ma.fields.String(validate=ma.validate.OneOf(INBOUND_TYPES))
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(1, 100))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(0, 10_000_000))
    sortBy = ma.fields.String(
        load_default="created_at",
        validate=ma.validate.OneOf(("created_at", "updated_at", "sent_at", "status", "type")),
    )
    sortOrder = ma.fields.String(load_default="desc", validate=ma.validate.OneOf(("asc", "desc")))


class MessagePathSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    messageId = ma.fields.String(required=True, validate=ma.validate.Length(1, 255))


class PresenceSchema(StrictSchema):
    jid = _jid_field(required=True)
    type = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(
            ("composing", "recording", "paused", "available", "unavailable")
        ),
    )


class SubscribeSchema(StrictSchema):
    jid = _jid_field(required=True)


class CallsQuery(QuerySchema):
    status = ma.fields.String(
        validate=ma.validate.OneOf(("offer", "ringing", "accept", "reject", "terminate", "timeout"))
    )
    is_video = ma.fields.Boolean()
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(1, 100))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(0, 10_000_000))


class LegacySessionQuery(QuerySchema):
    """The legacy route's session alone: looked up before the rest is judged."""

    session = ma.fields.UUID(required=True)


class LegacySendQuery(LegacySessionQuery):
    to = _jid_field(required=True)
    type = ma.fields.String(
        load_default="text", validate=ma.validate.OneOf(("text", "image", "document"))
    )
    text = ma.fields.String(validate=ma.validate.Length(1, 65536))
    url = ma.fields.Url(schemes={"http", "https"}, require_tld=False)
    caption = ma.fields.String(validate=ma.validate.Length(max=4096))

    @ma.validates_schema
    def _content(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("type", "text") == "text" and "text" not in data:
            raise ma.ValidationError("text is required", "text")
        if data.get("type") in ("image", "document") and "url" not in data:
            raise ma.ValidationError("url is required", "url")


# -- responses -------------------------------------------------------------------------


class MessageSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    messageId = ma.fields.String(required=True)
    direction = ma.fields.String(required=True)
    type = ma.fields.String(required=True)
    to = ma.fields.String(required=True)
    from_ = ma.fields.String(data_key="from", allow_none=True)
    status = ma.fields.String(required=True)
    content = ma.fields.Dict(required=True)
    metadata = ma.fields.Dict(required=True)
    attempts = ma.fields.Integer(required=True)
    wa_message_id = ma.fields.String(allow_none=True)
    wa_timestamp = ma.fields.DateTime(allow_none=True)
    error_message = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime(required=True)
    queued_at = ma.fields.DateTime(allow_none=True)
    processing_at = ma.fields.DateTime(allow_none=True)
    sent_at = ma.fields.DateTime(allow_none=True)
    delivered_at = ma.fields.DateTime(allow_none=True)
    read_at = ma.fields.DateTime(allow_none=True)
    failed_at = ma.fields.DateTime(allow_none=True)


class CallSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    call_id = ma.fields.String(required=True)
    from_jid = ma.fields.String(required=True)
    is_video = ma.fields.Boolean(required=True)
    is_group = ma.fields.Boolean(required=True)
    status = ma.fields.String(required=True)
    rejected_by_us = ma.fields.Boolean(required=True)
    offered_at = ma.fields.DateTime(allow_none=True)
    accepted_at = ma.fields.DateTime(allow_none=True)
    ended_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime(required=True)
    updated_at = ma.fields.DateTime(required=True)


class AckSchema(ma.Schema):
    jid = ma.fields.String(required=True)
    type = ma.fields.String()


MessageEnvelope = envelope(MessageSchema, "MessageEnvelope")
MessageListEnvelope = envelope(
    ma.fields.List(ma.fields.Nested(MessageSchema), required=True),
    "MessageListEnvelope",
    paginated=True,
)
CallListEnvelope = envelope(
    ma.fields.List(ma.fields.Nested(CallSchema), required=True), "CallListEnvelope", paginated=True
)
AckEnvelope = envelope(AckSchema, "AckEnvelope")
