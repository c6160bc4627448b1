"""marshmallow schemas of the contacts and profile routes (requests and responses)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from zaphubd.http.schemas import QuerySchema, StrictSchema, envelope

MAX_CHECK_NUMBERS = 100
PUSH_NAME_MAX_CHARS = 25  # WhatsApp's limits
ABOUT_MAX_CHARS = 139


class ContactPathSchema(ma.Schema):
    id = ma.fields.UUID(required=True, metadata={"description": "session id (UUID)"})
    contactId = ma.fields.String(
        required=True,
        validate=ma.validate.Length(1, 64),
        metadata={"description": "a phone number (digits, `+` allowed) or a user JID"},
    )


class CheckSchema(StrictSchema):
    numbers = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(1, 64)),
        required=True,
        validate=ma.validate.Length(1, MAX_CHECK_NUMBERS),
        metadata={
            "description": "1-100 phone numbers (`5511...`, `+55 11 9...`) or user JIDs",
            "example": ["5511999990001", "+55 11 99999-0002"],
        },
    )


class ProfileUpdateSchema(StrictSchema):
    pushName = ma.fields.String(validate=ma.validate.Length(1, PUSH_NAME_MAX_CHARS))
    about = ma.fields.String(validate=ma.validate.Length(0, ABOUT_MAX_CHARS))

    @ma.validates_schema
    def _something(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ma.ValidationError("give pushName, about, or both")


class PictureBodySchema(StrictSchema):
    url = ma.fields.Url(
        schemes={"http", "https"}, require_tld=False, validate=ma.validate.Length(max=4096)
    )
    data = ma.fields.String(
        validate=ma.validate.Length(min=1), metadata={"description": "base64 (or a data: URL)"}
    )

    @ma.validates_schema
    def _one_source(self, data: dict[str, Any], **_: Any) -> None:
        if ("url" in data) == ("data" in data):
            raise ma.ValidationError("give exactly one of url or data", "url")


class BlockedQuery(QuerySchema):
    limit = ma.fields.Integer(load_default=100, validate=ma.validate.Range(1, 500))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(0, 1_000_000))


# -- responses -------------------------------------------------------------------------


class CheckResultSchema(ma.Schema):
    number = ma.fields.String(required=True, metadata={"description": "as given"})
    exists = ma.fields.Boolean(required=True)
    jid = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "the account WhatsApp has for the number; null if none"},
    )


class ProfilePictureSchema(ma.Schema):
    url = ma.fields.String(required=True, metadata={"description": "CDN URL; it expires"})
    id = ma.fields.String(required=True, metadata={"description": "changes with the picture"})


class ContactProfileSchema(ma.Schema):
    jid = ma.fields.String(required=True)
    about = ma.fields.String(required=True, allow_none=True)
    aboutSetAt = ma.fields.String(
        required=True, allow_none=True, metadata={"description": "ISO 8601; null if unknown"}
    )
    picture = ma.fields.Nested(ProfilePictureSchema, required=True, allow_none=True)


class BlockStateSchema(ma.Schema):
    jid = ma.fields.String(required=True)
    blocked = ma.fields.Boolean(required=True)


class BlockedContactSchema(ma.Schema):
    jid = ma.fields.String(required=True)


class OwnProfileSchema(ma.Schema):
    jid = ma.fields.String(required=True)
    pushName = ma.fields.String(required=True, allow_none=True)
    about = ma.fields.String(required=True, allow_none=True)
    picture = ma.fields.Nested(ProfilePictureSchema, required=True, allow_none=True)


class ProfileChangeSchema(ma.Schema):
    pushName = ma.fields.String()
    about = ma.fields.String()


class PictureIdSchema(ma.Schema):
    id = ma.fields.String(required=True)


CheckEnvelope = envelope(
    ma.fields.List(ma.fields.Nested(CheckResultSchema), required=True), "CheckEnvelope"
)
ContactEnvelope = envelope(ContactProfileSchema, "ContactEnvelope")
BlockEnvelope = envelope(BlockStateSchema, "BlockEnvelope")
BlockedListEnvelope = envelope(
    ma.fields.List(ma.fields.Nested(BlockedContactSchema), required=True),
    "BlockedListEnvelope",
    paginated=True,
)
ProfileEnvelope = envelope(OwnProfileSchema, "ProfileEnvelope")
ProfileChangeEnvelope = envelope(ProfileChangeSchema, "ProfileChangeEnvelope")
PictureIdEnvelope = envelope(PictureIdSchema, "PictureIdEnvelope")
