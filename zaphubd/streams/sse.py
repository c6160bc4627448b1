"""One event stream, written as Server-Sent Events: catch up from the table, then follow.

Frames: `id: <position>` and `data: <event as the events API shows it>` for each event (the
default `message` type, so `EventSource.onmessage` sees them), a `: ping` comment every
heartbeat, and a last `event: close` frame saying why the daemon ended the stream (a slow
reader, a shutdown, a revoked key, Postgres unavailable). After a close the client reconnects with
`Last-Event-ID` and misses nothing: what it did not get is read from the events table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass

from aiohttp import web

from zaphubd import jsonutil
from zaphubd.db.database import OUTAGE_ERRORS as PG_OUTAGES
from zaphubd.db.event_feed import EventFeed, FeedEvent, Position
from zaphubd.errors import DependencyUnavailable
from zaphubd.streams.hub import PAGE, Subscription

log = logging.getLogger("zaphubd.streams")
RETRY_MS = 3000
#: Table reads in a row, with nothing taken live in between, before a client is told it
#: reads too slowly.
MAX_CATCH_UPS = 3
SLOW_READER = "slow_reader"
UNAVAILABLE = "unavailable"
_UNAVAILABLE: tuple[type[BaseException], ...] = (DependencyUnavailable, *PG_OUTAGES)


@dataclass(frozen=True, slots=True)
class Pacing:
    heartbeat_s: float
    write_timeout_s: float


class ReaderTooSlow(Exception):
    """The client stopped taking what the stream writes."""


async def pump(
    resp: web.StreamResponse,
    subscription: Subscription,
    feed: EventFeed,
    start: Position,
    pacing: Pacing,
    transport: asyncio.Transport | None,
) -> None:
    """Write the stream until the client leaves or the daemon ends it.

    Events are read from the table until the stream is level with it, then taken live from
    the subscription. When the subscription overflows (a burst larger than its buffer), the
    stream reads the table again from where it is. A client that stays behind for
    MAX_CATCH_UPS rounds in a row gets `slow_reader`; one that stops reading altogether
    (a write blocked for `write_timeout_s`) is disconnected."""
    writer = _Writer(resp, pacing.write_timeout_s)
    cursor, behind = start, 0
    try:
        await writer.send(f"retry: {RETRY_MS}\n\n".encode())
        while True:
            subscription.restart()
            cursor = await _read_table(writer, subscription, feed, cursor)
            cursor, live_batches = await _follow(writer, subscription, cursor, pacing.heartbeat_s)
            if subscription.ended is not None:
                await writer.close_frame(*subscription.ended)
                return
            behind = 0 if live_batches else behind + 1
            if behind >= MAX_CATCH_UPS:
                await writer.close_frame(SLOW_READER, "this client reads slower than events come")
                return
    except ReaderTooSlow:
        log.info("event stream: a client stopped reading; disconnected")
        if transport is not None:
            transport.abort()  # the blocked write, its buffer and the connection go at once
    except ConnectionResetError:
        return  # the client left: the normal end of a stream
    except _UNAVAILABLE as err:
        log.warning("event stream ended: Postgres unavailable (%s)", err)
        with contextlib.suppress(ConnectionResetError, ReaderTooSlow):
            await writer.close_frame(UNAVAILABLE, "Postgres is unavailable; reconnect later")


async def _read_table(
    writer: _Writer, subscription: Subscription, feed: EventFeed, cursor: Position
) -> Position:
    """Everything after `cursor` that the table holds now, a page at a time."""
    session_id: uuid.UUID | None = subscription.filter.session_id
    while True:
        events = await feed.after(cursor, PAGE, session_id)
        for event in events:
            if subscription.filter.accepts(event):
                await writer.event(event)
            cursor = event.position
        if len(events) < PAGE:
            return cursor


async def _follow(
    writer: _Writer, subscription: Subscription, cursor: Position, heartbeat_s: float
) -> tuple[Position, int]:
    """Live events until the subscription overflows or ends; and how many batches went."""
    batches = 0
    while not subscription.overflowed and subscription.ended is None:
        events = await subscription.take(heartbeat_s, cursor)
        if not events:
            if not subscription.overflowed and subscription.ended is None:
                await writer.send(b": ping\n\n")
            continue
        for event in events:
            await writer.event(event)
            cursor = event.position
        batches += 1
    return cursor, batches


class _Writer:
    def __init__(self, resp: web.StreamResponse, timeout_s: float) -> None:
        self._resp = resp
        self._timeout_s = timeout_s

    async def send(self, frame: bytes) -> None:
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._resp.write(frame)
        except TimeoutError:
            raise ReaderTooSlow from None

    async def event(self, event: FeedEvent) -> None:
        data = jsonutil.dumps(event.row.view())
        await self.send(b"id: %s\ndata: %s\n\n" % (str(event.position).encode(), data))

    async def close_frame(self, reason: str, detail: str) -> None:
        data = jsonutil.dumps({"reason": reason, "message": detail})
        await self.send(b"event: close\ndata: %s\n\n" % data)
