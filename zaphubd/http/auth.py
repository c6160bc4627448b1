"""Who calls, and what they may do: the admin key, or a session key (one session, scopes).

Every route declares what it needs (`documented(..., scope=...)`): one of a session key's
scopes (`read`, `send`, `control`, `webhooks`), `admin` (the admin key only) or `any` (any
valid key). A session key used on another session's routes gets the 404 an unknown session
gets, so it never learns which sessions exist. With no ZAPHUB_API_KEY, auth is off and every
caller is the admin.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from zaphubd.db.api_keys import ApiKey, ApiKeyRepo, key_hash
from zaphubd.errors import Forbidden, NotFound, Unauthorized
from zaphubd.http import appkeys
from zaphubd.streams.tokens import stream_name

Scope = Literal["read", "send", "control", "webhooks", "admin", "any"]
ADMIN: Scope = "admin"
ANY_KEY: Scope = "any"
SCOPE_ATTR = "zaphub_scope"
PRINCIPAL = web.RequestKey("principal", object)
PUBLIC_PREFIXES = ("/api/docs", "/ui")
PUBLIC_PATHS = frozenset({"/api/v1/health"})
#: A revoked key stops working on every node within this time.
CACHE_TTL_S = 2.0
CACHE_SIZE = 1024


#: Set on the stream routes, the only ones a stream token (`streams/tokens.py`) opens.
STREAM_TOKEN_ATTR = "zaphub_stream_token"  # noqa: S105 - an attribute name


@dataclass(frozen=True, slots=True)
class Principal:
    session_id: uuid.UUID | None  # None: the admin
    scopes: frozenset[str]
    key_id: uuid.UUID | None = None  # the session key's; None for the admin

    @property
    def admin(self) -> bool:
        return self.session_id is None


ADMIN_PRINCIPAL = Principal(None, frozenset())


def principal(request: web.Request) -> Principal:
    found = request.get(PRINCIPAL)
    return found if isinstance(found, Principal) else ADMIN_PRINCIPAL


def route_scope(handler: object) -> Scope:
    """What the route needs; a route that declares nothing is the admin's."""
    scope: Scope = getattr(handler, SCOPE_ATTR, ADMIN)
    return scope


class KeyCache:
    """Recently seen keys (found or not), by hash: at most CACHE_SIZE, each for CACHE_TTL_S."""

    def __init__(self) -> None:
        self._entries: OrderedDict[bytes, tuple[float, ApiKey | None]] = OrderedDict()

    async def find(self, repo: ApiKeyRepo, key: str) -> ApiKey | None:
        digest = key_hash(key)
        now = time.monotonic()
        entry = self._entries.get(digest)
        if entry is not None and entry[0] > now:
            return entry[1]
        found = await repo.find(key)
        self._entries[digest] = (now + CACHE_TTL_S, found)
        self._entries.move_to_end(digest)
        while len(self._entries) > CACHE_SIZE:
            self._entries.popitem(last=False)
        return found


def make_auth_middleware(api_key: str | None) -> Middleware:
    """Bearer token or `?api_key=`; the admin key compared in constant time, session keys
    found by their hash. Health and docs are public."""
    expected = hashlib.sha256(api_key.encode()).digest() if api_key else None
    cache = KeyCache()

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if expected is None or _is_public(request.path):
            return await handler(request)
        presented = _presented_key(request)
        if presented is None and "token" in request.query:
            return await _with_stream_token(request, handler, request.query["token"])
        if presented is None:
            raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
        if hmac.compare_digest(hashlib.sha256(presented.encode()).digest(), expected):
            return await handler(request)
        key = await cache.find(ApiKeyRepo(request.app[appkeys.DB]), presented)
        if key is None:
            raise Unauthorized("invalid API key")
        caller = Principal(key.session_id, frozenset(key.scopes), key.id)
        _authorize(request, caller)
        request[PRINCIPAL] = caller
        return await handler(request)

    return auth


async def _with_stream_token(
    request: web.Request, handler: Handler, token: str
) -> web.StreamResponse:
    """A stream route opened with `?token=`: the principal the token was issued to, and only
    on the stream it names."""
    match = request.match_info
    if match.http_exception is not None or not getattr(match.handler, STREAM_TOKEN_ATTR, False):
        raise Unauthorized("a stream token opens the event stream it was issued for, nothing else")
    stream = stream_name(_as_uuid(match["id"]) if "id" in match else None)
    grant = await request.app[appkeys.STREAM_TOKENS].redeem(token, stream)
    if grant is None:
        raise Unauthorized("invalid or expired stream token: ask for a new one")
    caller = Principal(grant.session_id, grant.scopes, grant.key_id)
    if not caller.admin:
        _authorize(request, caller)
    request[PRINCIPAL] = caller
    return await handler(request)


def _authorize(request: web.Request, caller: Principal) -> None:
    match = request.match_info
    if match.http_exception is not None:
        return  # no such route or method: its own 404 or 405
    scope = route_scope(match.handler)
    if scope == ADMIN:
        raise Forbidden("this route needs the admin key")
    path_id = match.get("id")
    if path_id is not None and _as_uuid(path_id) != caller.session_id:
        raise NotFound(f"session {path_id} not found")
    if scope != ANY_KEY and scope not in caller.scopes:
        raise Forbidden(f"this key lacks the '{scope}' scope")


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _is_public(path: str) -> bool:
    if "/../" in path or path.endswith("/..") or "//" in path:
        return False  # never let a path trick borrow the docs' exemption
    return path in PUBLIC_PATHS or any(
        path == prefix or path.startswith(prefix + "/") for prefix in PUBLIC_PREFIXES
    )


def _presented_key(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.query.get("api_key") or None
