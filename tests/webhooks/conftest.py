"""Real webhook receivers on loopback, and helpers to reach into the daemon under test."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web

from tests.gateway import Gateway, StartGateway, eventually
from zaphubd.http import appkeys

SECRET = "whsec-0123456789abcdef"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float
    path: str = ""

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(self.body)
        return data

    @property
    def event(self) -> str:
        return str(self.json["event"])


def signed_with(received: Received, secret: str) -> bool:
    """Whether the request's signature is the HMAC of its raw body under `secret`."""
    timestamp = received.headers["X-ZapHub-Timestamp"]
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(received.headers["X-ZapHub-Signature"], "sha256=" + expected)


@dataclass
class Receiver:
    """An HTTP server that records every request and answers as told."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    #: Status codes to answer in turn; `default` after that.
    script: list[int] = field(default_factory=list)
    default: int = 200
    hang: bool = False
    location: str | None = None
    #: The response body; default `answer <status>`.
    answer: str | None = None
    released: asyncio.Event = field(default_factory=asyncio.Event)
    #: Paths answered 500 whatever else is set (another webhook on the same host, failing).
    failing_paths: set[str] = field(default_factory=set)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        at = time.monotonic()
        self.received.append(Received(dict(request.headers), body, at, request.path))
        if request.path in self.failing_paths:
            return web.Response(status=500, text="failing")
        if self.hang:
            await self.released.wait()
        status = self.script.pop(0) if self.script else self.default
        headers = {"Location": self.location} if self.location else None
        text = self.answer if self.answer is not None else f"answer {status}"
        return web.Response(status=status, text=text, headers=headers)

    def of(self, event: str, path: str | None = None) -> list[Received]:
        return [r for r in self.received if r.event == event and path in (None, r.path)]

    async def wait_for(
        self, event: str, count: int = 1, timeout_s: float = 10, path: str | None = None
    ) -> list[Received]:
        async def probe() -> list[Received] | None:
            found = self.of(event, path)
            return found if len(found) >= count else None

        result: list[Received] = await eventually(probe, timeout_s)
        return result


StartReceiver = Callable[..., Awaitable[Receiver]]


@pytest.fixture
async def receiver_factory() -> AsyncIterator[StartReceiver]:
    runners: list[tuple[web.AppRunner, Receiver]] = []

    async def start(**options: Any) -> Receiver:
        receiver = Receiver(**options)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", receiver.handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        receiver.url = f"http://127.0.0.1:{port}/hook"
        runners.append((runner, receiver))
        return receiver

    yield start
    for runner, receiver in runners:
        receiver.released.set()
        await runner.cleanup()


@pytest.fixture
async def receiver(receiver_factory: StartReceiver) -> Receiver:
    return await receiver_factory()


async def webhook_gateway(gateway: StartGateway, **settings: Any) -> Gateway:
    """A daemon that may post to loopback receivers, with quick retries."""
    settings.setdefault("webhook_allow_private", True)
    settings.setdefault("webhook_backoff_base_ms", 50)
    return await gateway(**settings)


def app_of(gw: Gateway) -> web.Application:
    return gw.api.server.app


async def emit(gw: Gateway, sid: str, event: str, payload: dict[str, Any]) -> None:
    """Record an event as the daemon's own code would (the sink hands it to webhooks)."""
    await app_of(gw)[appkeys.EVENT_SINK].emit(uuid.UUID(sid), event, payload)


async def deliveries(gw: Gateway, sid: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    resp = await gw.api.get(f"/api/v1/sessions/{sid}/webhook/events", params=params)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    return body["data"], body["pagination"]["total"]


async def wait_delivery(
    gw: Gateway, sid: str, status: str, timeout_s: float = 10, **params: Any
) -> dict[str, Any]:
    """The newest delivery of the session once it has `status`."""

    async def probe() -> dict[str, Any] | None:
        items, _ = await deliveries(gw, sid, **params)
        return items[0] if items and items[0]["status"] == status else None

    result: dict[str, Any] = await eventually(probe, timeout_s)
    return result
