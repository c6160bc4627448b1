"""Edits and revokes applied to the stored original message (the messages table).

An edit replaces the original's text, keeping the text it replaces in `metadata.previous`
and the time in `metadata.editedAt`; a revoke empties its content (deleted for everyone,
zaphubd's copy too) and sets `metadata.revoked`, `revokedAt` and `revokedBy`. Both are
idempotent: a redelivered edit or revoke changes nothing and still names the original.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from zaphubd.db.database import Database


@dataclass(frozen=True, slots=True)
class Original:
    """The stored message an edit or revoke acts on: its row, its messageId, and for an
    edit the text it had before."""

    id: uuid.UUID
    message_id: str
    previous: str | None = None


# The original: by WhatsApp id in the session, the expected direction first (our own
# messages are outbound, a contact's inbound; an admin may revoke either).
_TARGET = """SELECT id, message_id, type, content->>'text' AS text FROM messages
             WHERE session_id = $1 AND wa_message_id = $2 AND type NOT IN ('edit', 'revoke')
             ORDER BY (direction = $3) DESC, created_at LIMIT 1"""

_EDIT = """UPDATE messages SET content = content || jsonb_build_object('text', $2::text),
               metadata = metadata || jsonb_build_object(
                   'editedAt', $3::timestamptz, 'previous', content->>'text'),
               updated_at = now()
           WHERE id = $1 AND content->>'text' IS DISTINCT FROM $2
             AND NOT metadata ? 'revoked'"""

_REVOKE = """UPDATE messages SET content = '{}'::jsonb,
                 metadata = metadata || jsonb_build_object(
                     'revoked', true, 'revokedAt', $2::timestamptz, 'revokedBy', $3::text),
                 updated_at = now()
             WHERE id = $1 AND NOT metadata ? 'revoked'"""


class MessageAmends:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def edited(
        self, session_id: uuid.UUID, wa_id: str, text: str, at: datetime, *, ours: bool
    ) -> Original | None:
        """Give the original (a text) its new `text`; None when it is not stored."""
        record = await self._db.fetchrow(_TARGET, session_id, wa_id, _direction(ours))
        if record is None or record["type"] != "text":
            return None
        await self._db.execute(_EDIT, record["id"], text, at)
        previous = record["text"] if record["text"] != text else None
        return Original(record["id"], record["message_id"], previous)

    async def revoked(
        self, session_id: uuid.UUID, wa_id: str, at: datetime, by: str, *, ours: bool
    ) -> Original | None:
        """Mark the original deleted for everyone; None when it is not stored."""
        record = await self._db.fetchrow(_TARGET, session_id, wa_id, _direction(ours))
        if record is None:
            return None
        await self._db.execute(_REVOKE, record["id"], at, by)
        return Original(record["id"], record["message_id"])


def _direction(ours: bool) -> str:
    return "outbound" if ours else "inbound"


@dataclass(frozen=True, slots=True)
class Received:
    """A received message, as a read receipt needs it."""

    id: uuid.UUID
    wa_id: str
    chat: str
    sender: str


_RECEIVED = """SELECT DISTINCT ON (wa_message_id) id, wa_message_id, chat_jid, to_jid, from_jid
               FROM messages WHERE session_id = $1 AND direction = 'inbound'
                 AND (wa_message_id = ANY($2::text[]) OR id::text = ANY($2::text[]))
               ORDER BY wa_message_id, created_at"""


class MessageReadMarks:
    """The received side of read receipts and of "delete for me"."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def received(self, session_id: uuid.UUID, keys: list[str]) -> list[Received]:
        """The received messages named by WhatsApp id or row UUID (others are left out)."""
        records = await self._db.fetch(_RECEIVED, session_id, keys)
        return [
            Received(r["id"], r["wa_message_id"], r["chat_jid"] or r["to_jid"], r["from_jid"])
            for r in records
            if r["from_jid"]
        ]

    async def mark_read(self, row_ids: list[uuid.UUID]) -> None:
        """We read them: received messages move from `delivered` to `read`."""
        await self._db.execute(
            """UPDATE messages SET status = 'read', read_at = COALESCE(read_at, now()),
                   updated_at = now()
               WHERE id = ANY($1::uuid[]) AND direction = 'inbound' AND status = 'delivered'""",
            row_ids,
        )

    async def delete(self, row_id: uuid.UUID) -> bool:
        """Delete zaphubd's copy of a message (not a send still on its way)."""
        status = await self._db.execute(
            """DELETE FROM messages WHERE id = $1
               AND NOT (direction = 'outbound' AND status IN ('queued', 'processing', 'failed'))""",
            row_id,
        )
        return str(status).endswith(" 1")
