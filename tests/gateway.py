"""An in-process daemon on the simnet transport (the `gateway` fixture), and API helpers."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.simnet_harness import Simnet, StartSimnet
from zaphubd.http import appkeys
from zaphubd.simnet.model import SimnetConfig

Api = TestClient[web.Request, web.Application]
SLOW_QR = SimnetConfig(qr_first_s=60, qr_next_s=20, qr_max=6, save_delay_s=0.05)


async def eventually(
    probe: Callable[[], Awaitable[Any]], timeout_s: float = 10.0, interval_s: float = 0.05
) -> Any:
    """Call `probe` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s}s (last: {last!r})")


@dataclass
class Gateway:
    """The daemon under test (HTTP client) and the simulated network it talks to."""

    api: Api
    net: Simnet
    auth_dir: Path

    async def create(self, **body: Any) -> dict[str, Any]:
        body.setdefault("label", "test")
        resp = await self.api.post("/api/v1/sessions", json=body)
        assert resp.status == 201, await resp.text()
        data: dict[str, Any] = (await resp.json())["data"]
        return data

    async def session(self, sid: str) -> dict[str, Any]:
        resp = await self.api.get(f"/api/v1/sessions/{sid}")
        assert resp.status == 200, await resp.text()
        data: dict[str, Any] = (await resp.json())["data"]
        return data

    async def wait_status(self, sid: str, status: str, timeout_s: float = 10.0) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            session = await self.session(sid)
            return session if session["status"] == status else None

        result: dict[str, Any] = await eventually(probe, timeout_s)
        return result

    async def events(self, sid: str, **params: Any) -> list[dict[str, Any]]:
        params.setdefault("limit", 200)
        resp = await self.api.get(f"/api/v1/sessions/{sid}/events", params=params)
        assert resp.status == 200, await resp.text()
        events: list[dict[str, Any]] = (await resp.json())["data"]
        return list(reversed(events))  # oldest first reads better in assertions

    async def event_types(self, sid: str) -> list[str]:
        return [e["event_type"] for e in await self.events(sid)]

    async def credentials(self, sid: str) -> dict[str, Any] | None:
        """The session's credentials as stored in Postgres (shared by every node)."""
        creds: dict[str, Any] | None = await self.api.server.app[appkeys.DB].fetchval(
            "SELECT data FROM session_credentials WHERE session_id = $1", uuid.UUID(sid)
        )
        return creds

    async def connect(self, phone: str, **body: Any) -> dict[str, Any]:
        """Create a session, scan its QR as `phone`, and wait until it is connected."""
        session = await self.create(**body)
        await self.wait_status(session["id"], "qr_pending")
        await self.net.post("/control/scan", {"device_id": session["id"], "phone": phone})
        return await self.wait_status(session["id"], "connected")


StartGateway = Callable[..., Awaitable[Gateway]]


async def gateway_fixture(
    api: Callable[..., Awaitable[Api]], start_simnet: StartSimnet, tmp_path: Path
) -> AsyncIterator[StartGateway]:
    async def start(simnet_config: SimnetConfig = SLOW_QR, **settings: Any) -> Gateway:
        net = await start_simnet(simnet_config)
        auth_dir = tmp_path / "auth"
        settings.setdefault("reconnect_base_s", 0.2)
        settings.setdefault("session_lease_ttl_s", 3)
        settings.setdefault("media_dir", tmp_path / "media")
        client = await api(
            transport="simnet", simnet_url=net.url, auth_data_dir=auth_dir, **settings
        )
        return Gateway(client, net, auth_dir)

    yield start
