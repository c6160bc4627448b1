"""Messaging endpoints: send, list and get messages, inbound media, presence, calls, legacy send."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from aiohttp_apigami import match_info_schema, querystring_schema

from zaphubd.db.messages import MessageFilter, MessageRow
from zaphubd.errors import ApiError, NotFound, ValidationFailed
from zaphubd.http import appkeys
from zaphubd.http.media_send import (
    documents_send_body,
    media_response,
    multipart_body,
    release_staged,
    staged_key_of,
    stored_media,
)
from zaphubd.http.message_schemas import (
    AckEnvelope,
    CallListEnvelope,
    CallsQuery,
    LegacySendQuery,
    LegacySessionQuery,
    ListMessagesQuery,
    MessageEnvelope,
    MessageListEnvelope,
    MessagePathSchema,
    PresenceSchema,
    SendMessageSchema,
    SubscribeSchema,
)
from zaphubd.http.multipart import is_multipart
from zaphubd.http.parsing import parse_body, parse_query
from zaphubd.http.responses import ok, page
from zaphubd.http.schemas import SessionPathSchema, documented, documents_body, documents_input
from zaphubd.http.session_path import path_message, path_session_id, session_and_body
from zaphubd.jid import InvalidJid, normalize
from zaphubd.messaging.inbound import public_content
from zaphubd.messaging.intake import SendRequest

# marshmallow builds a schema's fields when it is instantiated: once, not per request.
SEND_SCHEMA = SendMessageSchema()
PRESENCE_SCHEMA = PresenceSchema()
SUBSCRIBE_SCHEMA = SubscribeSchema()
LEGACY_SESSION = LegacySessionQuery()
LEGACY_QUERY = LegacySendQuery()
TAG = "messages"


def message_view(row: MessageRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "messageId": row.message_id,
        "direction": row.direction,
        "type": row.type,
        "to": row.to_jid,
        "from": row.from_jid,
        "status": row.status,
        "content": public_content(row.content),
        "metadata": row.metadata,
        "attempts": row.attempts,
        "wa_message_id": row.wa_message_id,
        "wa_timestamp": row.wa_timestamp,
        "error_message": row.error_message,
        "created_at": row.created_at,
        "queued_at": row.queued_at,
        "processing_at": row.processing_at,
        "sent_at": row.sent_at,
        "delivered_at": row.delivered_at,
        "read_at": row.read_at,
        "failed_at": row.failed_at,
    }


def stored_content(body: dict[str, Any]) -> dict[str, Any]:
    """What the send worker needs: the type's fields plus reply, mentions and status list."""
    value = body[body["type"]]
    content: dict[str, Any] = {"text": value} if body["type"] == "text" else dict(value)
    for key in ("quoted", "mentions", "statusJidList"):
        if key in body:
            content[key] = body[key]
    return content


def _check_media_size(request: web.Request, body: dict[str, Any]) -> None:
    spec = body.get(body["type"])
    if isinstance(spec, dict) and "data" in spec:
        limit = request.app[appkeys.SETTINGS].media_max_bytes
        if len(spec["data"]) * 3 // 4 > limit:
            raise ValidationFailed(
                f"media data exceeds ZAPHUB_MEDIA_MAX_BYTES ({limit} bytes)",
                {f"{body['type']}.data": [f"larger than {limit} bytes"]},
            )


async def accept_send(
    request: web.Request, session_id: uuid.UUID, body: dict[str, Any]
) -> web.Response:
    """Hand the send to messaging (row + event, then its job); 201 new, 200 a repeat."""
    send = SendRequest(
        session_id=session_id,
        message_id=body["messageId"],
        type=body["type"],
        to=body["to"],
        content=stored_content(body),
        metadata=body.get("metadata", {}),
    )
    accepted = await request.app[appkeys.SEND_INTAKE].accept(send)
    row = accepted.row
    if not accepted.new:
        return ok(message_view(row), message="Message already accepted (same messageId)")
    data = {
        "id": row.id,
        "messageId": row.message_id,
        "status": row.status,
        "type": row.type,
        "to": row.to_jid,
        "created_at": row.created_at,
        "queued_at": row.queued_at,
    }
    return ok(data, status=201, message="Message queued")


@documented(
    "Send a message (queued, idempotent on messageId)",
    TAG,
    (201, MessageEnvelope),
    errors=(400, 404, 409, 413),
    scope="send",
)
@documents_send_body
@match_info_schema(SessionPathSchema)
async def send_message(request: web.Request) -> web.Response:
    session_id = path_session_id(request)
    if is_multipart(request):  # the session first: a 404 should not wait for a 50 MB upload
        await request.app[appkeys.SESSION_COMMANDS].require(session_id)
        return await _accept_upload(request, session_id, await multipart_body(request))
    try:
        body = await parse_body(request, SEND_SCHEMA)
        _check_media_size(request, body)
    except ValidationFailed:
        # The API's order: an unknown session is a 404 even when the body is bad too.
        await request.app[appkeys.SESSION_COMMANDS].require(session_id)
        raise
    return await accept_send(request, session_id, body)


async def _accept_upload(
    request: web.Request, session_id: uuid.UUID, body: dict[str, Any]
) -> web.Response:
    """Accept a send whose file is staged; a send not accepted gives its file back (on any
    other failure the sweeper decides, since the row may have been written)."""
    staged = staged_key_of(body)
    try:
        response = await accept_send(request, session_id, body)
    except ApiError:
        await release_staged(request, staged)
        raise
    if response.status != 201:  # a repeated messageId: the first send has its own file
        await release_staged(request, staged)
    return response


