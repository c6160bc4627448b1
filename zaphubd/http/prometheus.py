"""GET /metrics: the Prometheus text format (needs the API key when one is set)."""

from __future__ import annotations

import contextlib

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from zaphubd.errors import DependencyUnavailable
from zaphubd.http import appkeys
from zaphubd.queue import keys, queue_counts


async def metrics(request: web.Request) -> web.Response:
    app = request.app
    registry = app[appkeys.METRICS]
    # Queue depths are read at scrape time; a Redis outage leaves the last values.
    with contextlib.suppress(DependencyUnavailable):
        counts = await queue_counts(app[appkeys.REDIS], keys.ALL_QUEUES)
        for queue, count in counts.items():
            for state in ("waiting", "in_flight", "delayed", "dead"):
                registry.queue_depth.labels(queue, state).set(getattr(count, state))
    # The send backlog lives in Postgres; an outage leaves the last values too.
    with contextlib.suppress(DependencyUnavailable):
        await app[appkeys.SEND_BACKLOG].export(registry)
    body = generate_latest(registry.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics, allow_head=False)
