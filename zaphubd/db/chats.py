"""A session's chats (sql/015): the list with each chat's last message, one chat's messages
in keyset pages, and each chat's archive / pin / mute state.

The `chats` rows are kept by triggers on `messages`, so nothing here writes them. Both lists
page by keyset, never by offset: a page is one index range scan (chats_recent_idx,
messages_chat_order_idx), and rows inserted while a client pages do not shift the pages.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from zaphubd.db.database import Database
from zaphubd.db.messages import COLUMNS, MessageRow

#: A chat's key in `messages` and a message's place in its chat (see sql/015).
CHAT_KEY = "COALESCE(chat_jid, to_jid)"
AT = "COALESCE(CASE WHEN send_seq IS NULL THEN wa_timestamp END, created_at)"
ORDER_COLUMNS = f"{AT}, created_at, id"
ORDER_KEY = f"({ORDER_COLUMNS})"
_M_COLUMNS = ", ".join(f"m.{c}" for c in COLUMNS.split(", "))


@dataclass(frozen=True, slots=True)
class ChatSettings:
    archived: bool = False
    pinned: bool = False
    muted: bool = False
    #: While muted: when the mute ends; None is forever.
    muted_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChatRow:
    chat_jid: str
    name: str | None
    last_at: datetime
    last_message: MessageRow
    settings: ChatSettings


@dataclass(frozen=True, slots=True)
class ChatCursor:
    """A position in the chat list: the last chat of a page."""

    last_at: datetime
    chat_jid: str


@dataclass(frozen=True, slots=True)
class MessagePage:
    rows: list[MessageRow]  # newest first
    has_more: bool  # in the direction asked for


def _settings(record: asyncpg.Record) -> ChatSettings:
    if record["s_archived"] is None:
        return ChatSettings()
    muted = bool(record["s_muted"]) and (
        record["s_muted_until"] is None or record["s_muted_until"] > record["now"]
    )
    return ChatSettings(
        archived=record["s_archived"],
        pinned=record["s_pinned"],
        muted=muted,
        muted_until=record["s_muted_until"] if muted else None,
    )


def _chat(record: asyncpg.Record) -> ChatRow:
    return ChatRow(
        chat_jid=record["c_chat_jid"],
        name=record["c_name"],
        last_at=record["c_last_at"],
        last_message=MessageRow.from_record(record),
        settings=_settings(record),
    )


_CHAT_SELECT = f"""
SELECT c.chat_jid AS c_chat_jid, c.name AS c_name, c.last_at AS c_last_at, {_M_COLUMNS},
       s.archived AS s_archived, s.pinned AS s_pinned, s.muted AS s_muted,
       s.muted_until AS s_muted_until, now() AS now
