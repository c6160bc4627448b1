"""GET /api/v1/health: are Postgres and Redis answering? No auth, 503 when degraded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import marshmallow as ma
from aiohttp import web

from zaphubd import __version__
from zaphubd.http import appkeys
from zaphubd.http.responses import error_body, json_response, ok
from zaphubd.http.schemas import ErrorSchema, documented
from zaphubd.queue.redis import ping_all

CHECK_TIMEOUT_S = 2.0


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"enum": ["healthy", "degraded"]})
    checks = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True)
    version = ma.fields.String(required=True)
    uptime_s = ma.fields.Float(required=True)
    auth = ma.fields.Boolean(
        required=True, metadata={"description": "false: no ZAPHUB_API_KEY, the API is open"}
    )


class HealthEnvelopeSchema(ma.Schema):
    success = ma.fields.Boolean(required=True)
    data = ma.fields.Nested(HealthSchema, required=True)
    error = ma.fields.Nested(ErrorSchema)


async def _check(probe: Callable[[], Awaitable[Any]]) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await probe()
    except Exception:
        return "unreachable"
    return "ok"


@documented("Liveness and dependency health", "health", (200, HealthEnvelopeSchema), security=[])
async def health(request: web.Request) -> web.Response:
    app = request.app
    postgres, redis = await asyncio.gather(
        _check(app[appkeys.DB].ping), _check(lambda: ping_all(app[appkeys.REDIS]))
    )
    checks = {"postgres": postgres, "redis": redis}
    healthy = all(state == "ok" for state in checks.values())
    data = {
        "status": "healthy" if healthy else "degraded",
        "checks": checks,
        "version": __version__,
        "uptime_s": round(time.monotonic() - app[appkeys.STARTED_AT], 1),
        "auth": app[appkeys.SETTINGS].api_key is not None,
    }
    if healthy:
        return ok(data)
    down = ", ".join(name for name, state in checks.items() if state != "ok")
    body = {**error_body("ServiceUnavailableError", f"unreachable: {down}"), "data": data}
    return json_response(body, 503)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/health", health, allow_head=False)
