"""The session endpoints of API.md: CRUD, QR, status, restart, pairing, stats, events."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp_apigami import match_info_schema, querystring_schema, request_schema

from zaphubd import proxies
from zaphubd.db import activity
from zaphubd.db.events import EventFilter
from zaphubd.db.outbox import Backlog
from zaphubd.db.sessions import SessionRow
from zaphubd.errors import NotFound, QrExpired
from zaphubd.http import appkeys
from zaphubd.http.auth import principal
from zaphubd.http.qr import render
from zaphubd.http.responses import ok, page
from zaphubd.http.schemas import SessionPathSchema, documented, documents_body
from zaphubd.http.session_path import path_session, path_session_id, session_and_body
from zaphubd.http.session_schemas import (
    CreateSessionSchema,
    DeleteQuery,
    EventListEnvelope,
    EventsQuery,
    ListSessionsQuery,
    PairEnvelope,
    PairSchema,
    PatchSessionSchema,
    QrEnvelope,
    QrQuery,
    ScheduledEnvelope,
    SessionEnvelope,
    SessionListEnvelope,
    SessionStatsEnvelope,
    StatsEnvelope,
    StatusEnvelope,
)
from zaphubd.messaging.backlog import SendBacklog, age_s
from zaphubd.queue import keys, queue_counts

TAG = "sessions"
# marshmallow builds a schema's fields when it is instantiated: once, not per request.
PATCH_SCHEMA = PatchSessionSchema()
PAIR_SCHEMA = PairSchema()
_BY_DB_STATUS = {
    "connected": "connected",
    "initializing": "connecting",
    "qr_pending": "connecting",
    "reconnecting": "connecting",
}


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a session runs right now: its runtime status, and the node holding its lease."""

    runtime: str
    node: str | None


async def _placements(app: web.Application, rows: list[SessionRow]) -> dict[uuid.UUID, Placement]:
    """Runtime status per session: ours if it runs here, else inferred from who holds it."""
    manager, leases = app[appkeys.SESSIONS], app[appkeys.LEASES]
    remote = [r for r in rows if manager.runtime_status(r.id) is None]
    holders = await leases.holders(r.id for r in remote) if remote else {}
    placements: dict[uuid.UUID, Placement] = {}
    for row in rows:
        local = manager.runtime_status(row.id)
        holder = holders.get(row.id)
        if local is not None:
            placements[row.id] = Placement(local, leases.node_id)
        elif holder:
            placements[row.id] = Placement(_BY_DB_STATUS.get(row.status, "disconnected"), holder)
        else:
            placements[row.id] = Placement("disconnected", None)
    return placements


def _shown_config(config: dict[str, Any]) -> dict[str, Any]:
    """The config as the API shows it: a proxy's password masked."""
    if config.get("proxy"):
        return {**config, "proxy": proxies.masked(config["proxy"])}
    return config


def session_view(
    row: SessionRow, placed: Placement, include_qr: bool = False, sends: Backlog | None = None
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": row.id,
        "label": row.label,
        "status": row.status,
        "webhook_url": row.webhook_url,
        "has_webhook_secret": row.webhook_secret is not None,
        "config": _shown_config(row.config),
        "phone_number": row.phone_number,
        "push_name": row.push_name,
        "last_qr_at": row.last_qr_at,
        "retry_count": row.retry_count,
        "error_message": row.error_message,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "last_seen": row.last_seen,
        "connected_at": row.connected_at,
        "disconnected_at": row.disconnected_at,
        "resume_after": row.resume_after,
        "runtime_status": placed.runtime,
        "is_connected": placed.runtime == "connected",
        "node_id": placed.node,
    }
    if include_qr:
        view["qr_code"] = row.qr_code
    if sends is not None:
        view["sends"] = {
            "queued": sends.queued,
            "in_flight": sends.in_flight,
            "retrying": sends.retrying,
        }
    return view


async def _views(
    request: web.Request, rows: list[SessionRow], include_qr: bool = False
) -> list[dict[str, Any]]:
    """The rows as the API shows them, with where each runs and its pending sends."""
    placements = await _placements(request.app, rows)
    sends = await request.app[appkeys.SEND_BACKLOG].counts([row.id for row in rows])
    return [session_view(r, placements[r.id], include_qr, sends[r.id]) for r in rows]


async def _one(request: web.Request, row: SessionRow, include_qr: bool = False) -> dict[str, Any]:
    return (await _views(request, [row], include_qr))[0]


@documented("Create a session", TAG, (201, SessionEnvelope), errors=(400, 429), scope="admin")
@request_schema(CreateSessionSchema, required=True)
async def create_session(request: web.Request) -> web.Response:
    body = request["data"]
    row = await request.app[appkeys.SESSION_COMMANDS].create(
        body["label"], body.get("webhook_url"), body.get("webhook_secret"), body["config"]
    )
    return ok(
        session_view(row, Placement("connecting", None)),
        status=201,
        message="Session created successfully. Initialization in progress.",
    )


