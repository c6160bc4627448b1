"""The client end of one device WebSocket, used by the simnet transport.

Three tasks per connection: a writer that batches outgoing frames, a reader that matches
answers to pending requests as soon as they arrive (so many sends can be in flight and a slow
event handler never delays an ack), and a dispatcher that hands every other frame to the
handler one at a time, in order, and acknowledges queued events only after the handler
returned: an event the daemon did not get to handle is delivered again on the next connect.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import aiohttp

from zaphubd.simnet.protocol import Frame, FrameWriter, ProtocolError, decode_batch
from zaphubd.transport.events import DisconnectReason

log = logging.getLogger("zaphubd.transport.simnet")

CLOSE_TIMEOUT_S = 5.0
DEAD_CLOSE_S = 0.1
_SERVER_REASONS: dict[Any, DisconnectReason] = {
    "qr_timeout": "qr_timeout",
    "replaced": "replaced",
    "banned": "banned",
}


class Lost(Exception):
    """The connection ended while a request waited for its answer."""


class Rejected(Exception):
    """The server refused a request; `code` is stable, `message` is for people."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message", "refused"))
        self.code = str(error.get("code", ""))
        self.message = str(error.get("message", "refused"))
        self.permanent = bool(error.get("permanent", True))


@dataclass(eq=False)
class _End:
    reason: DisconnectReason


FrameHandler = Callable[["Connection", Frame], Awaitable[None]]
EndHandler = Callable[["Connection", DisconnectReason], Awaitable[None]]
#: Told False when a keep-alive goes unanswered, True when one is answered again.
KeepAliveHandler = Callable[[bool], Awaitable[None]]


class Connection:
    """One open WebSocket to simnet. `by_us` and `logged_out` tell the end handler why it
    ended, so that only an end nobody asked for is reported as a disconnect."""

    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        name: str,
        on_frame: FrameHandler,
        on_end: EndHandler,
        keepalive: tuple[float, KeepAliveHandler] | None = None,
    ) -> None:
        self.ws = ws
        self.by_us = False
        self.logged_out = False
        self.detail = ""  # what the server said about why it closed, when it said anything
        self.retry_after_s: float | None = None  # how long it said not to come back
        self._on_frame = on_frame
        self._on_end = on_end
        self._writer = FrameWriter(ws.send_bytes, name=name + "-writer")
        self._queue: asyncio.Queue[Frame | _End] = asyncio.Queue()
        self._futures: dict[int, asyncio.Future[Frame]] = {}
        self._acks: list[int] = []
        self._rids = itertools.count(1)
        self._reason: DisconnectReason | None = None
        self._ended = False
        self.unanswered = False  # the last keep-alive got no answer
        self._reader = asyncio.create_task(self._read(), name=name + "-reader")
        self._dispatcher = asyncio.create_task(self._dispatch(), name=name + "-events")
        self._pinger = (
            asyncio.create_task(self._keepalive(*keepalive), name=name + "-keepalive")
            if keepalive
            else None
        )

    @property
    def open(self) -> bool:
        return not self.ws.closed

    def push(self, frame: Frame) -> None:
        self._writer.push(frame)

    async def request(self, frame: Frame, timeout_s: float) -> Frame:
        """Send a request and wait for its answer: Rejected, Lost or TimeoutError otherwise."""
        if self._ended:  # nobody is left to answer: fail now, not at the timeout
            raise Lost("connection lost")
        rid = next(self._rids)
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._futures[rid] = future
        self._writer.push({**frame, "r": rid})
        try:
            async with asyncio.timeout(timeout_s):
                return await future
        finally:
            self._futures.pop(rid, None)

    async def close(self) -> None:
        """Close the socket and stop the tasks; events not handled yet are not acked. A
        socket whose last keep-alive went unanswered gets no time to flush or shake hands."""
        wait_s = DEAD_CLOSE_S if self.unanswered else CLOSE_TIMEOUT_S
        with suppress(TimeoutError, ConnectionError):
            await self._writer.flush(wait_s)
        with suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(wait_s):
                await self.ws.close()
        for task in (self._reader, self._dispatcher, self._pinger):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
        await self._writer.close()

    async def _keepalive(self, interval_s: float, report: KeepAliveHandler) -> None:
        """A ping every `interval_s`, answered within half of it, as whatsmeow does: an
        unanswered one is reported and the socket left open (the session decides)."""
        answered = True
        while not self._ended:
            await asyncio.sleep(interval_s)
            try:
                await self.request({"op": "ping"}, interval_s / 2)
                ok = True
            except TimeoutError:
                ok = False
            except (Lost, Rejected):
                return
            self.unanswered = not ok
            if not (ok and answered):  # every miss, and the first answer after misses
                await report(ok)
            answered = ok

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                    self._route(msg.data)
        finally:
            self._ended = True
            for future in self._futures.values():
                if not future.done():
                    future.set_exception(Lost("connection lost"))
            self._queue.put_nowait(_End(self._reason or self._close_reason()))
            await self._writer.close()

    def _route(self, data: bytes | str) -> None:
        try:
            frames = decode_batch(data)
        except ProtocolError as err:
            log.warning("simnet sent a bad frame: %s", err)
            return
        for frame in frames:
            if frame["op"] == "result":
                self._answer(frame)
            elif frame["op"] == "closing":
                self._reason = _SERVER_REASONS.get(frame.get("reason"), "connect_failure")
                self.detail = _closing_detail(frame)
                expire = frame.get("expire_s")
                self.retry_after_s = float(expire) if isinstance(expire, int | float) else None
            else:
                self._queue.put_nowait(frame)

    def _answer(self, frame: Frame) -> None:
        future = self._futures.get(frame.get("r", -1))
        if future is None or future.done():
            return
        if frame.get("ok"):
            future.set_result(frame.get("data") or {})
        else:
            future.set_exception(Rejected(frame.get("error") or {}))

    async def _dispatch(self) -> None:
        while True:
            item = await self._queue.get()
            if isinstance(item, _End):
                await self._on_end(self, item.reason)
                return
            await self._on_frame(self, item)
            if isinstance(item.get("seq"), int):
                self._acks.append(item["seq"])
            if self._acks and self._queue.empty():  # one ack frame for a burst of events
                self._writer.push({"op": "ack", "seqs": self._acks})
                self._acks = []

    def _close_reason(self) -> DisconnectReason:
        if isinstance(self.ws.exception(), aiohttp.ServerTimeoutError):
            return "keepalive"
        return "network"


def _closing_detail(frame: Frame) -> str:
    """The words whatsmeow's events would carry for the server's reason to close."""
    if frame.get("reason") == "banned":
        return f"temporary ban (code {frame.get('ban_code')}) for {frame.get('expire_s')} s"
    return ""
