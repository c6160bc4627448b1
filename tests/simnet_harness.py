"""The simnet test harness, shared by every suite that needs a simulated network.


- `start_simnet(config)` starts an in-process server (an AppRunner on 127.0.0.1:0);
  `simnet` is one with QR codes that do not expire during a test.
- `transport` is a started SimnetTransport on that server, with credentials under tmp_path.
- `pair(phone)` connects a new client, scans its QR as `phone` and waits for `Connected`;
  it returns the client and its `Events`.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web

from zaphubd.simnet.model import SimnetConfig
from zaphubd.simnet.network import Network
from zaphubd.simnet.server import NETWORK, create_simnet_app
from zaphubd.transport.events import TransportEvent
from zaphubd.transport.simnet import SimnetClient

E = TypeVar("E")
FAST = SimnetConfig(qr_first_s=30, qr_next_s=30, qr_max=2, save_delay_s=0.05)


class Events:
    """An event callback that keeps every event, and lets a test wait for the next one."""

    def __init__(self) -> None:
        self.all: list[TransportEvent] = []
        self._taken: set[int] = set()
        self._arrived = asyncio.Event()

    async def __call__(self, event: TransportEvent) -> None:
        self.all.append(event)
        self._arrived.set()

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.all if isinstance(e, kind)]

    async def next(
        self, kind: type[E], where: Callable[[E], bool] = lambda e: True, timeout: float = 5.0
    ) -> E:
        """The first event of `kind` matching `where` not returned before (waiting for it)."""
        async with asyncio.timeout(timeout):
            while True:
                for index, event in enumerate(self.all):
                    if index not in self._taken and isinstance(event, kind) and where(event):
                        self._taken.add(index)
                        return event
                self._arrived.clear()
                await self._arrived.wait()

    async def none(self, kind: type[Any], within: float = 0.3) -> None:
        """No event of `kind` arrives (besides those `next` already returned)."""
        await asyncio.sleep(within)
        extra = [e for i, e in enumerate(self.all) if i not in self._taken and isinstance(e, kind)]
        assert not extra, f"unexpected {kind.__name__}: {extra}"


@dataclass
class Simnet:
    port: int
    net: Network
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        url = f"http://127.0.0.1:{self.port}{path}"
        async with self.http.request(method, url, json=body) as response:
            return response.status, await response.json()

    async def post(self, path: str, body: Any, status: int = 200) -> Any:
        got, data = await self.call("POST", path, body)
        assert got == status, data
        return data

    async def get(self, path: str) -> Any:
        got, data = await self.call("GET", path)
        assert got == 200, data
        return data

    async def mailbox(self, phone: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = (await self.get(f"/control/mailbox/{phone}"))["messages"]
        return messages

    async def device(self, device_id: uuid.UUID) -> dict[str, Any]:
        devices = (await self.get("/control/devices"))["devices"]
        return next(d for d in devices if d["device_id"] == str(device_id))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


StartSimnet = Callable[..., Awaitable[Simnet]]


@pytest.fixture
async def start_simnet() -> AsyncIterator[StartSimnet]:
    runners: list[web.AppRunner] = []
    http = aiohttp.ClientSession()

    async def start(config: SimnetConfig = FAST, port: int = 0) -> Simnet:
        app = create_simnet_app(config)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        runners.append(runner)
        bound = runner.addresses[0][1]
        return Simnet(port=bound, net=app[NETWORK], http=http)

    yield start
    for runner in reversed(runners):
        await runner.cleanup()
    await http.close()


Pair = Callable[[str], Awaitable[tuple[SimnetClient, Events]]]
