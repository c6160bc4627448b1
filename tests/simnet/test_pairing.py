"""Logging in: QR codes rotate and expire, scanning pairs, pairing codes, resuming."""

from __future__ import annotations

import asyncio
import stat
import time
import uuid
from pathlib import Path

import orjson
import pytest

from tests.simnet_harness import Events, Pair, Simnet, StartSimnet
from zaphubd.simnet.model import SimnetConfig
from zaphubd.transport.base import PairingFailed, session_auth_dir
from zaphubd.transport.events import Connected, Disconnected, Qr
from zaphubd.transport.simnet import CREDS_FILE, SimnetTransport


async def test_qr_codes_rotate_then_the_login_attempt_ends(
    start_simnet: StartSimnet, tmp_path: Path
) -> None:
    simnet = await start_simnet(SimnetConfig(qr_first_s=0.3, qr_next_s=0.1, qr_max=4))
    transport = SimnetTransport(simnet.url, tmp_path)
    await transport.start()
    events = Events()
    client = transport.client(uuid.uuid4(), events)
    started = time.monotonic()
    await client.connect()
    ended = await events.next(Disconnected, timeout=5)
    elapsed = time.monotonic() - started

    codes = events.of(Qr)
    assert [q.expires_in_s for q in codes] == [0.3, 0.1, 0.1, 0.1]
    assert len({q.code for q in codes}) == 4 and all(q.code.startswith("2@") for q in codes)
    assert ended.reason == "qr_timeout"
    assert 0.55 < elapsed < 2.0  # 0.3 + 3 x 0.1, and then promptly closed
    assert not client.is_connected
    assert (await simnet.device(client.session_id))["state"] == "offline"
    await transport.close()


async def test_an_expired_qr_code_cannot_be_scanned(
    start_simnet: StartSimnet, tmp_path: Path
) -> None:
    simnet = await start_simnet(SimnetConfig(qr_first_s=0.2, qr_next_s=5, qr_max=2))
    transport = SimnetTransport(simnet.url, tmp_path)
    await transport.start()
    events = Events()
    client = transport.client(uuid.uuid4(), events)
    await client.connect()
    first = await events.next(Qr)
    second = await events.next(Qr)
    status, body = await simnet.call("POST", "/control/scan", {"qr": first.code, "phone": "5511"})
    assert status == 400 and "phone" in body["error"]
    await simnet.post("/control/scan", {"qr": first.code, "phone": "551100000001"}, status=409)
    await simnet.post("/control/scan", {"qr": second.code, "phone": "551100000001"})
    connected = await events.next(Connected)
    assert connected.phone == "551100000001"
    await transport.close()


async def test_scan_pairs_stores_credentials_and_connects(
    simnet: Simnet, transport: SimnetTransport
) -> None:
    events = Events()
    client = transport.client(uuid.uuid4(), events)
    await client.connect()
    qr = await events.next(Qr)
    device = await simnet.device(client.session_id)
    assert device["state"] == "waiting_qr" and device["current_qr"] == qr.code
    assert not await transport.has_credentials(client.session_id)

    await simnet.post(
        "/control/scan",
        {"device_id": str(client.session_id), "phone": "5511987650001", "push_name": "Ana"},
    )
    connected = await events.next(Connected)
    assert connected == Connected("5511987650001@s.whatsapp.net", "5511987650001", "Ana")
    assert client.is_connected

    path = session_auth_dir(transport.auth_base, client.session_id) / CREDS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    creds = orjson.loads(path.read_bytes())
    assert creds["phone"] == "5511987650001" and len(creds["secret"]) > 30
    device = await simnet.device(client.session_id)
    assert device == device | {"state": "connected", "phone": "5511987650001", "current_qr": None}


async def test_scan_without_a_valid_qr_is_a_conflict(simnet: Simnet, pair: Pair) -> None:
    client, _ = await pair("5511987650002")
    status, body = await simnet.call(
        "POST", "/control/scan", {"device_id": str(client.session_id), "phone": "5511987650002"}
    )
    assert status == 409 and "no valid QR" in body["error"]
    status, body = await simnet.call(
        "POST", "/control/scan", {"device_id": "nobody", "phone": "5511987650002"}
    )
    assert status == 404 and "unknown device" in body["error"]


async def test_reconnect_with_credentials_skips_the_qr(
    simnet: Simnet, transport: SimnetTransport, pair: Pair
) -> None:
    client, events = await pair("5511987650003")
    await client.disconnect()
    assert not client.is_connected
    assert (await simnet.device(client.session_id))["state"] == "offline"

    again = Events()
    resumed = transport.client(client.session_id, again)
    await resumed.connect()
    connected = await again.next(Connected)
    assert connected.phone == "5511987650003"
    assert again.of(Qr) == []
    assert events.of(Disconnected) == []  # disconnect() reports nothing


async def test_pairing_code_flow(simnet: Simnet, transport: SimnetTransport) -> None:
    events = Events()
    client = transport.client(uuid.uuid4(), events)
    with pytest.raises(PairingFailed):
        await client.pair_phone("5511987650004")  # not even connected
    await client.connect()
    await events.next(Qr)
    code = await client.pair_phone("5511987650004")
    assert len(code) == 9 and code[4] == "-" and code.replace("-", "").isalnum()

    wrong = {"phone": "5511987650099", "code": code}
    await simnet.post("/control/pair-code", wrong, status=409)
    await simnet.post("/control/pair-code", {"phone": "5511987650004", "code": "ZZZZ-ZZZZ"}, 404)
    await simnet.post("/control/pair-code", {"phone": "5511987650004", "code": code.lower()})
    connected = await events.next(Connected)
    assert connected.phone == "5511987650004"
    assert await transport.has_credentials(client.session_id)
    with pytest.raises(PairingFailed):
        await client.pair_phone("5511987650004")  # no QR codes any more


async def test_pair_phone_rejects_a_bad_number(transport: SimnetTransport) -> None:
    events = Events()
    client = transport.client(uuid.uuid4(), events)
    await client.connect()
    await events.next(Qr)
    with pytest.raises(PairingFailed, match="6-15 digits"):
        await client.pair_phone("12ab")


async def test_a_second_connection_replaces_the_first(
    simnet: Simnet, transport: SimnetTransport, pair: Pair
) -> None:
    client, events = await pair("5511987650005")
    other = Events()
    twin = transport.client(client.session_id, other)
    await twin.connect()
    await other.next(Connected)
    gone = await events.next(Disconnected)
    assert gone.reason == "replaced"
    await asyncio.sleep(0.05)
    assert (await simnet.device(client.session_id))["state"] == "connected"
    log = (await simnet.get(f"/control/connections/{client.session_id}"))["connections"]
    assert [e["event"] for e in log] == ["online", "replaced", "online"]
    assert log[1]["link"] == log[0]["link"] and log[1]["by"] == log[2]["link"] != log[0]["link"]
    await twin.disconnect()
    await asyncio.sleep(0.1)
    log = (await simnet.get(f"/control/connections/{client.session_id}"))["connections"]
    assert log[-1] == {"at": log[-1]["at"], "event": "closed", "link": log[2]["link"]}