@documented("List sessions", TAG, (200, SessionListEnvelope), errors=(400,), scope="read")
@querystring_schema(ListSessionsQuery)
async def list_sessions(request: web.Request) -> web.Response:
    q = request["querystring"]
    rows, total = await request.app[appkeys.SESSION_REPO].list_page(
        q.get("status"),
        q["limit"],
        q["offset"],
        q["sortBy"],
        q["sortOrder"],
        only=principal(request).session_id,  # a session key sees its own session only
    )
    return ok(await _views(request, rows), pagination=page(total, q["limit"], q["offset"]))


@documented(
    "Get a session (with its current QR code)",
    TAG,
    (200, SessionEnvelope),
    errors=(400, 404),
    scope="read",
)
@match_info_schema(SessionPathSchema)
async def get_session(request: web.Request) -> web.Response:
    row = await path_session(request)
    return ok(await _one(request, row, include_qr=True))


@documented(
    "Update label, webhook or config",
    TAG,
    (200, SessionEnvelope),
    errors=(400, 404),
    scope="control",
)
@documents_body(PatchSessionSchema)
@match_info_schema(SessionPathSchema)
async def patch_session(request: web.Request) -> web.Response:
    current, body = await session_and_body(request, PATCH_SCHEMA)
    row = await request.app[appkeys.SESSION_COMMANDS].update(current.id, body)
    return ok(await _one(request, row), message="Session updated")


@documented(
    "Delete a session (logs the device out)",
    TAG,
    (200, ScheduledEnvelope),
    errors=(400, 404),
    scope="control",
)
@querystring_schema(DeleteQuery)
@match_info_schema(SessionPathSchema)
async def delete_session(request: web.Request) -> web.Response:
    sid = path_session_id(request)
    force = request["querystring"]["force"]
    await request.app[appkeys.SESSION_COMMANDS].delete(sid, force=force)
    return ok({"id": sid, "status": "deleting"}, message="Session deletion in progress")


@documented("The current QR code", TAG, (200, QrEnvelope), errors=(400, 404, 410), scope="control")
@querystring_schema(QrQuery)
@match_info_schema(SessionPathSchema)
async def get_qr(request: web.Request) -> web.StreamResponse:
    row = await path_session(request)
    if row.qr_code is None or row.last_qr_at is None or row.qr_expires_at is None:
        raise NotFound("no QR code: the session is connected or has not started yet")
    if datetime.now(UTC) > row.qr_expires_at:
        raise QrExpired("the QR code expired; a new one is generated while the session waits")
    fmt = request["querystring"]["format"]
    rendered = render(row.qr_code, fmt)
    if isinstance(rendered, bytes):
        return web.Response(body=rendered, content_type="image/png")
    data = {
        "qr_code": rendered,
        "format": fmt,
        "generated_at": row.last_qr_at,
        "expires_at": row.qr_expires_at,
    }
    return ok(data)


@documented(
    "Stored and runtime status", TAG, (200, StatusEnvelope), errors=(400, 404), scope="read"
)
@match_info_schema(SessionPathSchema)
async def get_status(request: web.Request) -> web.Response:
    row = await path_session(request)
    placed = (await _placements(request.app, [row]))[row.id]
    return ok(
        {
            "id": row.id,
            "label": row.label,
            "db_status": row.status,
            "runtime_status": placed.runtime,
            "is_connected": placed.runtime == "connected",
            "node_id": placed.node,
            "phone_number": row.phone_number,
            "last_seen": row.last_seen,
            "connected_at": row.connected_at,
            "disconnected_at": row.disconnected_at,
            "resume_after": row.resume_after,
            "error_message": row.error_message,
            "retry_count": row.retry_count,
            "has_qr_code": row.qr_code is not None,
            "qr_expires_at": row.qr_expires_at,
        }
    )


@documented(
    "Restart: new QR cycle, credentials cleared",
    TAG,
    (200, ScheduledEnvelope),
    errors=(400, 404),
    scope="control",
)
@match_info_schema(SessionPathSchema)
async def restart_session(request: web.Request) -> web.Response:
    return await _schedule_restart(request, keep_credentials=False)


@documented(
    "Reconnect: same credentials, no new QR",
    TAG,
    (200, ScheduledEnvelope),
    errors=(400, 404),
    scope="control",
)
@match_info_schema(SessionPathSchema)
async def reconnect_session(request: web.Request) -> web.Response:
    return await _schedule_restart(request, keep_credentials=True)