@documented("List messages", TAG, (200, MessageListEnvelope), errors=(400, 404), scope="read")
@querystring_schema(ListMessagesQuery)
@match_info_schema(SessionPathSchema)
async def list_messages(request: web.Request) -> web.Response:
    session_id = path_session_id(request)
    await request.app[appkeys.SESSION_COMMANDS].require(session_id)
    q = request["querystring"]
    filt = MessageFilter(session_id, q.get("status"), q.get("direction"), q.get("type"))
    rows, total = await request.app[appkeys.MESSAGE_REPO].list_page(
        filt, q["limit"], q["offset"], q["sortBy"], q["sortOrder"]
    )
    return ok([message_view(r) for r in rows], pagination=page(total, q["limit"], q["offset"]))


@documented(
    "Get a message by its UUID or its messageId",
    TAG,
    (200, MessageEnvelope),
    errors=(400, 404),
    scope="read",
)
@match_info_schema(MessagePathSchema)
async def get_message(request: web.Request) -> web.Response:
    return ok(message_view(await path_message(request)))


@documented("Download an inbound message's media", TAG, None, errors=(400, 404, 409), scope="read")
@match_info_schema(MessagePathSchema)
async def get_media(request: web.Request) -> web.Response:
    row = await path_message(request)
    token = row.content.get("_media")
    if not isinstance(token, dict):
        raise NotFound("this message has no media")
    kept = await stored_media(request, row)  # config.storeMedia: no connection needed
    if kept is not None:
        return kept
    media = await request.app[appkeys.SESSION_ACTIONS].download_media(row.session_id, token)
    return media_response(media.data, media.mime_type, media.file_name or row.message_id)


@documented(
    "Send presence now (typing, recording, online...)",
    TAG,
    (200, AckEnvelope),
    errors=(400, 404, 409),
    scope="send",
)
@documents_body(PresenceSchema)
@match_info_schema(SessionPathSchema)
async def send_presence(request: web.Request) -> web.Response:
    row, body = await session_and_body(request, PRESENCE_SCHEMA)
    session_id = row.id
    target = _jid(body["jid"])
    chat = None if body["type"] in ("available", "unavailable") else target
    await request.app[appkeys.SESSION_ACTIONS].send_presence(session_id, body["type"], chat)
    return ok({"jid": target, "type": body["type"]})


@documented(
    "Subscribe to a contact's presence",
    TAG,
    (200, AckEnvelope),
    errors=(400, 404, 409),
    scope="send",
)
@documents_body(SubscribeSchema)
@match_info_schema(SessionPathSchema)
async def subscribe_presence(request: web.Request) -> web.Response:
    row, body = await session_and_body(request, SUBSCRIBE_SCHEMA)
    session_id = row.id
    target = _jid(body["jid"])
    await request.app[appkeys.SESSION_ACTIONS].subscribe_presence(session_id, target)
    return ok({"jid": target})


def _jid(value: str) -> str:
    try:
        return normalize(value)
    except InvalidJid as err:
        raise ValidationFailed(f"jid {err}", {"jid": [str(err)]}) from None


@documented("Calls of a session", TAG, (200, CallListEnvelope), errors=(400, 404), scope="read")
@querystring_schema(CallsQuery)
@match_info_schema(SessionPathSchema)
async def list_calls(request: web.Request) -> web.Response:
    session_id = path_session_id(request)
    await request.app[appkeys.SESSION_COMMANDS].require(session_id)
    q = request["querystring"]
    rows, total = await request.app[appkeys.CALL_REPO].list_page(
        session_id, q.get("status"), q.get("is_video"), q["limit"], q["offset"]
    )
    data = [
        {
            "id": r.id,
            "call_id": r.call_id,
            "from_jid": r.from_jid,
            "is_video": r.is_video,
            "is_group": r.is_group,
            "status": r.status,
            "rejected_by_us": r.rejected_by_us,
            "offered_at": r.offered_at,
            "accepted_at": r.accepted_at,
            "ended_at": r.ended_at,
            "created_at": r.created_at,
            "updated_at": r.updated_at,
        }
        for r in rows
    ]
    return ok(data, pagination=page(total, q["limit"], q["offset"]))


@documented(
    "Deprecated: send through a GET (old scripts)",
    "legacy",
    (200, MessageEnvelope),
    errors=(400, 404, 409),
    deprecated=True,
    scope="admin",
)
@documents_input(LegacySendQuery, "querystring")
async def legacy_send(request: web.Request) -> web.Response:
    session_id: uuid.UUID = (await parse_query(request, LEGACY_SESSION))["session"]
    await request.app[appkeys.SESSION_COMMANDS].require(session_id)
    q = await parse_query(request, LEGACY_QUERY)
    kind = q["type"]
    value: Any = (
        q["text"]
        if kind == "text"
        else {"url": q["url"], **({"caption": q["caption"]} if "caption" in q else {})}
    )
    body = {"messageId": f"legacy-{uuid.uuid4()}", "to": _jid(q["to"]), "type": kind, kind: value}
    response = await accept_send(request, session_id, body)
    response.set_status(200)  # the legacy route always answered 200
    response.headers["Deprecation"] = "true"
    return response


def setup(app: web.Application) -> None:
    base = "/api/v1/sessions/{id}"
    app.router.add_post(base + "/messages", send_message)
    app.router.add_get(base + "/messages", list_messages, allow_head=False)
    app.router.add_get(base + "/messages/{messageId}", get_message, allow_head=False)
    app.router.add_get(base + "/messages/{messageId}/media", get_media, allow_head=False)
    app.router.add_post(base + "/presence", send_presence)
    app.router.add_post(base + "/presence/subscribe", subscribe_presence)
    app.router.add_get(base + "/calls", list_calls, allow_head=False)
    app.router.add_get("/baileys/send-message", legacy_send, allow_head=False)
