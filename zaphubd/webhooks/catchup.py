"""The catch-up: every event of a session with a webhook gets its delivery, even after a crash.

The listener writes an event's delivery just after the statement that recorded the event. A
crash (or a Postgres failure) in between leaves the event without a delivery, and nothing
would emit it again: a redelivered inbound job finds its message stored and stays quiet. So
every `interval_s` the catch-up hands the listener the events that should have a delivery and
have none, up to the newest event id it saw on its previous round (their statements have
long committed), and keeps how far it got in Redis so that a restart resumes there. Handing
an event over twice is harmless: its delivery id is derived from the event id.

It reads each webhook's URL and filter as they are when it runs, and takes only events from
after the webhook was set or enabled again (`sessions.webhook_url_set_at` for the first one,
`webhooks.active_since` for the others). The global webhook has no such moment: after a
restart it may get the missed events of the round before, even from before it was set.
"""

from __future__ import annotations

import logging
import uuid

from zaphubd.db.webhooks import WebhookRepo
from zaphubd.errors import DependencyUnavailable
from zaphubd.queue import keys
from zaphubd.queue.redis import RedisClient, outage_as_unavailable
from zaphubd.queue.sweep import sweep_forever
from zaphubd.webhooks.listener import WebhookListener

log = logging.getLogger("zaphubd.webhooks")
PAGE = 500


class EventCatchUp:
    def __init__(
        self,
        repo: WebhookRepo,
        listener: WebhookListener,
        redis: RedisClient,
        *,
        interval_s: float = 10.0,
        global_hook: tuple[uuid.UUID, list[str] | None] | None = None,
    ) -> None:
        """`global_hook`: the global webhook's id and filter, if there is one."""
        self._repo = repo
        self._listener = listener
        self._redis = redis
        self._interval_s = interval_s
        self._global_hook = global_hook
        self._cursor: int | None = None
        #: The newest event id seen last round: the bound of this round.
        self._bound: int | None = None

    async def run(self) -> None:
        try:  # at once: a process that dies before its first round must leave a cursor
            await self.sweep_once()
        except DependencyUnavailable as err:
            log.warning("webhook catch-up sweep skipped: %s", err)
        await sweep_forever(
            self.sweep_once, interval_s=self._interval_s, what="webhook catch-up", log=log
        )

    async def sweep_once(self) -> int:
        """One round; returns how many events it handed to the listener."""
        newest = await self._repo.last_event_id()
        if self._cursor is None:
            # First start ever: nothing before now is owed. After a restart: resume, up to the
            # events that were there before this process wrote any.
            self._cursor = min(await self._stored_cursor(newest), newest)
            self._bound = newest
        bound, self._bound = self._bound or self._cursor, newest
        handed = 0
        while True:
            events = await self._repo.undelivered_events(
                self._cursor, bound, PAGE, self._global_hook
            )
            for event in events:
                await self._listener(event)
            handed += len(events)
            if len(events) < PAGE:
                break
            self._cursor = events[-1].id
        self._cursor = max(self._cursor, bound)
        await self._store_cursor(self._cursor)
        return handed

    async def _stored_cursor(self, default: int) -> int:
        """The stored cursor; `default` is stored first when there is none."""
        async with outage_as_unavailable():
            await self._redis.set(keys.WEBHOOK_EVENT_CURSOR, default, nx=True)
            raw = await self._redis.get(keys.WEBHOOK_EVENT_CURSOR)
        return int(raw) if raw is not None else default

    async def _store_cursor(self, cursor: int) -> None:
        async with outage_as_unavailable():
            await self._redis.set(keys.WEBHOOK_EVENT_CURSOR, cursor)
