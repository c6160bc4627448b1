"""Short-lived tokens for the event stream, for browsers: EventSource cannot send headers.

A caller with a key asks for a token naming one stream (every session's, or one session's);
the token opens that stream and no other route, for `ttl_s`, for the key's own principal.
Tokens live in Redis (any node of a cluster accepts them) under the SHA-256 of their text,
so a Redis dump does not hold usable tokens. The key itself never appears in a URL.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

import orjson

from zaphubd.queue import keys
from zaphubd.queue.redis import RedisClient, outage_as_unavailable

#: `all`, or a session id: the stream a token opens.
ALL_SESSIONS = "all"
MAX_TOKEN_CHARS = 100


def stream_name(session_id: uuid.UUID | None) -> str:
    return ALL_SESSIONS if session_id is None else str(session_id)


@dataclass(frozen=True, slots=True)
class Grant:
    """Whom a token stands for: the key's session (None: the admin), scopes and key id."""

    session_id: uuid.UUID | None
    scopes: frozenset[str]
    key_id: uuid.UUID | None


class StreamTokens:
    def __init__(self, redis: RedisClient, *, ttl_s: int) -> None:
        self._redis = redis
        self.ttl_s = ttl_s

    async def issue(self, stream: str, grant: Grant) -> str:
        token = secrets.token_urlsafe(32)
        stored = {
            "stream": stream,
            "session": str(grant.session_id) if grant.session_id else None,
            "scopes": sorted(grant.scopes),
            "key": str(grant.key_id) if grant.key_id else None,
        }
        async with outage_as_unavailable():
            await self._redis.set(
                keys.stream_token(_digest(token)), orjson.dumps(stored), ex=self.ttl_s
            )
        return token

    async def redeem(self, token: str, stream: str) -> Grant | None:
        """What a live token for `stream` grants; None for an unknown, expired or other
        stream's token."""
        if not 0 < len(token) <= MAX_TOKEN_CHARS:
            return None
        async with outage_as_unavailable():
            raw = await self._redis.get(keys.stream_token(_digest(token)))
        if raw is None:
            return None
        stored = orjson.loads(raw)
        if stored.get("stream") != stream:
            return None
        return Grant(
            _uuid(stored.get("session")), frozenset(stored["scopes"]), _uuid(stored.get("key"))
        )


def _uuid(text: str | None) -> uuid.UUID | None:
    return uuid.UUID(text) if text else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
