"""A small Server-Sent Events reader for the stream tests: frames as the spec splits them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson


@dataclass
class Frame:
    id: str | None = None
    event: str = "message"
    data_lines: list[str] = field(default_factory=list)
    comment: str | None = None

    @property
    def data(self) -> Any:
        return orjson.loads("\n".join(self.data_lines))


class SseReader:
    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self.resp = resp
        self.cut = False  # the connection broke mid-stream (the server dropped it)

    async def frame(self, timeout_s: float = 10.0) -> Frame | None:
        """The next frame (events, comments, `retry`); None at the end of the stream."""
        current = Frame()
        async with asyncio.timeout(timeout_s):
            while True:
                try:
                    raw = await self.resp.content.readline()
                except aiohttp.ClientPayloadError:
                    self.cut = True
                    return None
                if not raw:
                    return None
                line = raw.decode().rstrip("\n")
                if line == "":
                    return current
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "":
                    current.comment = value
                elif name == "id":
                    current.id = value
                elif name == "event":
                    current.event = value
                elif name == "data":
                    current.data_lines.append(value)

    async def events(self, count: int, timeout_s: float = 10.0) -> list[Frame]:
        """The next `count` event frames (`message` or `close`), skipping comments."""
        found: list[Frame] = []
        while len(found) < count:
            frame = await self.frame(timeout_s)
            if frame is None:
                raise AssertionError(f"the stream ended after {len(found)} of {count} events")
            if frame.data_lines:
                found.append(frame)
        return found

    async def quiet(self, within_s: float = 0.5) -> None:
        """No event frame arrives within `within_s` (comments are fine)."""
        try:
            async with asyncio.timeout(within_s):
                while True:
                    frame = await self.frame(within_s + 1)
                    if frame is None or frame.data_lines:
                        raise AssertionError(f"unexpected frame: {frame}")
        except TimeoutError:
            return
