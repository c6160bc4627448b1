"""Schemas of the group routes: request bodies (validated) and responses (documented)."""

from __future__ import annotations

import re

import marshmallow as ma

from zaphubd.http.schemas import QuerySchema, StrictSchema, envelope
from zaphubd.sessions.groups import PARTICIPANT_ACTIONS, PARTICIPANT_STATUSES

SUBJECT_MAX = 100  # WhatsApp's limit on a group's subject
DESCRIPTION_MAX = 2048  # and on its description
PARTICIPANTS_MAX = 1024  # the most members a group can have
#: `<digits>@g.us` (or the old `<creator>-<timestamp>@g.us`), or those digits alone.
GROUP_ID = re.compile(r"^[0-9]{6,25}(-[0-9]{6,15})?(@g\.us)?$")
#: An invite link's code: WhatsApp's are 22 letters and digits.
INVITE = re.compile(r"^(?:https?://chat\.whatsapp\.com/)?([A-Za-z0-9]{16,32})/?$")


def _participants(**kwargs: object) -> ma.fields.List:
    return ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(1, 128)),
        validate=ma.validate.Length(1, PARTICIPANTS_MAX),
        metadata={"description": "phone numbers or user JIDs"},
        **kwargs,
    )


class GroupPathSchema(ma.Schema):
    id = ma.fields.UUID(required=True, metadata={"description": "session id (UUID)"})
    groupId = ma.fields.String(
        required=True, metadata={"description": "`<digits>@g.us`, or the digits alone"}
    )


class ParticipantsPathSchema(GroupPathSchema):
    action = ma.fields.String(required=True, validate=ma.validate.OneOf(PARTICIPANT_ACTIONS))


class CreateGroupSchema(StrictSchema):
    subject = ma.fields.String(required=True, validate=ma.validate.Length(1, SUBJECT_MAX))
    participants = _participants(required=True)


class ParticipantsSchema(StrictSchema):
    participants = _participants(required=True)


class UpdateGroupSchema(StrictSchema):
    subject = ma.fields.String(validate=ma.validate.Length(1, SUBJECT_MAX))
    description = ma.fields.String(
        validate=ma.validate.Length(0, DESCRIPTION_MAX), metadata={"description": "'' clears it"}
    )
    announce = ma.fields.Boolean(metadata={"description": "only admins may send messages"})
    locked = ma.fields.Boolean(metadata={"description": "only admins may edit the group's info"})

    @ma.validates_schema
    def _something(self, data: dict[str, object], **kwargs: object) -> None:
        if not data:
            raise ma.ValidationError("give at least one of subject, description, announce, locked")


class JoinGroupSchema(StrictSchema):
    invite = ma.fields.String(
        required=True,
        validate=ma.validate.Length(1, 256),
        metadata={"description": "https://chat.whatsapp.com/<code>, or the code"},
    )


class GroupListQuery(QuerySchema):
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(1, 100))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(0, 100_000))


class ParticipantSchema(ma.Schema):
    jid = ma.fields.String(required=True)
    phone = ma.fields.String(allow_none=True)
    lid = ma.fields.String(allow_none=True)
    isAdmin = ma.fields.Boolean(required=True)
    isSuperAdmin = ma.fields.Boolean(required=True)


class GroupSummarySchema(ma.Schema):
    jid = ma.fields.String(required=True)
    subject = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    owner = ma.fields.String(allow_none=True)
    createdAt = ma.fields.DateTime(allow_none=True)
    announce = ma.fields.Boolean(required=True)
    locked = ma.fields.Boolean(required=True)
    size = ma.fields.Integer(required=True, metadata={"description": "number of participants"})


class GroupSchema(GroupSummarySchema):
    participants = ma.fields.List(ma.fields.Nested(ParticipantSchema), required=True)


class ParticipantResultSchema(ma.Schema):
    jid = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"enum": list(PARTICIPANT_STATUSES)})
    error = ma.fields.Integer(metadata={"description": "WhatsApp's code, when it refused"})


class InviteLinkSchema(ma.Schema):
    jid = ma.fields.String(required=True)
    inviteLink = ma.fields.String(required=True)


class LeftSchema(ma.Schema):
    jid = ma.fields.String(required=True)
    left = ma.fields.Boolean(required=True)


GroupEnvelope = envelope(GroupSchema, "GroupEnvelope")
GroupListEnvelope = envelope(
    ma.fields.List(ma.fields.Nested(GroupSummarySchema), required=True),
    "GroupListEnvelope",
    paginated=True,
)
ParticipantResultsEnvelope = envelope(
    ma.fields.List(ma.fields.Nested(ParticipantResultSchema), required=True),
    "ParticipantResultsEnvelope",
)
InviteLinkEnvelope = envelope(InviteLinkSchema, "InviteLinkEnvelope")
LeftEnvelope = envelope(LeftSchema, "LeftEnvelope")
