"""Group endpoints: create, list, read, members, settings, invite links, join, leave.

Every route looks the session up first (404), then judges the path's group id and the body
(400), then asks the session (409 when it is not connected). What WhatsApp refuses comes
back as 404 (no such group, unknown or revoked invite) or 403 (not a member, not an admin).
A group id is only ever a string handed to the transport, checked against `GROUP_ID`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp_apigami import match_info_schema

from zaphubd import jid
from zaphubd.errors import ValidationFailed
from zaphubd.http import appkeys
from zaphubd.http.group_schemas import (
    GROUP_ID,
    INVITE,
    CreateGroupSchema,
    GroupEnvelope,
    GroupListEnvelope,
    GroupListQuery,
    GroupPathSchema,
    InviteLinkEnvelope,
    JoinGroupSchema,
    LeftEnvelope,
    ParticipantResultsEnvelope,
    ParticipantsPathSchema,
    ParticipantsSchema,
    UpdateGroupSchema,
)
from zaphubd.http.parsing import parse_body, parse_query
from zaphubd.http.responses import ok, page
from zaphubd.http.schemas import SessionPathSchema, documented, documents_body, documents_input
from zaphubd.http.session_path import path_session, session_and_body
from zaphubd.sessions.groups import GroupActions

CREATE_SCHEMA = CreateGroupSchema()
PARTICIPANTS_SCHEMA = ParticipantsSchema()
UPDATE_SCHEMA = UpdateGroupSchema()
JOIN_SCHEMA = JoinGroupSchema()
LIST_QUERY = GroupListQuery()
TAG = "groups"


def _groups(request: web.Request) -> GroupActions:
    return request.app[appkeys.GROUP_ACTIONS]


def _group_id(request: web.Request) -> str:
    value = request.match_info["groupId"]
    if not GROUP_ID.match(value):
        message = "must be a group id: <digits>@g.us, or the digits"
        raise ValidationFailed(f"groupId {message}", {"groupId": [message]})
    return value if value.endswith("@g.us") else f"{value}@{jid.GROUP_SERVER}"


def _participants(values: list[str]) -> list[str]:
    """Phone numbers or user JIDs, as user JIDs (duplicates dropped, order kept)."""
    result: dict[str, None] = {}
    for index, value in enumerate(values):
        try:
            normalised = jid.normalize(value)
        except jid.InvalidJid as err:
            normalised, problem = "", str(err)
        else:
            problem = "must be a phone number or a user JID"
        if not jid.is_user(normalised):
            raise ValidationFailed(
                f"participants.{index} {problem}", {f"participants.{index}": [problem]}
            )
        result[jid.user_jid(jid.phone_of(normalised))] = None
    return list(result)


@documented(
    "Create a group", TAG, (201, GroupEnvelope), errors=(400, 404, 409, 429), scope="control"
)
@documents_body(CreateGroupSchema)
@match_info_schema(SessionPathSchema)
async def create_group(request: web.Request) -> web.Response:
    row, body = await session_and_body(request, CREATE_SCHEMA)
    participants = _participants(body["participants"])
    group = await _groups(request).create(row.id, body["subject"], participants)
    return ok(group, status=201)


@documented(
    "The groups the account is in",
    TAG,
    (200, GroupListEnvelope),
    errors=(400, 404, 409),
    scope="read",
)
@documents_input(GroupListQuery, "querystring")
@match_info_schema(SessionPathSchema)
async def list_groups(request: web.Request) -> web.Response:
    row = await path_session(request)
    q = await parse_query(request, LIST_QUERY)
    got = await _groups(request).list_page(row.id, q["limit"], q["offset"])
    return ok(got["groups"], pagination=page(got["total"], q["limit"], q["offset"]))


@documented(
    "One group, with its participants",
    TAG,
    (200, GroupEnvelope),
    errors=(400, 403, 404, 409),
    scope="read",
)
@match_info_schema(GroupPathSchema)
async def get_group(request: web.Request) -> web.Response:
    row = await path_session(request)
    return ok(await _groups(request).get(row.id, _group_id(request)))


@documented(
    "Change a group's subject, description or settings",
    TAG,
    (200, GroupEnvelope),
    errors=(400, 403, 404, 409),
    scope="control",
)
@documents_body(UpdateGroupSchema)
@match_info_schema(GroupPathSchema)
async def update_group(request: web.Request) -> web.Response:
    row = await path_session(request)
    group = _group_id(request)
    body = await parse_body(request, UPDATE_SCHEMA)
    return ok(await _groups(request).update(row.id, group, body))


@documented(
    "Add, remove, promote or demote participants",
    TAG,
    (200, ParticipantResultsEnvelope),
    errors=(400, 403, 404, 409),
    scope="control",
)
@documents_body(ParticipantsSchema)
@match_info_schema(ParticipantsPathSchema)
async def change_participants(request: web.Request) -> web.Response:
    row = await path_session(request)
    group = _group_id(request)
    body = await parse_body(request, PARTICIPANTS_SCHEMA)
    who = _participants(body["participants"])
    action: Any = request.match_info["action"]
    return ok(await _groups(request).participants(row.id, group, action, who))


@documented(
    "The group's invite link",
    TAG,
    (200, InviteLinkEnvelope),
    errors=(400, 403, 404, 409),
    scope="control",
    description="An invite link lets anyone who has it join: it needs the `control` scope.",
)
@match_info_schema(GroupPathSchema)
async def get_invite_link(request: web.Request) -> web.Response:
    row = await path_session(request)
    return ok(await _groups(request).invite_link(row.id, _group_id(request), False))


@documented(
    "Revoke the invite link and get its replacement",
    TAG,
    (200, InviteLinkEnvelope),
    errors=(400, 403, 404, 409),
    scope="control",
)
@match_info_schema(GroupPathSchema)
async def revoke_invite_link(request: web.Request) -> web.Response:
    row = await path_session(request)
    return ok(await _groups(request).invite_link(row.id, _group_id(request), True))


@documented(
    "Join a group by its invite link",
    TAG,
    (200, GroupEnvelope),
    errors=(400, 404, 409),
    scope="control",
)
@documents_body(JoinGroupSchema)
@match_info_schema(SessionPathSchema)
async def join_group(request: web.Request) -> web.Response:
    row, body = await session_and_body(request, JOIN_SCHEMA)
    match = INVITE.match(body["invite"].strip())
    if match is None:
        message = "must be https://chat.whatsapp.com/<code> or the code"
        raise ValidationFailed(f"invite {message}", {"invite": [message]})
    return ok(await _groups(request).join(row.id, match.group(1)))


@documented("Leave a group", TAG, (200, LeftEnvelope), errors=(400, 403, 404, 409), scope="control")
@match_info_schema(GroupPathSchema)
async def leave_group(request: web.Request) -> web.Response:
    row = await path_session(request)
    group = _group_id(request)
    await _groups(request).leave(row.id, group)
    return ok({"jid": group, "left": True})


def setup(app: web.Application) -> None:
    base = "/api/v1/sessions/{id}/groups"
    app.router.add_post(base, create_group)
    app.router.add_get(base, list_groups, allow_head=False)
    app.router.add_post(base + "/join", join_group)
    app.router.add_get(base + "/{groupId}", get_group, allow_head=False)
    app.router.add_patch(base + "/{groupId}", update_group)
    app.router.add_post(base + "/{groupId}/participants/{action}", change_participants)
    app.router.add_get(base + "/{groupId}/invite-link", get_invite_link, allow_head=False)
    app.router.add_post(base + "/{groupId}/invite-link/revoke", revoke_invite_link)
    app.router.add_post(base + "/{groupId}/leave", leave_group)
