"""One open device WebSocket on the server side, and its login state."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from aiohttp import web

from zaphubd.simnet.model import Device
from zaphubd.simnet.protocol import Frame, FrameWriter
from zaphubd.simnet.tasks import DelayLine, cancel

log = logging.getLogger("zaphubd.simnet")

CLOSE_TIMEOUT_S = 2.0


class Link:
    """A device's connection: its writer, the device once `hello` named it, the QR login.

    `online` is true once the device is paired and was told it is connected; only then do
    queued events flow to it.
    """

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, number: int) -> None:
        self.ws = ws
        self.number = number
        self._transport = request.transport
        self.writer = FrameWriter(ws.send_bytes, name=f"simnet-writer-{number}")
        self.delay = DelayLine(name=f"simnet-delay-{number}")
        self.device: Device | None = None
        self.online = False
        self.qr: str | None = None
        self.pair_code: str | None = None
        self.pair_phone: str | None = None
        self.login_task: asyncio.Task[None] | None = None
        self.closed = False
        self.frozen = False

    def __repr__(self) -> str:
        device = self.device.device_id if self.device else None
        return f"Link(number={self.number}, device={device!r}, online={self.online})"

    @property
    def waiting_qr(self) -> bool:
        return self.login_task is not None and not self.login_task.done()

    def push(self, frame: Frame) -> None:
        if not self.closed:
            self.writer.push(frame)

    def freeze(self) -> None:
        """Stop every frame both ways and keep the socket open: a connection that is open
        but dead (a NAT that forgot the flow, a half-dead proxy). Nothing more is read and
        nothing more reaches the wire, not even WebSocket pings and pongs, until the device
        gives up on the link (or this side's own heartbeat does)."""
        self.frozen = True
        transport = self._transport
        if transport is None:
            return
        transport.pause_reading()
        # Frames still produced here (events, replies, pings) are dropped before the wire.
        transport.write = _swallow  # type: ignore[method-assign]
        transport.writelines = _swallow  # type: ignore[method-assign,assignment]

    def abort(self) -> None:
        """Drop the TCP connection without a close handshake: what a network blip looks like."""
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    async def close(self, reason: str | None, code: int = 1000, extra: Frame | None = None) -> None:
        """Tell the device why (when there is a reason, with `extra` details) and close the
        socket cleanly."""
        if self.closed:
            return
        if reason is not None:
            self.writer.push({"op": "closing", "reason": reason, **(extra or {})})
        self.closed = True
        with suppress(TimeoutError, ConnectionError):
            await self.writer.flush(CLOSE_TIMEOUT_S)
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self.ws.close(code=code)
        except (TimeoutError, ConnectionError):
            self.abort()

    async def stop_login(self) -> None:
        self.qr = None
        self.pair_code = None
        self.pair_phone = None
        await cancel(self.login_task)
        self.login_task = None

    async def finish(self) -> None:
        """Release everything the link started; the socket is already gone."""
        self.closed = True
        self.online = False
        await self.stop_login()
        await self.delay.close()
        await self.writer.close()


def _swallow(data: object) -> None:
    return None
