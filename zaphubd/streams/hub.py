"""One reader of the events table per process, fanned out to every open stream.

The hub follows the table in commit-safe order (`db/event_feed.py`) while at least one
stream is open: at once when this process writes an event (`poke`), and every `poll_s` for
the events the other nodes write. Each stream gets a `Subscription` holding at most
`capacity` events; one that fills up is marked overflowed instead of growing, and its stream
decides (read the table again while catching up, or close a slow reader).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from dataclasses import dataclass

from zaphubd.db.event_feed import EventFeed, FeedEvent, Position
from zaphubd.event_types import matches

log = logging.getLogger("zaphubd.streams")
PAGE = 500


@dataclass(frozen=True, slots=True)
class StreamFilter:
    session_id: uuid.UUID | None  # None: every session, and the events of none
    patterns: list[str] | None  # exact names and `category.*`; None: every type

    def accepts(self, event: FeedEvent) -> bool:
        row = event.row
        if self.session_id is not None and row.session_id != self.session_id:
            return False
        return matches(row.event_type, self.patterns)


class Subscription:
    def __init__(self, filt: StreamFilter, capacity: int, key_id: uuid.UUID | None) -> None:
        self.filter = filt
        self.key_id = key_id  # the session key that opened it; None: the admin
        self.overflowed = False
        #: Why the daemon ends the stream: (reason, message), e.g. shutting down.
        self.ended: tuple[str, str] | None = None
        self._capacity = capacity
        self._items: deque[FeedEvent] = deque()
        self._ready = asyncio.Event()

    def offer(self, event: FeedEvent) -> None:
        if self.overflowed or not self.filter.accepts(event):
            return
        if len(self._items) >= self._capacity:
            self.overflowed = True  # what it held is dropped: the table still has it
            self._items.clear()
        else:
            self._items.append(event)
        self._ready.set()

    def end(self, reason: str, message: str) -> None:
        if self.ended is None:
            self.ended = (reason, message)
        self._ready.set()

    def restart(self) -> None:
        """Forget an overflow: the stream reads what it missed from the table again."""
        self.overflowed = False
        self._items.clear()

    async def take(self, timeout_s: float, after: Position) -> list[FeedEvent]:
        """What arrived (nothing after `timeout_s`), without what is at or before `after`."""
        if not self._items and not self.overflowed and self.ended is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await self._ready.wait()
        self._ready.clear()
        taken = [e for e in self._items if e.position > after]
        self._items.clear()
        return taken


class EventHub:
    def __init__(self, feed: EventFeed, *, poll_s: float) -> None:
        self._feed = feed
        self._poll_s = poll_s
        self._subscriptions: set[Subscription] = set()
        self._cursor = Position(0, 0)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()

    @property
    def open_streams(self) -> int:
        return len(self._subscriptions)

    @property
    def feed(self) -> EventFeed:
        return self._feed

    async def subscribe(
        self, filt: StreamFilter, capacity: int, key_id: uuid.UUID | None = None
    ) -> Subscription:
        """A subscription fed from the hub's current position on: every event written
        after this call returns reaches it (or marks it overflowed)."""
        subscription = Subscription(filt, capacity, key_id)
        async with self._starting:
            if self._task is None or self._task.done():
                self._cursor = await self._feed.head()
                self._task = asyncio.create_task(self._follow(), name="event-hub")
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def poke(self) -> None:
        """An event was written here: read the table now rather than at the next poll."""
        self._wake.set()

    def session_keys(self) -> set[uuid.UUID]:
        """The session keys that hold open streams."""
        return {s.key_id for s in self._subscriptions if s.key_id is not None}

    def end_streams_of(self, key_ids: set[uuid.UUID]) -> None:
        """End the streams these (revoked) keys opened."""
        for subscription in self._subscriptions:
            if subscription.key_id in key_ids:
                subscription.end("revoked", "the key of this stream was revoked")

    def end_all(self) -> None:
        """Tell every open stream to end: the daemon is shutting down."""
        for subscription in self._subscriptions:
            subscription.end("shutdown", "the daemon is shutting down")

    async def close(self) -> None:
        self.end_all()
        self._subscriptions.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self) -> None:
        failing = False
        while self._subscriptions:
            try:
                read = await self._read_page()
            except Exception as err:  # Postgres away: the streams wait, nothing is skipped
                # Said once per outage, not at every poll while it lasts.
                level = logging.DEBUG if failing else logging.WARNING
                log.log(level, "event stream: reading the events table failed: %s", err)
                failing, read = True, 0
            else:
                if failing:
                    log.info("event stream: reading the events table again")
                failing = False
            if read < PAGE:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll_s):
                        await self._wake.wait()
                self._wake.clear()

    async def _read_page(self) -> int:
        events = await self._feed.after(self._cursor, PAGE)
        for event in events:
            for subscription in tuple(self._subscriptions):
                subscription.offer(event)
            self._cursor = event.position
        return len(events)
