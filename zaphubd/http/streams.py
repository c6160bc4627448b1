"""The live event stream: `GET /api/v1/events/stream`, `GET /api/v1/sessions/{id}/events/
stream` (Server-Sent Events, `streams/sse.py`), and `POST /api/v1/events/stream-token` for
browsers, whose EventSource cannot send an Authorization header."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from aiohttp import web
from aiohttp_apigami import match_info_schema, querystring_schema, request_schema

from zaphubd.db.event_feed import BadPosition, Position
from zaphubd.errors import NotFound, ValidationFailed
from zaphubd.event_types import is_valid_pattern
from zaphubd.http import appkeys
from zaphubd.http.auth import STREAM_TOKEN_ATTR, principal
from zaphubd.http.responses import ok
from zaphubd.http.schemas import (
    QuerySchema,
    SessionPathSchema,
    StrictSchema,
    documented,
    envelope,
)
from zaphubd.http.session_path import path_session_id
from zaphubd.streams.hub import StreamFilter
from zaphubd.streams.sse import Pacing, pump
from zaphubd.streams.tokens import Grant, stream_name

TAG = "events"
STREAM_DESCRIPTION = (
    "Server-Sent Events (`text/event-stream`). Each event: `id: <position>` and `data:` the "
    "event as the events list shows it. Resume with the `Last-Event-ID` header (EventSource "
    "sends it by itself) or `?lastEventId=`: nothing is missed or repeated, across daemon "
    "restarts too. Without either, the stream starts with the next event. `: ping` comments "
    "keep the connection alive; a final `event: close` frame says why the daemon ended it "
    "(`slow_reader`, `shutdown`). A browser passes `?token=` from `POST "
    "/api/v1/events/stream-token` instead of a key."
)


class StreamQuery(QuerySchema):
    types = ma.fields.String(
        metadata={"description": "comma-separated event types or `category.*` (default all)"}
    )
    lastEventId = ma.fields.String(
        validate=ma.validate.Length(max=64),
        metadata={"description": "resume after this event id (as Last-Event-ID)"},
    )
    token = ma.fields.String(metadata={"description": "a stream token, instead of a key"})


class StreamTokenRequest(StrictSchema):
    sessionId = ma.fields.UUID(
        allow_none=True,
        metadata={"description": "the session whose stream the token opens (default: all)"},
    )


class StreamTokenSchema(ma.Schema):
    token = ma.fields.String(required=True)
    expiresIn = ma.fields.Integer(required=True, metadata={"description": "seconds"})
    url = ma.fields.String(required=True, metadata={"description": "the stream it opens"})


StreamTokenEnvelope = envelope(StreamTokenSchema, "StreamTokenEnvelope")


def _accepts_stream_token(handler: Any) -> Any:
    setattr(handler, STREAM_TOKEN_ATTR, True)
    return handler


@_accepts_stream_token
@documented(
    "Every event, live (Server-Sent Events)",
    TAG,
    None,
    errors=(400, 429),
    scope="read",
    description=STREAM_DESCRIPTION + " A session key gets its session's events only.",
)
@querystring_schema(StreamQuery)
async def all_events_stream(request: web.Request) -> web.StreamResponse:
    return await _stream(request, principal(request).session_id)


@_accepts_stream_token
@documented(
    "A session's events, live (Server-Sent Events)",
    TAG,
    None,
    errors=(400, 404, 429),
    scope="read",
    description=STREAM_DESCRIPTION,
)
@querystring_schema(StreamQuery)
@match_info_schema(SessionPathSchema)
async def session_events_stream(request: web.Request) -> web.StreamResponse:
    sid = path_session_id(request)
    await request.app[appkeys.SESSION_COMMANDS].require(sid)
    return await _stream(request, sid)


async def _stream(request: web.Request, session_id: uuid.UUID | None) -> web.StreamResponse:
    filt = StreamFilter(session_id, _patterns(request["querystring"].get("types")))
    resume = _resume_position(request)
    app = request.app
    settings, hub = app[appkeys.SETTINGS], app[appkeys.EVENT_HUB]
    key_id = principal(request).key_id
    pacing = Pacing(settings.stream_heartbeat_s, 2 * settings.stream_heartbeat_s)
    with app[appkeys.STREAM_LIMITS].admit(str(key_id or "admin")):
        subscription = await hub.subscribe(filt, settings.stream_buffer_events, key_id)
        app[appkeys.METRICS].event_streams.inc()
        try:
            start = resume if resume is not None else await hub.feed.head()
            resp = web.StreamResponse(headers=_STREAM_HEADERS)
            await resp.prepare(request)
            await pump(resp, subscription, hub.feed, start, pacing, request.transport)
        finally:
            hub.unsubscribe(subscription)
            app[appkeys.METRICS].event_streams.dec()
    return resp


_STREAM_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # nginx would otherwise hold the events back
}


def _patterns(types: str | None) -> list[str] | None:
    if not types:
        return None
    patterns = [t.strip() for t in types.split(",") if t.strip()]
    bad = [p for p in patterns if not is_valid_pattern(p)]
    if bad or len(patterns) > 100:
        raise ValidationFailed(
            "unknown event types in 'types'", {"types": [f"unknown: {', '.join(bad)[:200]}"]}
        )
    return patterns or None


def _resume_position(request: web.Request) -> Position | None:
    text = request.headers.get("Last-Event-ID") or request["querystring"].get("lastEventId")
    if not text:
        return None
    try:
        return Position.parse(text[:64])
    except BadPosition as err:
        raise ValidationFailed("bad Last-Event-ID", {"lastEventId": [str(err)]}) from None


@documented(
    "A short-lived token that opens one event stream (for EventSource)",
    TAG,
    (201, StreamTokenEnvelope),
    errors=(400, 404),
    scope="read",
    description=(
        "The token opens only the stream it names, as `?token=`, for "
        "ZAPHUB_STREAM_TOKEN_TTL_S seconds (a stream opened in time stays open). It stands "
        "for the key that asked for it, with the same scopes."
    ),
)
@request_schema(StreamTokenRequest, required=False)
async def create_stream_token(request: web.Request) -> web.Response:
    caller = principal(request)
    session_id: uuid.UUID | None = (request.get("data") or {}).get("sessionId")
    if session_id is not None:
        if not caller.admin and session_id != caller.session_id:
            raise NotFound(f"session {session_id} not found")
        await request.app[appkeys.SESSION_COMMANDS].require(session_id)
    tokens = request.app[appkeys.STREAM_TOKENS]
    grant = Grant(caller.session_id, caller.scopes, caller.key_id)
    token = await tokens.issue(stream_name(session_id), grant)
    if session_id is None:
        path = "/api/v1/events/stream"
    else:
        path = f"/api/v1/sessions/{session_id}/events/stream"
    return ok(
        {"token": token, "expiresIn": tokens.ttl_s, "url": f"{path}?token={token}"}, status=201
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/events/stream", all_events_stream, allow_head=False)
    app.router.add_post("/api/v1/events/stream-token", create_stream_token)
    app.router.add_get(
        "/api/v1/sessions/{id}/events/stream", session_events_stream, allow_head=False
    )
