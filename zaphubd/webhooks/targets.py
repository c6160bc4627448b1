"""Where a session's webhooks go: its URL, secret and event filter, cached briefly.

Every event asks, so the answer is cached for `ttl_s` (one second by default). A PATCH or
DELETE through this daemon invalidates the entry at once (`SessionCommands.on_change`); a
change made through another daemon takes effect when the entry expires. Concurrent misses for
one session share a single query.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

from zaphubd.db.sessions import SessionRepo, SessionRow

MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class Target:
    url: str | None
    #: The session's secret, else the daemon's (ZAPHUB_WEBHOOK_SECRET); never printed.
    secret: str | None = field(repr=False)
    #: The `webhookEvents` filter (exact names and `category.*`); None: every event.
    events: list[str] | None


class Targets:
    def __init__(self, repo: SessionRepo, default_secret: str | None, ttl_s: float = 1.0):
        self._repo = repo
        self._default_secret = default_secret
        self._ttl_s = ttl_s
        self._entries: dict[uuid.UUID, tuple[float, Target | None]] = {}
        self._loading: dict[uuid.UUID, asyncio.Task[Target | None]] = {}
        self._generation = 0

    async def get(self, session_id: uuid.UUID) -> Target | None:
        """The session's target; None when the session does not exist."""
        entry = self._entries.get(session_id)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        task = self._loading.get(session_id)
        if task is None:
            load = self._load(session_id, self._generation)
            task = asyncio.create_task(load, name="webhook-target")
            task.add_done_callback(_retrieve)
            self._loading[session_id] = task
        return await asyncio.shield(task)

    def invalidate(self, session_id: uuid.UUID) -> None:
        """Forget the session's entry (its row changed); a load in flight will not be kept."""
        self._entries.pop(session_id, None)
        self._loading.pop(session_id, None)
        self._generation += 1

    async def _load(self, session_id: uuid.UUID, generation: int) -> Target | None:
        try:
            row = await self._repo.get(session_id)
        finally:
            if self._loading.get(session_id) is asyncio.current_task():
                del self._loading[session_id]
        target = self._target(row) if row is not None else None
        if generation == self._generation:
            self._store(session_id, target)
        return target

    def _target(self, row: SessionRow) -> Target:
        events = row.config.get("webhookEvents")
        return Target(
            url=row.webhook_url,
            secret=row.webhook_secret or self._default_secret,
            events=list(events) if isinstance(events, list) else None,
        )

    def _store(self, session_id: uuid.UUID, target: Target | None) -> None:
        now = time.monotonic()
        if len(self._entries) >= MAX_ENTRIES:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
        self._entries[session_id] = (now + self._ttl_s, target)


def _retrieve(task: asyncio.Task[Target | None]) -> None:
    # Every waiter may have been cancelled; the task's error is then nobody's to report.
    if not task.cancelled():
        task.exception()
