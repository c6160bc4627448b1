"""The routes of a session's webhooks: `/api/v1/sessions/{id}/webhooks[/{webhookId}]`.

The session's webhook_url is listed first, under a stable id; the others follow in the order
they were added. The path's session is looked up before the body is judged (404 first).
Reading takes the `webhooks` scope; adding, changing and deleting take `control`, as setting
webhook_url does: a new webhook receives every event of the session, message contents too.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from aiohttp_apigami import match_info_schema

from zaphubd.db.webhook_targets import WebhookRow
from zaphubd.http import appkeys
from zaphubd.http.responses import ok
from zaphubd.http.schemas import SessionPathSchema, documented, documents_body
from zaphubd.http.session_path import path_session, session_and_body
from zaphubd.http.session_webhook_schemas import (
    CreateWebhookSchema,
    DeletedWebhookEnvelope,
    PatchWebhookSchema,
    WebhookEnvelope,
    WebhookListEnvelope,
    WebhookPathSchema,
)

TAG = "webhooks"
CREATE_SCHEMA, PATCH_SCHEMA = CreateWebhookSchema(), PatchWebhookSchema()


def webhook_view(row: WebhookRow) -> dict[str, Any]:
    """A webhook as the API shows it: whether it has a secret, never the secret."""
    return {
        "id": row.id,
        "url": row.url,
        "has_secret": row.secret is not None,
        "events": row.events,
        "enabled": row.enabled,
        "first": row.first,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _webhook_id(request: web.Request) -> uuid.UUID:
    value: uuid.UUID = request["match_info"]["webhookId"]
    return value


@documented(
    "The session's webhooks (its webhook_url first)",
    TAG,
    (200, WebhookListEnvelope),
    errors=(400, 404),
    scope="webhooks",
)
@match_info_schema(SessionPathSchema)
async def list_webhooks(request: web.Request) -> web.Response:
    row = await path_session(request)
    hooks = await request.app[appkeys.SESSION_WEBHOOKS].list(row.id)
    return ok([webhook_view(w) for w in hooks])


@documented(
    "Add a webhook to the session",
    TAG,
    (201, WebhookEnvelope),
    errors=(400, 404, 409),
    scope="control",
)
@documents_body(CreateWebhookSchema)
@match_info_schema(SessionPathSchema)
async def add_webhook(request: web.Request) -> web.Response:
    row, body = await session_and_body(request, CREATE_SCHEMA)
    hook = await request.app[appkeys.SESSION_WEBHOOKS].add(row.id, body)
    return ok(webhook_view(hook), status=201, message="Webhook added")


@documented("One webhook", TAG, (200, WebhookEnvelope), errors=(400, 404), scope="webhooks")
@match_info_schema(WebhookPathSchema)
async def get_webhook(request: web.Request) -> web.Response:
    row = await path_session(request)
    hook = await request.app[appkeys.SESSION_WEBHOOKS].get(row.id, _webhook_id(request))
    return ok(webhook_view(hook))


@documented(
    "Change a webhook's URL, secret, filter or enabled flag",
    TAG,
    (200, WebhookEnvelope),
    errors=(400, 404),
    scope="control",
)
@documents_body(PatchWebhookSchema)
@match_info_schema(WebhookPathSchema)
async def patch_webhook(request: web.Request) -> web.Response:
    row, body = await session_and_body(request, PATCH_SCHEMA)
    commands = request.app[appkeys.SESSION_WEBHOOKS]
    hook = await commands.change(row.id, _webhook_id(request), body)
    return ok(webhook_view(hook), message="Webhook updated")


@documented(
    "Delete a webhook (its delivery history stays)",
    TAG,
    (200, DeletedWebhookEnvelope),
    errors=(400, 404),
    scope="control",
)
@match_info_schema(WebhookPathSchema)
async def delete_webhook(request: web.Request) -> web.Response:
    row = await path_session(request)
    webhook_id = _webhook_id(request)
    await request.app[appkeys.SESSION_WEBHOOKS].remove(row.id, webhook_id)
    return ok({"id": webhook_id, "deleted": True}, message="Webhook deleted")


def setup(app: web.Application) -> None:
    base = "/api/v1/sessions/{id}/webhooks"
    app.router.add_get(base, list_webhooks, allow_head=False)
    app.router.add_post(base, add_webhook)
    app.router.add_get(base + "/{webhookId}", get_webhook, allow_head=False)
    app.router.add_patch(base + "/{webhookId}", patch_webhook)
    app.router.add_delete(base + "/{webhookId}", delete_webhook)
