"""Where a session's events go: each of its webhooks, and the global one, cached briefly.

Every event asks, so a session's webhooks are cached for `ttl_s` (one second by default). A
change through this daemon invalidates the entry at once (`SessionCommands.on_change`, and the
webhook routes); a change made through another daemon takes effect when the entry expires.
Concurrent misses for one session share a single query. The global webhook comes from the
configuration and is the same for every session.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from zaphubd.db.events import EventRow
from zaphubd.db.webhook_targets import SessionWebhooks, WebhookRow, WebhookTargetRepo
from zaphubd.event_types import matches

MAX_ENTRIES = 10_000
#: The id the global webhook's deliveries carry (it has no row).
GLOBAL_WEBHOOK_ID = uuid.UUID(int=0)


@dataclass(frozen=True, slots=True)
class Target:
    #: The id its deliveries record: None for the session's first webhook (webhook_url),
    #: GLOBAL_WEBHOOK_ID for the global one.
    webhook_id: uuid.UUID | None
    url: str | None
    #: Its own secret, else the daemon's (ZAPHUB_WEBHOOK_SECRET); never printed.
    secret: str | None = field(repr=False)
    #: The filter (exact names and `category.*`); None: every event.
    events: list[str] | None
    enabled: bool = True
    #: Events from before this are not owed to it; None: no bound.
    since: datetime | None = None

    def wants(self, event: EventRow) -> bool:
        """Whether `event` should get a delivery to this webhook."""
        if not self.enabled or self.url is None or not matches(event.event_type, self.events):
            return False
        return self.since is None or event.created_at >= self.since

    def lane(self, session_id: uuid.UUID) -> str:
        """What tells its deliveries apart in a host's lanes: one lane per webhook."""
        return str(self.webhook_id or f"first:{session_id}")


@dataclass(frozen=True, slots=True)
class SessionTargets:
    #: The session's webhook_url (its url may be None).
    first: Target
    others: tuple[Target, ...]
    #: The configured global webhook, if any.
    global_: Target | None

    def all(self) -> list[Target]:
        hooks = [self.first, *self.others]
        return [*hooks, self.global_] if self.global_ is not None else hooks

    def find(self, webhook_id: uuid.UUID | None) -> Target | None:
        """The webhook a delivery names; None when it was deleted (or the global unset)."""
        return next((t for t in self.all() if t.webhook_id == webhook_id), None)


class Targets:
    def __init__(
        self,
        repo: WebhookTargetRepo,
        default_secret: str | None,
        ttl_s: float = 1.0,
        global_: Target | None = None,
    ):
        self._repo = repo
        self._default_secret = default_secret
        self._ttl_s = ttl_s
        self.global_ = global_
        self._entries: dict[uuid.UUID, tuple[float, SessionTargets | None]] = {}
        self._loading: dict[uuid.UUID, asyncio.Task[SessionTargets | None]] = {}
        self._generation = 0

    async def get(self, session_id: uuid.UUID) -> SessionTargets | None:
        """The session's webhooks; None when the session does not exist."""
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
        """Forget the session's entry (its webhooks changed); a load in flight is not kept."""
        self._entries.pop(session_id, None)
        self._loading.pop(session_id, None)
        self._generation += 1

    async def _load(self, session_id: uuid.UUID, generation: int) -> SessionTargets | None:
        try:
            hooks = await self._repo.load(session_id)
        finally:
            if self._loading.get(session_id) is asyncio.current_task():
                del self._loading[session_id]
        targets = self._targets(hooks) if hooks is not None else None
        if generation == self._generation:
            self._store(session_id, targets)
        return targets

    def _targets(self, hooks: SessionWebhooks) -> SessionTargets:
        first = self._target(hooks.first, None)
        others = tuple(self._target(w, w.id) for w in hooks.others)
        return SessionTargets(first, others, self.global_)

    def _target(self, row: WebhookRow, webhook_id: uuid.UUID | None) -> Target:
        return Target(
            webhook_id=webhook_id,
            url=row.url,
            secret=row.secret or self._default_secret,
            events=row.events,
            enabled=row.enabled,
            since=row.active_since,
        )

    def _store(self, session_id: uuid.UUID, targets: SessionTargets | None) -> None:
        now = time.monotonic()
        if len(self._entries) >= MAX_ENTRIES:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
        self._entries[session_id] = (now + self._ttl_s, targets)


def _retrieve(task: asyncio.Task[SessionTargets | None]) -> None:
    # Every waiter may have been cancelled; the task's error is then nobody's to report.
    if not task.cancelled():
        task.exception()