async def _schedule_restart(request: web.Request, *, keep_credentials: bool) -> web.Response:
    sid = path_session_id(request)
    await request.app[appkeys.SESSION_COMMANDS].restart(sid, keep_credentials=keep_credentials)
    what = "reconnect" if keep_credentials else "restart"
    return ok({"id": sid, "status": "initializing"}, message=f"Session {what} in progress")


@documented(
    "Log in with a pairing code instead of a QR",
    TAG,
    (200, PairEnvelope),
    errors=(400, 404, 409),
    scope="control",
)
@documents_body(PairSchema)
@match_info_schema(SessionPathSchema)
async def pair_session(request: web.Request) -> web.Response:
    row, body = await session_and_body(request, PAIR_SCHEMA)
    code = await request.app[appkeys.SESSION_ACTIONS].pair(row.id, body["phone"].lstrip("+"))
    return ok({"pairing_code": code})


@documented(
    "Capacity, sessions by status and queue depths", TAG, (200, StatsEnvelope), scope="admin"
)
async def stats(request: web.Request) -> web.Response:
    app = request.app
    repo = app[appkeys.SESSION_REPO]
    maximum = await app[appkeys.NODES].capacity()  # every live node's, together
    active = await repo.count_active()
    counts = await queue_counts(app[appkeys.REDIS], keys.ALL_QUEUES)
    return ok(
        {
            "capacity": {
                "active": active,
                "max": maximum,
                "available": max(0, maximum - active),
                "usage_percent": round(100 * active / maximum, 1) if maximum else 100.0,
            },
            "sessions_by_status": await repo.count_by_status(),
            "queues": {
                name: {"pending": c.pending, "in_flight": c.in_flight, "dlq": c.dead}
                for name, c in counts.items()
            },
            "sends": _sends_view(await app[appkeys.SEND_BACKLOG].totals()),
        }
    )


def _sends_view(backlog: Backlog | SendBacklog) -> dict[str, Any]:
    return {**asdict(backlog), "oldest_queued_age_s": age_s(backlog.oldest_queued_at)}


@documented(
    "One session's send queue: queued, in flight, retrying, held back by pacing, oldest age",
    TAG,
    (200, SessionStatsEnvelope),
    errors=(400, 404),
    scope="read",
)
@match_info_schema(SessionPathSchema)
async def session_stats(request: web.Request) -> web.Response:
    row = await path_session(request)
    sends = await request.app[appkeys.SEND_BACKLOG].of(row)
    inbound = await activity.last_hour(request.app[appkeys.DB], row.id)
    return ok(
        {
            "id": row.id,
            "status": row.status,
            "sends": _sends_view(sends),
            "last_hour": asdict(inbound),
        }
    )


@documented(
    "A session's events, newest first",
    TAG,
    (200, EventListEnvelope),
    errors=(400, 404),
    scope="read",
)
@querystring_schema(EventsQuery)
@match_info_schema(SessionPathSchema)
async def list_events(request: web.Request) -> web.Response:
    sid = path_session_id(request)
    await request.app[appkeys.SESSION_COMMANDS].require(sid)
    q = request["querystring"]
    filt = EventFilter(sid, q.get("type"), q.get("event_type"), q.get("from_"), q.get("to"))
    rows, total = await request.app[appkeys.EVENT_REPO].list_page(filt, q["limit"], q["offset"])
    data = [r.view() for r in rows]
    return ok(data, pagination=page(total, q["limit"], q["offset"]))


async def stats_other_methods(request: web.Request) -> web.Response:
    raise web.HTTPMethodNotAllowed(request.method, ["GET"])


def setup(app: web.Application) -> None:
    base = "/api/v1/sessions"
    app.router.add_get(f"{base}/stats", stats, allow_head=False)
    # Without this, other methods on /stats would fall through to /{id} and answer 400.
    app.router.add_route("*", f"{base}/stats", stats_other_methods)
    app.router.add_post(base, create_session)
    app.router.add_get(base, list_sessions, allow_head=False)
    app.router.add_get(base + "/{id}", get_session, allow_head=False)
    app.router.add_patch(base + "/{id}", patch_session)
    app.router.add_delete(base + "/{id}", delete_session)
    app.router.add_get(base + "/{id}/qr", get_qr, allow_head=False)
    app.router.add_get(base + "/{id}/status", get_status, allow_head=False)
    app.router.add_post(base + "/{id}/restart", restart_session)
    app.router.add_post(base + "/{id}/reconnect", reconnect_session)
    app.router.add_post(base + "/{id}/pair", pair_session)
    app.router.add_get(base + "/{id}/events", list_events, allow_head=False)
    app.router.add_get(base + "/{id}/stats", session_stats, allow_head=False)
