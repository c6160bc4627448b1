"""A session's webhooks: its first one on the sessions row, the others in `webhooks`.

The first webhook is the session's `webhook_url`, `webhook_secret`, `config.webhookEvents`
and `webhook_enabled`: those columns are its only record (the session API reads and writes
them as before). Its id is derived from the session's (`first_webhook_id`), so it is stable
and needs no row. Every other webhook is a row of `webhooks`.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from zaphubd.db.database import Database
from zaphubd.errors import NotFound

#: The webhook fields a change may set.
FIELDS = frozenset({"url", "secret", "events", "enabled"})
#: The first webhook's columns on the sessions row (`events` is config.webhookEvents).
_FIRST_COLUMNS = {"url": "webhook_url", "secret": "webhook_secret", "enabled": "webhook_enabled"}
_ROW_COLUMNS = "id, session_id, url, secret, events, enabled, active_since, created_at, updated_at"


def first_webhook_id(session_id: uuid.UUID) -> uuid.UUID:
    """The id under which the session's first webhook (its webhook_url) is listed."""
    digest = hashlib.md5(f"zaphub-first-webhook:{session_id}".encode(), usedforsecurity=False)
    return uuid.UUID(digest.hexdigest())


@dataclass(frozen=True, slots=True)
class WebhookRow:
    id: uuid.UUID
    session_id: uuid.UUID
    #: None only for a first webhook whose session has no webhook_url.
    url: str | None
    secret: str | None = field(repr=False)
    #: None: every event.
    events: list[str] | None
    enabled: bool
    #: Events before this are not owed to it (for the first webhook: webhook_url_set_at).
    active_since: datetime
    created_at: datetime
    updated_at: datetime
    #: The session's own webhook_url.
    first: bool = False

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> WebhookRow:
        events = record["events"]
        return cls(
            id=record["id"],
            session_id=record["session_id"],
            url=record["url"],
            secret=record["secret"],
            events=list(events) if isinstance(events, list) else None,
            enabled=record["enabled"],
            active_since=record["active_since"],
            created_at=record["created_at"],
            updated_at=record["updated_at"],
            first=record["first"],
        )


@dataclass(frozen=True, slots=True)
class SessionWebhooks:
    """Every webhook of one session: the first (maybe without a URL), then the others."""

    first: WebhookRow
    others: tuple[WebhookRow, ...]

    def listed(self) -> list[WebhookRow]:
        """What GET /sessions/:id/webhooks shows: the first only when it has a URL."""
        return ([self.first] if self.first.url is not None else []) + list(self.others)


_FIRST_SELECT = """id AS session_id, webhook_url AS url, webhook_secret AS secret,
       config->'webhookEvents' AS events, webhook_enabled AS enabled,
       webhook_url_set_at AS active_since, webhook_url_set_at AS created_at,
       webhook_url_set_at AS updated_at, TRUE AS first"""


def _first(record: asyncpg.Record) -> WebhookRow:
    return WebhookRow.from_record({**dict(record), "id": first_webhook_id(record["session_id"])})


class WebhookTargetRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def load(self, session_id: uuid.UUID) -> SessionWebhooks | None:
        """The session's webhooks; None when the session does not exist. A session whose
        deletion is pending still has them: its deliveries go on until the row is gone, as
        before (the routes answer 404 for it first)."""
        first = await self._db.fetchrow(
            f"SELECT {_FIRST_SELECT} FROM sessions WHERE id=$1", session_id
        )
        if first is None:
            return None
        others = await self._db.fetch(
            f"""SELECT {_ROW_COLUMNS}, FALSE AS first FROM webhooks
                WHERE session_id=$1 ORDER BY created_at, id""",
            session_id,
        )
        return SessionWebhooks(_first(first), tuple(WebhookRow.from_record(r) for r in others))

    async def add(
        self, session_id: uuid.UUID, values: dict[str, Any], cap: int
    ) -> WebhookRow | None:
        """Add a webhook unless the session has `cap` in `webhooks` already (None then).

        The session row is locked first, so two concurrent adds cannot both take the last
        place; a session that does not exist (deleted meanwhile) raises NotFound.
        """
        async with self._db.transaction() as conn:
            if await conn.fetchval("SELECT 1 FROM sessions WHERE id=$1 FOR UPDATE", session_id):
                count = await conn.fetchval(
                    "SELECT count(*) FROM webhooks WHERE session_id=$1", session_id
                )
                if count >= cap:
                    return None
                record = await conn.fetchrow(
                    f"""INSERT INTO webhooks (id, session_id, url, secret, events, enabled)
                        VALUES ($1, $2, $3, $4, $5, $6)
                        RETURNING {_ROW_COLUMNS}, FALSE AS first""",
                    uuid.uuid4(),
                    session_id,
                    values["url"],
                    values.get("secret"),
                    values.get("events"),
                    values.get("enabled", True),
                )
                return WebhookRow.from_record(record)
        raise NotFound(f"session {session_id} not found")

    async def change(
        self, session_id: uuid.UUID, webhook_id: uuid.UUID, values: dict[str, Any]
    ) -> WebhookRow | None:
        """Set the given fields of a webhook; None when it does not exist."""
        unknown = set(values) - FIELDS
        if unknown:
            raise ValueError(f"not writable: {sorted(unknown)}")
        if webhook_id == first_webhook_id(session_id):
            return await self._change_first(session_id, values)
        sets, args = _assignments(values, dict.fromkeys(FIELDS, ""), start=3)
        args_at = {name: i for i, name in enumerate(values, start=3)}
        renewed = [f"url IS DISTINCT FROM ${args_at['url']}"] if "url" in values else []
        if "enabled" in values:
            renewed.append(f"(${args_at['enabled']} AND NOT enabled)")
        if renewed:
            sets.append(
                f"active_since = CASE WHEN {' OR '.join(renewed)} THEN now() ELSE active_since END"
            )
        record = await self._db.fetchrow(
            f"""UPDATE webhooks SET {", ".join(sets)}, updated_at=now()
                WHERE id=$1 AND session_id=$2 RETURNING {_ROW_COLUMNS}, FALSE AS first""",
            webhook_id,
            session_id,
            *args,
        )
        return WebhookRow.from_record(record) if record else None

    async def remove(self, session_id: uuid.UUID, webhook_id: uuid.UUID) -> bool:
        """Delete a webhook (the first: clear the session's webhook_url, secret and filter)."""
        if webhook_id == first_webhook_id(session_id):
            status = await self._db.execute(
                """UPDATE sessions SET webhook_url=NULL, webhook_secret=NULL,
                       webhook_enabled=TRUE, config = config - 'webhookEvents', updated_at=now()
                   WHERE id=$1 AND NOT stopped AND webhook_url IS NOT NULL""",
                session_id,
            )
            return status == "UPDATE 1"
        status = await self._db.execute(
            "DELETE FROM webhooks WHERE id=$1 AND session_id=$2", webhook_id, session_id
        )
        return status == "DELETE 1"

    async def _change_first(
        self, session_id: uuid.UUID, values: dict[str, Any]
    ) -> WebhookRow | None:
        columns = {k: v for k, v in values.items() if k != "events"}
        sets, args = _assignments(columns, _FIRST_COLUMNS, start=2)
        if "events" in values:
            args.append(values["events"])
            n = len(args) + 1
            sets.append(
                f"config = CASE WHEN ${n}::jsonb IS NULL THEN config - 'webhookEvents' "
                f"ELSE config || jsonb_build_object('webhookEvents', ${n}::jsonb) END"
            )
        if "enabled" in values:
            # Enabled again: what happened while it was off is not owed (the catch-up's bound).
            n = 2 + list(columns).index("enabled")
            sets.append(
                f"webhook_url_set_at = CASE WHEN ${n} AND NOT webhook_enabled THEN now() "
                "ELSE webhook_url_set_at END"
            )
        record = await self._db.fetchrow(
            f"""UPDATE sessions SET {", ".join(sets)}, updated_at=now()
                WHERE id=$1 AND NOT stopped AND webhook_url IS NOT NULL
                RETURNING {_FIRST_SELECT}""",
            session_id,
            *args,
        )
        return _first(record) if record else None


def _assignments(
    values: dict[str, Any], columns: dict[str, str], start: int
) -> tuple[list[str], list[Any]]:
    """`column=$n` for each value, numbered from `start`, and the arguments in order."""
    sets = [f"{columns[name] or name}=${i}" for i, name in enumerate(values, start=start)]
    return sets, list(values.values())
