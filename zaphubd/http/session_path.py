"""Routes under `/sessions/{id}`: the path's session first, then the body.

The API's order of checks: an unknown or deleted session is a 404 whatever the body holds, so
these routes look the session up before they judge the body (which the validation
middleware would otherwise do first).
"""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from aiohttp import web

from zaphubd.db.messages import MessageRow
from zaphubd.db.sessions import SessionRow
from zaphubd.errors import NotFound
from zaphubd.http import appkeys
from zaphubd.http.parsing import parse_body


def path_session_id(request: web.Request) -> uuid.UUID:
    """The `{id}` of the path, already validated as a UUID by `SessionPathSchema`."""
    value: uuid.UUID = request["match_info"]["id"]
    return value


async def path_session(request: web.Request) -> SessionRow:
    """The path's session, or 404 (unknown, or its deletion was accepted)."""
    return await request.app[appkeys.SESSION_COMMANDS].require(path_session_id(request))


async def path_message(request: web.Request) -> MessageRow:
    """The path's session (404), then its `{messageId}`: zaphubd's id or WhatsApp's (404)."""
    session_id = path_session_id(request)
    await request.app[appkeys.SESSION_COMMANDS].require(session_id)
    key = request["match_info"]["messageId"]
    row = await request.app[appkeys.MESSAGE_REPO].find(session_id, key)
    if row is None:
        raise NotFound(f"message {key} not found in this session")
    return row


async def session_and_body(
    request: web.Request, schema: ma.Schema
) -> tuple[SessionRow, dict[str, Any]]:
    """The path's session (404 first), then the JSON body validated by `schema` (400)."""
    row = await path_session(request)
    return row, await parse_body(request, schema)
