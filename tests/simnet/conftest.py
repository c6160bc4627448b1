"""simnet fixtures: a server with QR codes that do not expire, a started transport, `pair`.

The server starter, `Simnet` and `Events` live in tests/simnet_harness.py (shared).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.simnet_harness import FAST, Events, Pair, Simnet, StartSimnet, start_simnet
from zaphubd.transport.events import Connected, Qr
from zaphubd.transport.simnet import SimnetClient, SimnetTransport

__all__ = ["FAST", "Events", "Pair", "Simnet", "StartSimnet", "start_simnet"]


@pytest.fixture
async def simnet(start_simnet: StartSimnet) -> Simnet:
    return await start_simnet()


@pytest.fixture
async def transport(simnet: Simnet, tmp_path: Path) -> AsyncIterator[SimnetTransport]:
    transport = SimnetTransport(simnet.url, tmp_path / "auth", request_timeout_s=5)
    await transport.start()
    yield transport
    await transport.close()


@pytest.fixture
def pair(simnet: Simnet, transport: SimnetTransport) -> Pair:
    async def pair(phone: str) -> tuple[SimnetClient, Events]:
        events = Events()
        client = transport.client(uuid.uuid4(), events)
        await client.connect()
        await events.next(Qr)
        await simnet.post("/control/scan", {"device_id": str(client.session_id), "phone": phone})
        await events.next(Connected)
        return client, events

    return pair
