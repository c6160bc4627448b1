"""`zaphubd simnet --state FILE` as a real process: state survives a restart."""

from __future__ import annotations

import asyncio
import base64
import signal
import stat
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from tests.simnet_harness import Events, Simnet, StartSimnet, free_port
from zaphubd.simnet.model import SimnetConfig
from zaphubd.transport.chats import ChatChange, ChatSettingsChanged, Mute
from zaphubd.transport.events import (
    Connected,
    Disconnected,
    GroupChange,
    LoggedOut,
    MessageIn,
    Qr,
)
from zaphubd.transport.outbound import OutboundMessage, Text
from zaphubd.transport.simnet import SimnetClient, SimnetTransport

ANA, BEN, CAL = "5511940000001", "5511940000002", "5511940000003"
REPO = Path(__file__).resolve().parents[2]
JPEG = b"\xff\xd8jpeg!" * 100


class SimnetProcess:
    def __init__(self, port: int, state: Path) -> None:
        self.port = port
        self.state = state
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, http: aiohttp.ClientSession) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "zaphubd",
            "simnet",
            "--port",
            str(self.port),
            "--state",
            str(self.state),
            "--log-level",
            "WARNING",
            cwd=REPO,
            stdin=asyncio.subprocess.DEVNULL,
        )
        async with asyncio.timeout(15):
            while True:
                try:
                    async with http.get(f"http://127.0.0.1:{self.port}/control/stats") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)

    async def stop(self) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), 15)
        self.proc = None
        return code


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get(http: aiohttp.ClientSession, port: int, path: str) -> Any:
    async with http.get(f"http://127.0.0.1:{port}{path}") as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def post(http: aiohttp.ClientSession, port: int, path: str, body: object) -> Any:
    async with http.post(f"http://127.0.0.1:{port}{path}", json=body) as response:
        assert response.status == 200, await response.text()
        return await response.json()


@dataclass
class World:
    """What the first half of the story leaves for the second."""

    ana: SimnetClient
    ana_events: Events
    ben: SimnetClient
    ben_events: Events
    cal: SimnetClient
    cal_events: Events
    cal_creds: bytes


