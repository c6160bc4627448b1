"""Schemas of the message action routes: edit, delete, forward, react, mark read."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from zaphubd import jid
from zaphubd.http.message_schemas import MessageSchema
from zaphubd.http.schemas import QuerySchema, StrictSchema, envelope


def _request_id() -> ma.fields.String:
    return ma.fields.String(
        validate=ma.validate.Length(1, 255),
        metadata={
            "description": "idempotency key: becomes the new message's messageId "
            "(a repeat answers 200 with that message); generated when absent"
        },
    )


class EditSchema(StrictSchema):
    text = ma.fields.String(required=True, validate=ma.validate.Length(1, 65536))
    requestId = _request_id()


class DeleteQuery(QuerySchema):
    for_ = ma.fields.String(
        data_key="for",
        load_default="everyone",
        validate=ma.validate.OneOf(("everyone", "me")),
        metadata={"description": "everyone (revoke, the default) or me (zaphubd's copy)"},
    )
    requestId = _request_id()


class ForwardSchema(StrictSchema):
    to = ma.fields.String(
        required=True,
        validate=ma.validate.Length(1, 128),
        metadata={"description": "JID or bare phone number"},
    )
    requestId = _request_id()

    @ma.post_load
    def _normalise(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        try:
            data["to"] = jid.normalize(data["to"])
        except jid.InvalidJid as err:
            raise ma.ValidationError({"to": [str(err)]}) from None
        return data


class ReactSchema(StrictSchema):
    emoji = ma.fields.String(required=True, validate=ma.validate.Length(1, 32))
    requestId = _request_id()


class UnreactQuery(QuerySchema):
    requestId = _request_id()


class ReadSchema(StrictSchema):
    messageIds = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(1, 255)),
        required=True,
        validate=ma.validate.Length(1, 100),
        metadata={"description": "received messages: WhatsApp ids or row UUIDs"},
    )


class DeletedSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    messageId = ma.fields.String(required=True)
    deletedFor = ma.fields.String(required=True, metadata={"enum": ["me"]})


class ReadResultSchema(ma.Schema):
    read = ma.fields.List(ma.fields.String(), required=True)
    chats = ma.fields.Integer(required=True)


ActionEnvelope = envelope(MessageSchema, "MessageActionEnvelope")
DeletedEnvelope = envelope(DeletedSchema, "DeletedForMeEnvelope")
ReadEnvelope = envelope(ReadResultSchema, "ReadEnvelope")
