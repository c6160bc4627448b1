"""Schemas of the chat endpoints: list and page queries, the change body, responses."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from zaphubd.http.message_schemas import MessageSchema
from zaphubd.http.schemas import QuerySchema, StrictSchema


def _limit() -> ma.fields.Integer:
    return ma.fields.Integer(load_default=50, validate=ma.validate.Range(1, 100))


class ChatPathSchema(ma.Schema):
    id = ma.fields.UUID(required=True, metadata={"description": "session id (UUID)"})
    chatId = ma.fields.String(
        required=True,
        validate=ma.validate.Length(1, 128),
        metadata={"description": "the chat's JID (user, group or LID) or a phone number"},
    )


class ListChatsQuery(QuerySchema):
    limit = _limit()
    cursor = ma.fields.String(
        validate=ma.validate.Length(1, 512),
        metadata={"description": "pagination.next_cursor of the previous page"},
    )
    archived = ma.fields.Boolean(metadata={"description": "only archived (true) or not (false)"})


class ChatMessagesQuery(QuerySchema):
    before = ma.fields.UUID(metadata={"description": "a message id: the messages older than it"})
    after = ma.fields.UUID(metadata={"description": "a message id: the messages newer than it"})
    limit = _limit()

    @ma.validates_schema
    def _one_cursor(self, data: dict[str, Any], **_: Any) -> None:
        if "before" in data and "after" in data:
            raise ma.ValidationError("give before or after, not both", "after")


class ChangeChatSchema(StrictSchema):
    archived = ma.fields.Boolean(metadata={"description": "archiving also unpins"})
    pinned = ma.fields.Boolean()
    muted = ma.fields.Boolean(metadata={"description": "true alone: muted until unmuted"})
    mutedUntil = ma.fields.AwareDateTime(
        allow_none=True,
        metadata={
            "description": "muted until then (a future time); null: with muted true, forever, "
            "alone, unmutes"
        },
    )

    @ma.validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ma.ValidationError("give archived, pinned, muted or mutedUntil", "_schema")
        if data.get("archived") is True and data.get("pinned") is True:
            raise ma.ValidationError("an archived chat cannot be pinned", "pinned")
        if data.get("muted") is False and data.get("mutedUntil") is not None:
            raise ma.ValidationError("only a muted chat has an end to its mute", "mutedUntil")


# -- responses -------------------------------------------------------------------------


class ChatSettingsSchema(ma.Schema):
    jid = ma.fields.String(required=True)
    archived = ma.fields.Boolean(required=True)
    pinned = ma.fields.Boolean(required=True)
    muted = ma.fields.Boolean(required=True)
    mutedUntil = ma.fields.DateTime(
        allow_none=True, metadata={"description": "null while muted: forever"}
    )


class ChatSchema(ChatSettingsSchema):
    name = ma.fields.String(
        allow_none=True, metadata={"description": "the contact's push name, when stored"}
    )
    lastMessageAt = ma.fields.DateTime(required=True)
    lastMessage = ma.fields.Nested(MessageSchema, required=True)


class ChatPageSchema(ma.Schema):
    limit = ma.fields.Integer(required=True)
    has_more = ma.fields.Boolean(required=True)
    next_cursor = ma.fields.String(
        allow_none=True, metadata={"description": "pass as cursor for the next page"}
    )


class MessagePageSchema(ma.Schema):
    limit = ma.fields.Integer(required=True)
    has_more = ma.fields.Boolean(
        required=True, metadata={"description": "more in the direction asked (older, or newer)"}
    )
    before = ma.fields.UUID(
        allow_none=True, metadata={"description": "the oldest message of the page"}
    )
    after = ma.fields.UUID(
        allow_none=True, metadata={"description": "the newest message of the page"}
    )


def _envelope(data: ma.fields.Field, name: str, page: type[ma.Schema] | None) -> type[ma.Schema]:
    fields: dict[str, ma.fields.Field] = {
        "success": ma.fields.Boolean(required=True),
        "data": data,
        "message": ma.fields.String(),
    }
    if page is not None:
        fields["pagination"] = ma.fields.Nested(page, required=True)
    return ma.Schema.from_dict(fields, name=name + "Schema")


ChatListEnvelope = _envelope(
    ma.fields.List(ma.fields.Nested(ChatSchema), required=True), "ChatListEnvelope", ChatPageSchema
)
ChatMessagesEnvelope = _envelope(
    ma.fields.List(ma.fields.Nested(MessageSchema), required=True),
    "ChatMessagesEnvelope",
    MessagePageSchema,
)
ChatSettingsEnvelope = _envelope(
    ma.fields.Nested(ChatSettingsSchema, required=True), "ChatSettingsEnvelope", None
)