async def test_state_survives_a_restart(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    port, state = free_port(), tmp_path / "simnet.json"
    server = SimnetProcess(port, state)
    await server.start(http)
    transport = SimnetTransport(f"ws://127.0.0.1:{port}/ws", tmp_path / "auth")
    await transport.start()
    try:
        world = await _populate(http, port, transport)
        assert await server.stop() == 0
        assert (await world.ana_events.next(Disconnected)).reason == "network"
        assert stat.S_IMODE(state.stat().st_mode) == 0o600
        await server.start(http)
        await _check_restored(http, port, transport, world)
    finally:
        await transport.close()
        if server.proc is not None:
            await server.stop()


async def pair(
    http: aiohttp.ClientSession, port: int, transport: SimnetTransport, phone: str
) -> tuple[SimnetClient, Events]:
    events = Events()
    client = transport.client(uuid.uuid4(), events)
    await client.connect()
    await events.next(Qr)
    await post(http, port, "/control/scan", {"device_id": str(client.session_id), "phone": phone})
    await events.next(Connected)
    return client, events


async def _populate(http: aiohttp.ClientSession, port: int, transport: SimnetTransport) -> World:
    ana, ana_events = await pair(http, port, transport, ANA)
    ben, ben_events = await pair(http, port, transport, BEN)
    cal, cal_events = await pair(http, port, transport, CAL)
    cal_creds = transport.creds_path(cal.session_id).read_bytes()
    await ben.disconnect()
    await ana.send(OutboundMessage(f"{BEN}@s.whatsapp.net", Text("kept")), "3EB0KEPT")
    image = {"data": base64.b64encode(JPEG).decode(), "mimeType": "image/jpeg"}
    await post(
        http,
        port,
        "/control/inbound",
        {"from": CAL, "to": BEN, "message": {"type": "image", "image": image}},
    )
    await post(
        http,
        port,
        "/control/group",
        {"group": "120363000000000042", "action": "create", "participants": [ANA, BEN]},
    )
    # Chat settings: the account's own (from ANA's device), and BEN's phone's while BEN is away.
    await ana.chats.change(ChatChange(f"{BEN}@s.whatsapp.net", archived=True, pinned=False))
    await post(http, port, "/control/chat-settings", {"phone": BEN, "chat": ANA, "muted": True})
    await post(http, port, "/control/logout", {"device_id": str(cal.session_id)})
    await cal_events.next(LoggedOut)
    return World(ana, ana_events, ben, ben_events, cal, cal_events, cal_creds)


async def _check_restored(
    http: aiohttp.ClientSession, port: int, transport: SimnetTransport, world: World
) -> None:
    await world.ana.connect()  # credentials still valid: no QR
    assert (await world.ana_events.next(Connected)).phone == ANA
    assert len(world.ana_events.of(Qr)) == 1

    await world.ben.connect()  # what waited for BEN was kept, media included
    text = await world.ben_events.next(MessageIn)
    photo = await world.ben_events.next(MessageIn)
    assert (text.id, text.content) == ("3EB0KEPT", {"text": "kept"})
    assert photo.media is not None
    assert await world.ben.download_media(photo.media, max_bytes=10_000) == JPEG
    assert (await world.ben_events.next(GroupChange)).action == "joined"
    muted = (await world.ben_events.next(ChatSettingsChanged)).change
    assert (muted.chat, muted.mute) == (f"{ANA}@s.whatsapp.net", Mute(True))
    settings = await get(http, port, f"/control/chat-settings/{ANA}")
    assert settings[f"{BEN}@s.whatsapp.net"] == {
        "archived": True,
        "pinned": False,
        "muted": False,
        "muted_until": None,
    }
    await world.ana_events.none(ChatSettingsChanged)  # its own change is not told back to it

    path = transport.creds_path(world.cal.session_id)  # revoked credentials stay revoked
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(world.cal_creds)
    await world.cal.connect()
    await world.cal_events.next(LoggedOut)

    again = await world.ana.send(OutboundMessage(f"{BEN}@s.whatsapp.net", Text("kept")), "3EB0KEPT")
    assert again.message_id == "3EB0KEPT"  # seen ids survive too: still stored once
    mailbox = await get(http, port, f"/control/mailbox/{BEN}")
    assert next(m["id"] for m in mailbox["messages"]) == "3EB0KEPT"
    assert len(mailbox["messages"]) == 2
    devices = (await get(http, port, "/control/devices"))["devices"]
    assert {d["phone"]: d["state"] for d in devices} == {
        ANA: "connected",
        BEN: "connected",
        CAL: "logged_out",
    }


async def test_state_is_saved_on_a_debounce_not_per_send(
    start_simnet: StartSimnet, tmp_path: Path
) -> None:
    state = tmp_path / "state" / "simnet.json"
    simnet = await start_simnet(SimnetConfig(qr_first_s=30, state_path=state, save_delay_s=0.3))
    transport = SimnetTransport(simnet.url, tmp_path / "auth")
    await transport.start()
    client, _ = await pair_in_process(simnet, transport, ANA)
    for n in range(50):
        await client.send(OutboundMessage(f"{BEN}@s.whatsapp.net", Text(f"n{n}")), None)
    assert not state.exists()  # nothing written yet: changes are collected first
    await asyncio.sleep(0.6)
    saved = orjson.loads(state.read_bytes())
    assert len(saved["mailboxes"][BEN]) == 50
    await transport.close()


async def pair_in_process(
    simnet: Simnet, transport: SimnetTransport, phone: str
) -> tuple[SimnetClient, Events]:
    events = Events()
    client = transport.client(uuid.uuid4(), events)
    await client.connect()
    await events.next(Qr)
    await simnet.post("/control/scan", {"device_id": str(client.session_id), "phone": phone})
    await events.next(Connected)
    return client, events
