"""Messaging endpoints: send, list and get messages, inbound media, presence, calls, legacy send."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from aiohttp import web
from aiohttp_apigami import match_info_schema, querystring_schema, request_schema

from zaphubd.db.message_batches import CANNOT_SEND, NewOutbound
from zaphubd.db.messages import MessageFilter, MessageRow
from zaphubd.db.sessions import SessionRow
from zaphubd.errors import DependencyUnavailable, NotFound, SessionNotReady, ValidationFailed
from zaphubd.http import appkeys
from zaphubd.http.message_schemas import (
    AckEnvelope,
    CallListEnvelope,
    CallsQuery,
    LegacySendQuery,
    ListMessagesQuery,
    MessageEnvelope,
    MessageListEnvelope,
    MessagePathSchema,
    PresenceSchema,
    SendMessageSchema,
    SubscribeSchema,
)
from zaphubd.http.parsing import parse_body
from zaphubd.http.responses import ok, page
from zaphubd.http.schemas import SessionPathSchema, documented, documents_body
from zaphubd.jid import InvalidJid, normalize
from zaphubd.messaging.inbound import public_content
from zaphubd.queue import keys
from zaphubd.transport.base import MediaUnavailable, NotConnected, TransportError
from zaphubd.transport.events import MediaRef

log = logging.getLogger("zaphubd.http.messages")
# marshmallow builds a schema's fields when it is instantiated: once, not per request.
SEND_SCHEMA = SendMessageSchema()
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


def _sid(request: web.Request) -> uuid.UUID:
    value: uuid.UUID = request["match_info"]["id"]
    return value


def _check_can_send(row: SessionRow) -> None:
    if row.status in CANNOT_SEND or row.stopped:
        raise SessionNotReady(
            f"session is {'being deleted' if row.stopped else row.status}; it cannot send "
            "(restart it first)"
        )


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
    """Write the send (row + event, idempotent), then publish its job; 201 new, 200 repeat."""
    app = request.app
    transport = app[appkeys.TRANSPORT]
    new = NewOutbound(
        session_id=session_id,
        message_id=body["messageId"],
        type=body["type"],
        to_jid=body["to"],
        content=stored_content(body),
        metadata=body.get("metadata", {}),
        wa_message_id=transport.new_message_id() if transport.accepts_message_id else None,
    )
    accepted = await app[appkeys.MESSAGE_REPO].enqueue(new)
    if accepted is None:
        return await _not_inserted(request, session_id, new.message_id)
    row, event = accepted
    await app[appkeys.EVENT_SINK].notify(event)
    try:
        await app[appkeys.PUBLISHER].publish(
            keys.MESSAGE_SEND,
            {"id": str(row.id), "session_id": str(session_id)},
            job_id=str(row.id),
        )
    except DependencyUnavailable as err:
        # The row is the outbox: the sweeper publishes it once Redis is back.
        log.warning("message %s queued in the outbox only (%s)", row.id, err)
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


async def _not_inserted(
    request: web.Request, session_id: uuid.UUID, message_id: str
) -> web.Response:
    """Why the accept inserted nothing: no session (404), one that cannot send (409), or a
    messageId used before (200 with that message). The rare path pays the extra reads."""
    existing = await request.app[appkeys.MESSAGE_REPO].by_client_id(session_id, message_id)
    if existing is None:  # the session changed state between the two statements
        raise SessionNotReady("the session cannot send right now; try again")
    return ok(message_view(existing), message="Message already accepted (same messageId)")


@documented(
    "Send a message (queued, idempotent on messageId)",
    TAG,
    (201, MessageEnvelope),
    errors=(400, 404, 409),
)
@documents_body(SendMessageSchema)
@match_info_schema(SessionPathSchema)
async def send_message(request: web.Request) -> web.Response:
    session_id = _sid(request)
    try:
        body = await parse_body(request, SEND_SCHEMA)
        _check_media_size(request, body)
    except ValidationFailed:
        # API.md's order: an unknown session is a 404 even when the body is bad too.
        await request.app[appkeys.SESSION_COMMANDS].require(session_id)
        raise
    return await accept_send(request, session_id, body)


@documented("List messages", TAG, (200, MessageListEnvelope), errors=(400, 404))
@querystring_schema(ListMessagesQuery)
@match_info_schema(SessionPathSchema)
async def list_messages(request: web.Request) -> web.Response:
    session_id = _sid(request)
    await request.app[appkeys.SESSION_COMMANDS].require(session_id)
    q = request["querystring"]
    filt = MessageFilter(session_id, q.get("status"), q.get("direction"), q.get("type"))
    rows, total = await request.app[appkeys.MESSAGE_REPO].list_page(
        filt, q["limit"], q["offset"], q["sortBy"], q["sortOrder"]
    )
    return ok([message_view(r) for r in rows], pagination=page(total, q["limit"], q["offset"]))


async def _message(request: web.Request) -> MessageRow:
    session_id = _sid(request)
    await request.app[appkeys.SESSION_COMMANDS].require(session_id)
    key = request["match_info"]["messageId"]
    row = await request.app[appkeys.MESSAGE_REPO].find(session_id, key)
    if row is None:
        raise NotFound(f"message {key} not found in this session")
    return row


@documented(
    "Get a message by its UUID or its messageId", TAG, (200, MessageEnvelope), errors=(400, 404)
)
@match_info_schema(MessagePathSchema)
async def get_message(request: web.Request) -> web.Response:
    return ok(message_view(await _message(request)))


@documented("Download an inbound message's media", TAG, None, errors=(400, 404, 409))
@match_info_schema(MessagePathSchema)
async def get_media(request: web.Request) -> web.Response:
    row = await _message(request)
    token = row.content.get("_media")
    if not isinstance(token, dict):
        raise NotFound("this message has no media")
    client = request.app[appkeys.SESSIONS].connected_client(row.session_id)
    if client is None:
        raise SessionNotReady("the session must be connected to download media")
    ref = MediaRef(**token)
    try:
        data = await client.download_media(ref, request.app[appkeys.SETTINGS].media_max_bytes)
    except MediaUnavailable as err:
        raise NotFound(f"media unavailable: {err}") from err
    except NotConnected as err:
        raise SessionNotReady("the session must be connected to download media") from err
    headers = {"Content-Disposition": f'attachment; filename="{_safe_name(ref, row)}"'}
    return web.Response(
        body=data, content_type=ref.mime_type or "application/octet-stream", headers=headers
    )


def _safe_name(ref: MediaRef, row: MessageRow) -> str:
    name = ref.file_name or row.message_id
    return "".join(ch for ch in name if ch.isalnum() or ch in "._-")[:120] or "media"


@documented(
    "Send presence now (typing, recording, online...)",
    TAG,
    (200, AckEnvelope),
    errors=(400, 404, 409),
)
@request_schema(PresenceSchema, required=True)
@match_info_schema(SessionPathSchema)
async def send_presence(request: web.Request) -> web.Response:
    session_id = _sid(request)
    body = request["data"]
    target = _jid(body["jid"])
    client = await _connected(request, session_id)
    chat = None if body["type"] in ("available", "unavailable") else target
    try:
        await client.send_presence(body["type"], chat)
    except TransportError as err:
        raise SessionNotReady(f"presence not sent: {err}") from err
    return ok({"jid": target, "type": body["type"]})


@documented("Subscribe to a contact's presence", TAG, (200, AckEnvelope), errors=(400, 404, 409))
@request_schema(SubscribeSchema, required=True)
@match_info_schema(SessionPathSchema)
async def subscribe_presence(request: web.Request) -> web.Response:
    session_id = _sid(request)
    target = _jid(request["data"]["jid"])
    client = await _connected(request, session_id)
    try:
        await client.subscribe_presence(target)
    except TransportError as err:
        raise SessionNotReady(f"not subscribed: {err}") from err
    return ok({"jid": target})


def _jid(value: str) -> str:
    try:
        return normalize(value)
    except InvalidJid as err:
        raise ValidationFailed(f"jid {err}", {"jid": [str(err)]}) from None


async def _connected(request: web.Request, session_id: uuid.UUID) -> Any:
    await request.app[appkeys.SESSION_COMMANDS].require(session_id)
    client = request.app[appkeys.SESSIONS].connected_client(session_id)
    if client is None:
        raise SessionNotReady("the session is not connected")
    return client


@documented("Calls of a session", TAG, (200, CallListEnvelope), errors=(400, 404))
@querystring_schema(CallsQuery)
@match_info_schema(SessionPathSchema)
async def list_calls(request: web.Request) -> web.Response:
    session_id = _sid(request)
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
)
@querystring_schema(LegacySendQuery)
async def legacy_send(request: web.Request) -> web.Response:
    q = request["querystring"]
    session_id: uuid.UUID = q["session"]
    _check_can_send(await request.app[appkeys.SESSION_COMMANDS].require(session_id))
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
