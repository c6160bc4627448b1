"""simnet's wire framing, shared by the server and the zaphubd simnet client.

Every WebSocket message is a binary orjson array of frames; a frame is an object with an
`op`. Batching several frames per WebSocket message is what lets one core carry thousands
of sends per second: the per-message cost of the socket dominates the per-frame work.

Client -> server ops: `hello` (first frame: device id, stored credentials or none, and
`logout: true` to unlink while offline), `send`, `pair_phone`, `presence`, `subscribe`,
`read`, `reject_call`, `logout`, `ping` (the keep-alive; each with a request id `r`), and
`ack` (sequence numbers of delivered events). Server -> client ops: `result` (`r`, `ok`,
`data` or `error`), `error` (for a frame that had no request id), `qr`, `paired`
(credentials), `connected`, `logged_out`, `closing` (the reason of a close that follows),
`ev` (a queued event with a `seq` the client must ack: message, receipt, group) and the
ephemeral `presence`, `chat_presence` and `call`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

Frame = dict[str, Any]

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 256 * 1024 * 1024  # a 50 MB media file grows by a third as base64

log = logging.getLogger("zaphubd.simnet")


class ProtocolError(ValueError):
    """A WebSocket message that is not a well-formed batch of frames."""


class OpError(Exception):
    """A request the server refuses; `code` is stable, `message` is for people."""

    def __init__(self, code: str, message: str, *, permanent: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.permanent = permanent

    def as_dict(self) -> Frame:
        return {"code": self.code, "message": self.message, "permanent": self.permanent}


def new_message_id() -> str:
    """A WhatsApp-like message id: 3EB0 and 18 uppercase hex digits."""
    return "3EB0" + secrets.token_hex(9).upper()


def decode_batch(data: bytes | str) -> list[Frame]:
    """The frames of one WebSocket message (an array of objects, or one object)."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as err:
        raise ProtocolError(f"not JSON: {err}") from err
    frames = value if isinstance(value, list) else [value]
    for frame in frames:
        if not isinstance(frame, dict) or not isinstance(frame.get("op"), str):
            raise ProtocolError("every frame must be an object with a string 'op'")
    return frames


def encode_batch(frames: list[Frame]) -> bytes:
    return orjson.dumps(frames)


class FrameWriter:
    """Queues frames and writes them in batches from one task, in order.

    Callers never wait on the peer: `push` is synchronous, so a slow reader only delays its
    own socket, never the sender whose message it is receiving.
    """

    def __init__(self, send: Callable[[bytes], Awaitable[None]], name: str) -> None:
        self._send = send
        self._frames: list[Frame] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task = asyncio.create_task(self._run(), name=name)

    def push(self, frame: Frame) -> None:
        self._frames.append(frame)
        self._idle.clear()
        self._wake.set()

    async def flush(self, timeout_s: float = 5.0) -> None:
        """Wait until every pushed frame was handed to the socket (or the writer died)."""
        if not self._task.done():
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()

    async def close(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            if not self._task.cancelled():
                raise

    async def _run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._frames:
                    batch, self._frames = self._frames, []
                    await self._send(encode_batch(batch))
                self._idle.set()
        except (ConnectionError, RuntimeError) as err:
            # The peer went away mid-write; the reading side reports the closed socket.
            log.debug("simnet writer stopped: %s", err)
        except Exception:
            log.exception("simnet writer failed")
        finally:
            self._idle.set()
