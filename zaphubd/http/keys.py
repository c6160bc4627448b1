"""Session API keys: `POST/GET /api/v1/keys`, `DELETE /api/v1/keys/{keyId}` (admin only).

A key is shown once, in the answer that creates it; afterwards only its first characters
(`prefix`) tell it apart. Revoking is immediate in Postgres and takes at most
`auth.CACHE_TTL_S` on every node.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from aiohttp import web
from aiohttp_apigami import match_info_schema, querystring_schema, request_schema

from zaphubd.db.api_keys import SCOPES, ApiKey, ApiKeyRepo
from zaphubd.errors import Conflict, NotFound
from zaphubd.http import appkeys
from zaphubd.http.responses import ok
from zaphubd.http.schemas import QuerySchema, StrictSchema, documented, envelope

TAG = "keys"


class CreateKeySchema(StrictSchema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 100))
    session_id = ma.fields.UUID(required=True, metadata={"description": "the key's session"})
    scopes = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(SCOPES)),
        required=True,
        validate=ma.validate.Length(min=1, max=len(SCOPES)),
        metadata={"description": "any of " + ", ".join(SCOPES)},
    )


class KeysQuery(QuerySchema):
    session_id = ma.fields.UUID(metadata={"description": "only this session's keys"})


class KeyPathSchema(ma.Schema):
    keyId = ma.fields.UUID(required=True)


class KeyViewSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    name = ma.fields.String(required=True)
    session_id = ma.fields.UUID(required=True)
    scopes = ma.fields.List(ma.fields.String(), required=True)
    prefix = ma.fields.String(required=True, metadata={"description": "the key's start"})
    created_at = ma.fields.DateTime(required=True)
    revoked_at = ma.fields.DateTime(allow_none=True)


class NewKeyViewSchema(KeyViewSchema):
    key = ma.fields.String(required=True, metadata={"description": "shown this once only"})


KeyEnvelope = envelope(KeyViewSchema, "Key")
NewKeyEnvelope = envelope(NewKeyViewSchema, "NewKey")
KeyListEnvelope = envelope(ma.fields.List(ma.fields.Nested(KeyViewSchema)), "KeyList")


def key_view(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "session_id": key.session_id,
        "scopes": list(key.scopes),
        "prefix": key.prefix,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    }


def _repo(request: web.Request) -> ApiKeyRepo:
    return ApiKeyRepo(request.app[appkeys.DB])


@documented(
    "Create a session key (the key is in this answer only)",
    TAG,
    (201, NewKeyEnvelope),
    errors=(400, 404, 409),
    scope="admin",
)
@request_schema(CreateKeySchema, required=True)
async def create_key(request: web.Request) -> web.Response:
    if request.app[appkeys.SETTINGS].api_key is None:
        raise Conflict("session keys need ZAPHUB_API_KEY: with no admin key, auth is off")
    body = request["data"]
    await request.app[appkeys.SESSION_COMMANDS].require(body["session_id"])
    scopes = tuple(s for s in SCOPES if s in body["scopes"])  # in a fixed order, once each
    created = await _repo(request).create(body["name"], body["session_id"], scopes)
    if created is None:
        raise NotFound(f"session {body['session_id']} not found")
    key, secret = created
    return ok({**key_view(key), "key": secret}, status=201)


@documented("List the session keys", TAG, (200, KeyListEnvelope), errors=(400,), scope="admin")
@querystring_schema(KeysQuery)
async def list_keys(request: web.Request) -> web.Response:
    keys = await _repo(request).listing(request["querystring"].get("session_id"))
    return ok([key_view(k) for k in keys])


@documented("Revoke a session key", TAG, (200, KeyEnvelope), errors=(400, 404), scope="admin")
@match_info_schema(KeyPathSchema)
async def revoke_key(request: web.Request) -> web.Response:
    key_id = request["match_info"]["keyId"]
    key = await _repo(request).revoke(key_id)
    if key is None:
        raise NotFound(f"key {key_id} not found")
    return ok(key_view(key))


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/keys", create_key)
    app.router.add_get("/api/v1/keys", list_keys, allow_head=False)
    app.router.add_delete("/api/v1/keys/{keyId}", revoke_key)
