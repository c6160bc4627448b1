"""Chat endpoints: a session's chats with their last message, one chat's messages in keyset
pages, and archiving / pinning / muting a chat (on WhatsApp, then recorded)."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from aiohttp import web
from aiohttp_apigami import match_info_schema, querystring_schema

from zaphubd import jid
from zaphubd.db.chats import ChatCursor, ChatRepo, ChatRow
from zaphubd.errors import NotFound, ValidationFailed
from zaphubd.http import appkeys
from zaphubd.http.chat_schemas import (
    ChangeChatSchema,
    ChatListEnvelope,
    ChatMessagesEnvelope,
    ChatMessagesQuery,
    ChatPathSchema,
    ChatSettingsEnvelope,
    ListChatsQuery,
)
from zaphubd.http.messages import message_view
from zaphubd.http.parsing import parse_body
from zaphubd.http.responses import ok
from zaphubd.http.schemas import SessionPathSchema, documented, documents_body
from zaphubd.http.session_path import path_session
from zaphubd.sessions.chats import settings_view

CHANGE_SCHEMA = ChangeChatSchema()
TAG = "chats"


def encode_cursor(row: ChatRow) -> str:
    """Opaque to clients: the last chat's place in the list (its last message time, JID)."""
    raw = orjson.dumps([row.last_at.isoformat(), row.chat_jid])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> ChatCursor:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        at, chat = orjson.loads(raw)
        when = datetime.fromisoformat(at)
        if not isinstance(chat, str) or when.tzinfo is None:
            raise ValueError("not a cursor")
        when = when.astimezone(UTC)
    except (binascii.Error, ValueError, TypeError, OverflowError) as err:
        raise ValidationFailed(
            "cursor is not one this API gave", {"cursor": ["not a cursor of this list"]}
        ) from err
    return ChatCursor(when, chat)


def chat_view(row: ChatRow) -> dict[str, Any]:
    return {
        "jid": row.chat_jid,
        "name": row.name,
        "lastMessageAt": row.last_at,
        "lastMessage": message_view(row.last_message),
        **settings_view(row.settings),
    }


def _chat_jid(request: web.Request) -> str:
    """The path's chat as a JID; a path segment never becomes a file name or SQL."""
    try:
        chat = jid.normalize(request["match_info"]["chatId"])
    except jid.InvalidJid as err:
        raise ValidationFailed(f"chatId {err}", {"chatId": [str(err)]}) from None
    if chat == jid.STATUS_BROADCAST:
        raise ValidationFailed("status@broadcast is not a chat", {"chatId": ["not a chat"]})
    return chat


async def _known_chat(request: web.Request, session_id: uuid.UUID) -> str:
    chat = _chat_jid(request)
    if not await request.app[appkeys.CHAT_REPO].exists(session_id, chat):
        raise NotFound(f"chat {chat} not found: this session stored nothing of it")
    return chat


@documented(
    "The session's chats, newest first, with their last message",
    TAG,
    (200, ChatListEnvelope),
    errors=(400, 404),
    scope="read",
)
@querystring_schema(ListChatsQuery)
@match_info_schema(SessionPathSchema)
async def list_chats(request: web.Request) -> web.Response:
    session_id = (await path_session(request)).id
    q = request["querystring"]
    after = decode_cursor(q["cursor"]) if "cursor" in q else None
    rows, more = await request.app[appkeys.CHAT_REPO].list_page(
        session_id, q["limit"], after, q.get("archived")
    )
    pagination = {
        "limit": q["limit"],
        "has_more": more,
        "next_cursor": encode_cursor(rows[-1]) if more else None,
    }
    return ok([chat_view(r) for r in rows], pagination=pagination)


@documented(
    "A chat's stored messages, newest first, paged with before / after",
    TAG,
    (200, ChatMessagesEnvelope),
    errors=(400, 404),
    scope="read",
)
@querystring_schema(ChatMessagesQuery)
@match_info_schema(ChatPathSchema)
async def chat_messages(request: web.Request) -> web.Response:
    session_id = (await path_session(request)).id
    chat = await _known_chat(request, session_id)
    q = request["querystring"]
    repo = request.app[appkeys.CHAT_REPO]
    direction: Literal["before", "after"] = "after" if "after" in q else "before"
    cursor = await _cursor_message(repo, session_id, chat, q.get(direction), direction)
    page = await repo.messages_page(session_id, chat, q["limit"], cursor, direction)
    pagination = {
        "limit": q["limit"],
        "has_more": page.has_more,
        "before": page.rows[-1].id if page.rows else None,
        "after": page.rows[0].id if page.rows else None,
    }
    return ok([message_view(r) for r in page.rows], pagination=pagination)


async def _cursor_message(
    repo: ChatRepo, session_id: uuid.UUID, chat: str, row_id: uuid.UUID | None, name: str
) -> uuid.UUID | None:
    if row_id is not None and await repo.message_in_chat(session_id, chat, row_id) is None:
        raise ValidationFailed(
            f"{name} is not a message of this chat", {name: ["not a message id of this chat"]}
        )
    return row_id


@documented(
    "Archive, pin or mute a chat (on WhatsApp, for every device of the account)",
    TAG,
    (200, ChatSettingsEnvelope),
    errors=(400, 404, 409, 502),
    scope="control",
)
@documents_body(ChangeChatSchema)
@match_info_schema(ChatPathSchema)
async def change_chat(request: web.Request) -> web.Response:
    session = await path_session(request)
    body = await parse_body(request, CHANGE_SCHEMA)
    chat = await _known_chat(request, session.id)
    muted, until = _mute(body)
    settings = await request.app[appkeys.CHATS].change(
        session.id, chat, body.get("archived"), body.get("pinned"), muted, until
    )
    return ok({"jid": chat, **settings_view(settings)})


def _mute(body: dict[str, Any]) -> tuple[bool | None, datetime | None]:
    """(muted, until): `muted` true (until `mutedUntil`, or forever) or false; `mutedUntil`
    alone mutes until then, or unmutes when null. (None, None) leaves the mute alone."""
    muted, until = body.get("muted"), body.get("mutedUntil")
    if muted is None and "mutedUntil" not in body:
        return None, None
    if not (until is not None if muted is None else muted):
        return False, None
    if until is not None and until <= datetime.now(UTC):
        raise ValidationFailed(
            "mutedUntil must be in the future", {"mutedUntil": ["not in the future"]}
        )
    return True, until.astimezone(UTC) if until is not None else None


def setup(app: web.Application) -> None:
    base = "/api/v1/sessions/{id}/chats"
    app.router.add_get(base, list_chats, allow_head=False)
    app.router.add_get(base + "/{chatId}/messages", chat_messages, allow_head=False)
    app.router.add_patch(base + "/{chatId}", change_chat)
