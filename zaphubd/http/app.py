"""The app factory: middlewares, routes, docs. Resources are attached by the composition root."""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp_apigami import validation_middleware

from zaphubd.http import (
    appkeys,
    chats,
    contacts,
    docs,
    groups,
    health,
    keys,
    message_actions,
    messages,
    nodes,
    prometheus,
    session_webhooks,
    sessions,
    streams,
    ui,
    webhooks,
)
from zaphubd.http.auth import make_auth_middleware
from zaphubd.http.middlewares import error_middleware, make_access_middleware
from zaphubd.metrics import Metrics
from zaphubd.settings import Settings


def create_app(settings: Settings, metrics: Metrics) -> web.Application:
    """Build the aiohttp application; `daemon.py` adds the cleanup contexts it depends on."""
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    app = web.Application(
        client_max_size=settings.http_max_body_bytes,
        middlewares=[
            make_access_middleware(metrics),
            error_middleware,
            make_auth_middleware(api_key),
            validation_middleware,
        ],
    )
    app[appkeys.SETTINGS] = settings
    app[appkeys.METRICS] = metrics
    app[appkeys.STARTED_AT] = time.monotonic()
    health.setup(app)
    prometheus.setup(app)
    sessions.setup(app)
    messages.setup(app)
    message_actions.setup(app)
    groups.setup(app)
    contacts.setup(app)
    chats.setup(app)
    webhooks.setup(app)
    session_webhooks.setup(app)
    nodes.setup(app)
    keys.setup(app)
    streams.setup(app)
    ui.setup(app)
    docs.setup(app)
    return app
