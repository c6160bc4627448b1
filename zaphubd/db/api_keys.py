"""Session API keys (sql/009): created with a session and scopes, found by the key's hash."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from zaphubd.db.database import Database

#: What a session key may do on its session; the admin key may do everything.
SCOPES = ("read", "send", "control", "webhooks")
KEY_PREFIX = "zk_"
_COLUMNS = "id, name, session_id, scopes, prefix, created_at, revoked_at"


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: uuid.UUID
    name: str
    session_id: uuid.UUID
    scopes: tuple[str, ...]
    prefix: str  # the key's first characters, to tell keys apart in a list
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def from_record(cls, r: asyncpg.Record) -> ApiKey:
        return cls(
            r["id"],
            r["name"],
            r["session_id"],
            tuple(r["scopes"]),
            r["prefix"],
            r["created_at"],
            r["revoked_at"],
        )


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class ApiKeyRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self, name: str, session_id: uuid.UUID, scopes: tuple[str, ...]
    ) -> tuple[ApiKey, str] | None:
        """The new key's row and the key itself (never stored); None if no such session."""
        key = new_key()
        record = await self._db.fetchrow(
            f"""INSERT INTO api_keys (id, name, session_id, scopes, key_hash, prefix)
                SELECT $1, $2, $3, $4, $5, $6
                WHERE EXISTS (SELECT 1 FROM sessions WHERE id = $3)
                RETURNING {_COLUMNS}""",
            uuid.uuid4(),
            name,
            session_id,
            list(scopes),
            key_hash(key),
            key[: len(KEY_PREFIX) + 6],
        )
        return (ApiKey.from_record(record), key) if record else None

    async def find(self, key: str) -> ApiKey | None:
        """The live key presented (not revoked), or None."""
        record = await self._db.fetchrow(
            f"SELECT {_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
            key_hash(key),
        )
        return ApiKey.from_record(record) if record else None

    async def live_of(self, key_ids: set[uuid.UUID]) -> set[uuid.UUID]:
        """Those of these keys that exist and are not revoked (open streams ask)."""
        records = await self._db.fetch(
            "SELECT id FROM api_keys WHERE id = ANY($1::uuid[]) AND revoked_at IS NULL",
            list(key_ids),
        )
        return {r["id"] for r in records}

    async def listing(self, session_id: uuid.UUID | None) -> list[ApiKey]:
        records = await self._db.fetch(
            f"""SELECT {_COLUMNS} FROM api_keys
                WHERE $1::uuid IS NULL OR session_id = $1 ORDER BY created_at, id""",
            session_id,
        )
        return [ApiKey.from_record(r) for r in records]

    async def revoke(self, key_id: uuid.UUID) -> ApiKey | None:
        record = await self._db.fetchrow(
            f"""UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1
                RETURNING {_COLUMNS}""",
            key_id,
        )
        return ApiKey.from_record(record) if record else None
