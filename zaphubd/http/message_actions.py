"""Message actions: edit, delete (for everyone or for me), forward, react, mark read.

Edits, revokes, forwards and reactions are sends (see `messaging/actions.py`): queued in the
outbox like `POST /messages`, answered 202 with the new message, whose status moves as any
send's. Marking read sends receipts at once on the live connection. `{messageId}` is the
row's UUID or its messageId (the WhatsApp id of a received message), as for GET.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp_apigami import match_info_schema, response_schema

from zaphubd.db.message_amends import MessageReadMarks
from zaphubd.errors import Conflict, NotFound
from zaphubd.http import appkeys
from zaphubd.http.media_send import forget_stored_media
from zaphubd.http.message_action_schemas import (
    ActionEnvelope,
    DeletedEnvelope,
    DeleteQuery,
    EditSchema,
    ForwardSchema,
    ReactSchema,
    ReadEnvelope,
    ReadSchema,
    UnreactQuery,
)
from zaphubd.http.message_schemas import MessagePathSchema
from zaphubd.http.messages import message_view
from zaphubd.http.parsing import parse_body, parse_query
from zaphubd.http.responses import ok
from zaphubd.http.schemas import (
    SessionPathSchema,
    documented,
    documents_body,
    documents_input,
)
from zaphubd.http.session_path import path_message, path_session
from zaphubd.messaging import actions
from zaphubd.messaging.intake import SendRequest
from zaphubd.sessions.message_reads import ReadBatch

TAG = "message actions"
EDIT, FORWARD, REACT, READ = EditSchema(), ForwardSchema(), ReactSchema(), ReadSchema()
DELETE_QUERY, UNREACT_QUERY = DeleteQuery(), UnreactQuery()
_ERRORS = (400, 404, 409)


async def _queue(request: web.Request, send: SendRequest) -> web.Response:
    accepted = await request.app[appkeys.SEND_INTAKE].accept(send)
    if not accepted.new:
        return ok(message_view(accepted.row), message="Already accepted (same requestId)")
    return ok(message_view(accepted.row), status=202, message="Queued")


@documented(
    "Edit a sent text (queued like a send)",
    TAG,
    (202, ActionEnvelope),
    errors=(*_ERRORS, 403),
    scope="send",
)
@documents_body(EditSchema)
@match_info_schema(MessagePathSchema)
async def edit_message(request: web.Request) -> web.Response:
    row = await path_message(request)
    body = await parse_body(request, EDIT)
    return await _queue(request, actions.edit(row, body["text"], body.get("requestId")))


@documented(
    "Delete a message for everyone (queued like a send), or for me",
    TAG,
    (202, ActionEnvelope),
    errors=(*_ERRORS, 403),
    scope="send",
)
@response_schema(DeletedEnvelope, 200, description="deleted for me")
@documents_input(DeleteQuery, "querystring")
@match_info_schema(MessagePathSchema)
async def delete_message(request: web.Request) -> web.Response:
    row = await path_message(request)
    query = await parse_query(request, DELETE_QUERY)
    if query["for_"] == "everyone":
        return await _queue(request, actions.revoke(row, query.get("requestId")))
    if not await _marks(request).delete(row.id):
        raise Conflict("this message is still being sent; delete it for me once it is sent")
    await forget_stored_media(request, row)
    return ok({"id": row.id, "messageId": row.message_id, "deletedFor": "me"})


@documented(
    "Forward a message to another chat (queued like a send)",
    TAG,
    (202, ActionEnvelope),
    errors=_ERRORS,
    scope="send",
)
@documents_body(ForwardSchema)
@match_info_schema(MessagePathSchema)
async def forward_message(request: web.Request) -> web.Response:
    row = await path_message(request)
    body = await parse_body(request, FORWARD)
    return await _queue(request, actions.forward(row, body["to"], body.get("requestId")))


@documented(
    "React to a message (queued like a send)", TAG, (202, ActionEnvelope), _ERRORS, scope="send"
)
@documents_body(ReactSchema)
@match_info_schema(MessagePathSchema)
async def react(request: web.Request) -> web.Response:
    row = await path_message(request)
    body = await parse_body(request, REACT)
    return await _queue(request, actions.react(row, body["emoji"], body.get("requestId")))


@documented(
    "Take back our reaction to a message (queued like a send)",
    TAG,
    (202, ActionEnvelope),
    _ERRORS,
    scope="send",
)
@documents_input(UnreactQuery, "querystring")
@match_info_schema(MessagePathSchema)
async def unreact(request: web.Request) -> web.Response:
    row = await path_message(request)
    query = await parse_query(request, UNREACT_QUERY)
    return await _queue(request, actions.react(row, "", query.get("requestId")))


@documented(
    "Mark received messages read (the sender sees blue ticks)",
    TAG,
    (200, ReadEnvelope),
    _ERRORS,
    scope="send",
)
@documents_body(ReadSchema)
@match_info_schema(SessionPathSchema)
async def mark_read(request: web.Request) -> web.Response:
    session = await path_session(request)
    keys: list[str] = list(dict.fromkeys((await parse_body(request, READ))["messageIds"]))
    marks = _marks(request)
    found = await marks.received(session.id, keys)
    known = {r.wa_id for r in found} | {str(r.id) for r in found}
    missing = [k for k in keys if k not in known]
    if missing:
        raise NotFound(f"no received message {', '.join(missing[:10])} in this session")
    batches: dict[tuple[str, str], list[str]] = {}
    for r in found:
        batches.setdefault((r.chat, r.sender), []).append(r.wa_id)
    reads = [ReadBatch(chat, sender, tuple(ids)) for (chat, sender), ids in batches.items()]
    await request.app[appkeys.MESSAGE_READS].mark_read(session.id, reads)
    await marks.mark_read([r.id for r in found])
    data: dict[str, Any] = {"read": [r.wa_id for r in found], "chats": len(batches)}
    return ok(data)


def _marks(request: web.Request) -> MessageReadMarks:
    return MessageReadMarks(request.app[appkeys.DB])


def setup(app: web.Application) -> None:
    base = "/api/v1/sessions/{id}/messages"
    app.router.add_post(base + "/read", mark_read)
    app.router.add_patch(base + "/{messageId}", edit_message)
    app.router.add_delete(base + "/{messageId}", delete_message)
    app.router.add_post(base + "/{messageId}/forward", forward_message)
    app.router.add_post(base + "/{messageId}/reaction", react)
    app.router.add_delete(base + "/{messageId}/reaction", unreact)