FROM chats c
JOIN messages m ON m.id = c.last_message_id
LEFT JOIN chat_settings s ON s.session_id = c.session_id AND s.chat_jid = c.chat_jid
"""


class ChatRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list_page(
        self,
        session_id: uuid.UUID,
        limit: int,
        after: ChatCursor | None = None,
        archived: bool | None = None,
    ) -> tuple[list[ChatRow], bool]:
        """Chats newest first (by their last message), from after `after`; and whether more
        follow. One backward range scan of chats_recent_idx, `limit + 1` rows (more when the
        archived filter skips some)."""
        clauses: list[str] = ["c.session_id = $1"]
        args: list[Any] = [session_id]
        if after is not None:
            args += [after.last_at, after.chat_jid]
            clauses.append(f"(c.last_at, c.chat_jid) < (${len(args) - 1}, ${len(args)})")
        if archived is not None:
            args.append(archived)
            clauses.append(f"COALESCE(s.archived, false) = ${len(args)}")
        args.append(limit + 1)
        records = await self._db.fetch(
            f"""{_CHAT_SELECT} WHERE {" AND ".join(clauses)}
                ORDER BY c.last_at DESC, c.chat_jid DESC LIMIT ${len(args)}""",
            *args,
        )
        rows = [_chat(r) for r in records]
        return rows[:limit], len(rows) > limit

    async def get(self, session_id: uuid.UUID, chat_jid: str) -> ChatRow | None:
        record = await self._db.fetchrow(
            f"{_CHAT_SELECT} WHERE c.session_id = $1 AND c.chat_jid = $2", session_id, chat_jid
        )
        return _chat(record) if record else None

    async def messages_page(
        self,
        session_id: uuid.UUID,
        chat_jid: str,
        limit: int,
        cursor: uuid.UUID | None = None,
        direction: Literal["before", "after"] = "before",
    ) -> MessagePage:
        """The chat's messages next to `cursor` (the id of a message of the chat), `before`
        it (older) or `after` it (newer); without a cursor, the newest. Newest first either
        way. One range scan of messages_chat_order_idx from the cursor's place."""
        older = direction == "before"
        args: list[Any] = [session_id, chat_jid]
        where = f"session_id = $1 AND {CHAT_KEY} = $2"
        if cursor is not None:
            args.append(cursor)
            where += (
                f" AND {ORDER_KEY} {'<' if older else '>'}"
                f" (SELECT {ORDER_COLUMNS} FROM messages WHERE id = $3)"
            )
        way = "DESC" if older else "ASC"
        args.append(limit + 1)
        records = await self._db.fetch(
            f"""SELECT {COLUMNS} FROM messages WHERE {where}
                ORDER BY {AT} {way}, created_at {way}, id {way}
                LIMIT ${len(args)}""",
            *args,
        )
        rows = [MessageRow.from_record(r) for r in records[:limit]]
        return MessagePage(rows if older else rows[::-1], len(records) > limit)

    async def message_in_chat(
        self, session_id: uuid.UUID, chat_jid: str, row_id: uuid.UUID
    ) -> MessageRow | None:
        record = await self._db.fetchrow(
            f"""SELECT {COLUMNS} FROM messages
                WHERE id = $1 AND session_id = $2 AND {CHAT_KEY} = $3""",
            row_id,
            session_id,
            chat_jid,
        )
        return MessageRow.from_record(record) if record else None

    async def exists(self, session_id: uuid.UUID, chat_jid: str) -> bool:
        """Whether zaphubd knows the chat: it stored messages of it, or its settings."""
        return bool(
            await self._db.fetchval(
                """SELECT EXISTS (SELECT 1 FROM chats WHERE session_id = $1 AND chat_jid = $2)
                   OR EXISTS (SELECT 1 FROM chat_settings
                              WHERE session_id = $1 AND chat_jid = $2)""",
                session_id,
                chat_jid,
            )
        )

    async def settings(self, session_id: uuid.UUID, chat_jid: str) -> ChatSettings:
        record = await self._db.fetchrow(
            """SELECT archived AS s_archived, pinned AS s_pinned, muted AS s_muted,
                      muted_until AS s_muted_until, now() AS now
               FROM chat_settings WHERE session_id = $1 AND chat_jid = $2""",
            session_id,
            chat_jid,
        )
        return _settings(record) if record else ChatSettings()

    async def save_settings(
        self, session_id: uuid.UUID, chat_jid: str, settings: ChatSettings
    ) -> bool:
        """Record the chat's state; True when it changed (an echo of what we set is not)."""
        changed = await self._db.fetchval(
            """INSERT INTO chat_settings AS s
                   (session_id, chat_jid, archived, pinned, muted, muted_until)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (session_id, chat_jid) DO UPDATE SET
                   archived = EXCLUDED.archived, pinned = EXCLUDED.pinned,
                   muted = EXCLUDED.muted, muted_until = EXCLUDED.muted_until,
                   updated_at = now()
               WHERE (s.archived, s.pinned, s.muted, s.muted_until)
                     IS DISTINCT FROM (EXCLUDED.archived, EXCLUDED.pinned,
                                       EXCLUDED.muted, EXCLUDED.muted_until)
               RETURNING true""",
            session_id,
            chat_jid,
            settings.archived,
            settings.pinned,
            settings.muted,
            settings.muted_until if settings.muted else None,
        )
        return bool(changed)
