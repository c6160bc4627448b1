"""Connections end for real: drops, logouts, server stops, and injected faults."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest

from tests.simnet_harness import Events, Pair, Simnet, StartSimnet
from zaphubd.transport.base import ConnectFailed, NotConnected, SendFailed
from zaphubd.transport.events import (
    Connected,
    Disconnected,
    LoggedOut,
    MessageIn,
    Qr,
    TransportEvent,
)
from zaphubd.transport.outbound import OutboundMessage, Text
from zaphubd.transport.simnet import SimnetTransport

ANA, BEN = "5511910000001", "5511910000002"
TO_BEN = f"{BEN}@s.whatsapp.net"


def hello(n: int) -> OutboundMessage:
    return OutboundMessage(TO_BEN, Text(f"message {n}"))


async def test_drop_closes_the_socket_and_the_client_does_not_reconnect(
    simnet: Simnet, transport: SimnetTransport, pair: Pair
) -> None:
    client, events = await pair(ANA)
    dropped = await simnet.post("/control/drop", {"device_id": str(client.session_id)})
    assert dropped == {"dropped": [str(client.session_id)]}
    gone = await events.next(Disconnected)
    assert gone.reason == "network" and not client.is_connected
    with pytest.raises(NotConnected):
        await client.send(hello(1), None)
    await asyncio.sleep(0.1)
    assert (await simnet.device(client.session_id))["state"] == "offline"
    await client.connect()  # the supervisor's job: the same client connects again
    await events.next(Connected)
    await client.send(hello(2), None)


class HeldEvents(Events):
    """Keeps its handler busy on the first inbound message until `release` is set, as a
    daemon busy storing an event would: the end of the connection then waits in line."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def __call__(self, event: TransportEvent) -> None:
        await super().__call__(event)
        if isinstance(event, MessageIn):
            await self.release.wait()


async def test_a_send_on_a_connection_that_just_ended_fails_at_once(
    simnet: Simnet, transport: SimnetTransport
) -> None:
    events = HeldEvents()
    client = transport.client(uuid.uuid4(), events)
    await client.connect()
    await events.next(Qr)
    await simnet.post("/control/scan", {"device_id": str(client.session_id), "phone": ANA})
    await events.next(Connected)
    inbound = {"from": BEN, "to": ANA, "message": {"type": "text", "text": "hold on"}}
    await simnet.post("/control/inbound", inbound)
    await events.next(MessageIn)  # the handler now holds the event line
    await simnet.post("/control/drop", {"device_id": str(client.session_id)})
    while (await simnet.device(client.session_id))["state"] != "offline":
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)  # the socket's reader has seen the end
    assert client.is_connected  # the end is not handled yet: it waits behind the message
    async with asyncio.timeout(2):  # not the request timeout (5 s): nobody can answer
        with pytest.raises(SendFailed) as failed:
            await client.send(hello(1), None)
    assert not failed.value.permanent  # the lane sends it again after the reconnect
    events.release.set()
    assert (await events.next(Disconnected)).reason == "network"


async def test_drop_all_and_a_server_stop_close_every_socket(
    start_simnet: StartSimnet, tmp_path: Path
) -> None:
    simnet = await start_simnet()
    transport = SimnetTransport(simnet.url, tmp_path)
    await transport.start()
    clients = []
    for phone in (ANA, BEN):
        events = Events()
        client = transport.client(uuid.uuid4(), events)
        await client.connect()
        await events.next(Qr)
        await simnet.post("/control/scan", {"device_id": str(client.session_id), "phone": phone})
        await events.next(Connected)
        clients.append((client, events))
    await simnet.post("/control/drop", {"all": True})
    for client, events in clients:
        assert (await events.next(Disconnected)).reason == "network"
        await client.connect()
        await events.next(Connected)

    runner_stats = await simnet.get("/control/stats")
    assert runner_stats["connections"] == 2
    await simnet.net.links[str(clients[0][0].session_id)].close(None, code=1001)
    assert (await clients[0][1].next(Disconnected)).reason == "network"
    await transport.close()


async def test_control_logout_tells_the_device_and_refuses_its_credentials(
    simnet: Simnet, transport: SimnetTransport, pair: Pair
) -> None:
    client, events = await pair(ANA)
    creds = transport.creds_path(client.session_id).read_bytes()
    result = await simnet.post("/control/logout", {"device_id": str(client.session_id)})
    assert result == {"device_id": str(client.session_id), "was_connected": True}
    out = await events.next(LoggedOut)
    assert "removed" in out.reason
    assert not await transport.has_credentials(client.session_id)
    await events.none(Disconnected, within=0.1)  # LoggedOut ends the connection by itself
    assert (await simnet.device(client.session_id))["state"] == "logged_out"

    # An old copy of those credentials is refused, and deleted again.
    path = transport.creds_path(client.session_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(creds)
    await client.connect()
    await events.next(LoggedOut)
    assert not await transport.has_credentials(client.session_id)
    assert events.of(Connected) and len(events.of(Connected)) == 1


async def test_client_logout_unlinks_the_device(
    simnet: Simnet, transport: SimnetTransport, pair: Pair
) -> None:
    client, events = await pair(ANA)
    creds = transport.creds_path(client.session_id).read_bytes()
    await client.logout()
    assert not await transport.has_credentials(client.session_id) and not client.is_connected
    await asyncio.sleep(0.05)
    assert (await simnet.device(client.session_id))["state"] == "logged_out"
    activity = (await simnet.get(f"/control/activity/{ANA}"))["activity"]
    assert [a["action"] for a in activity] == ["logout"]
    await events.none(LoggedOut, within=0.05)
    await events.none(Disconnected, within=0.05)

    transport.creds_path(client.session_id).parent.mkdir(parents=True, exist_ok=True)
    transport.creds_path(client.session_id).write_bytes(creds)
    await client.connect()
    await events.next(LoggedOut)


async def test_client_logout_while_offline_unlinks_too(
    simnet: Simnet, transport: SimnetTransport, pair: Pair
) -> None:
    client, events = await pair(ANA)
    await client.disconnect()
    await client.logout()
    assert not await transport.has_credentials(client.session_id)
    assert (await simnet.device(client.session_id))["state"] == "logged_out"
    assert events.of(LoggedOut) == [] and events.of(Disconnected) == []


async def test_an_unpaired_device_cannot_send(transport: SimnetTransport) -> None:
    events = Events()
    client = transport.client(uuid.uuid4(), events)
    await client.connect()
    await events.next(Qr)
    with pytest.raises(NotConnected):
        await client.send(hello(1), None)


async def test_many_sends_are_in_flight_at_once(simnet: Simnet, pair: Pair) -> None:
    client, _ = await pair(ANA)
    await simnet.post("/control/faults", {"send_latency_ms": 200})
    started = time.monotonic()
    results = await asyncio.gather(*(client.send(hello(n), f"3EB0PIPE{n:04d}") for n in range(50)))
    elapsed = time.monotonic() - started
    assert elapsed < 1.0  # 50 x 200 ms one at a time would take 10 s
    assert [r.message_id for r in results] == [f"3EB0PIPE{n:04d}" for n in range(50)]
    assert [m["id"] for m in await simnet.mailbox(BEN)] == [f"3EB0PIPE{n:04d}" for n in range(50)]


async def test_send_latency_takes_effect_and_clears(simnet: Simnet, pair: Pair) -> None:
    client, _ = await pair(ANA)
    faults = await simnet.post("/control/faults", {"send_latency_ms": 150})
    assert faults["send_latency_ms"] == 150
    started = time.monotonic()
    await client.send(hello(1), None)
    assert time.monotonic() - started >= 0.14
    assert await simnet.post("/control/faults", {}) == (await simnet.get("/control/faults"))
    started = time.monotonic()
    await client.send(hello(2), None)
    assert time.monotonic() - started < 0.1


async def test_send_error_rate_fails_sends_transiently(simnet: Simnet, pair: Pair) -> None:
    client, _ = await pair(ANA)
    await simnet.post("/control/faults", {"send_error_rate": 1.0})
    with pytest.raises(SendFailed) as failure:
        await client.send(hello(1), "3EB0ERR1")
    assert not failure.value.permanent
    assert await simnet.mailbox(BEN) == []
    await simnet.post("/control/faults", {})
    await client.send(hello(1), "3EB0ERR1")  # the retry with the same id goes through
    assert [m["id"] for m in await simnet.mailbox(BEN)] == ["3EB0ERR1"]
    assert (await simnet.get("/control/stats"))["send_errors"] == 1


async def test_refused_connections_fail_connect(simnet: Simnet, transport: SimnetTransport) -> None:
    await simnet.post("/control/faults", {"refuse_connections": True})
    client = transport.client(uuid.uuid4(), Events())
    with pytest.raises(ConnectFailed):
        await client.connect()
    await simnet.post("/control/faults", {})
    events = Events()
    client = transport.client(uuid.uuid4(), events)
    await client.connect()
    await events.next(Qr)


async def test_an_unreachable_simnet_fails_connect(tmp_path: Path) -> None:
    transport = SimnetTransport("ws://127.0.0.1:9/ws", tmp_path)
    await transport.start()
    with pytest.raises(ConnectFailed):
        await transport.client(uuid.uuid4(), Events()).connect()
    await transport.close()


async def test_drop_every_n_drops_the_connection_after_storing(simnet: Simnet, pair: Pair) -> None:
    client, events = await pair(ANA)
    await simnet.post("/control/faults", {"drop_every_n": 3})
    await client.send(hello(1), "3EB0DROP1")
    await client.send(hello(2), "3EB0DROP2")
    with pytest.raises(SendFailed) as failure:
        await client.send(hello(3), "3EB0DROP3")
    assert not failure.value.permanent
    assert (await events.next(Disconnected)).reason == "network"
    await simnet.post("/control/faults", {})
    await client.connect()
    await events.next(Connected)
    again = await client.send(hello(3), "3EB0DROP3")  # in doubt: resent, stored once
    assert again.message_id == "3EB0DROP3"
    ids = [m["id"] for m in await simnet.mailbox(BEN)]
    assert ids == ["3EB0DROP1", "3EB0DROP2", "3EB0DROP3"]
    assert (await simnet.get("/control/stats"))["duplicates_ignored"] == 1


async def test_an_event_not_handled_before_a_drop_is_delivered_again(
    simnet: Simnet, transport: SimnetTransport, pair: Pair
) -> None:
    client, _ = await pair(ANA)
    await client.disconnect()
    stuck = asyncio.Event()
    seen: list[str] = []

    async def crashing_daemon(event: TransportEvent) -> None:
        if isinstance(event, MessageIn):
            seen.append(event.id)
            stuck.set()
            await asyncio.Event().wait()  # never returns: as if the process died here

    inbound = {"from": BEN, "to": ANA, "id": "3EB0TWICE", "message": {"type": "text", "text": "x"}}
    await simnet.post("/control/inbound", inbound)
    victim = transport.client(client.session_id, crashing_daemon)
    await victim.connect()
    await asyncio.wait_for(stuck.wait(), 5)
    await victim.disconnect()

    events = Events()
    await transport.client(client.session_id, events).connect()
    again = await events.next(MessageIn)
    assert seen == ["3EB0TWICE"] and again.id == "3EB0TWICE"


async def test_the_callback_may_reconnect_from_inside_disconnected(
    simnet: Simnet, transport: SimnetTransport, pair: Pair
) -> None:
    client, _ = await pair(ANA)
    await client.disconnect()
    events = Events()
    reconnected = asyncio.Event()

    async def supervisor(event: TransportEvent) -> None:
        await events(event)
        if isinstance(event, Disconnected):
            await resumed.connect()
            reconnected.set()

    resumed = transport.client(client.session_id, supervisor)
    await resumed.connect()
    await events.next(Connected)
    await simnet.post("/control/drop", {"device_id": str(client.session_id)})
    await asyncio.wait_for(reconnected.wait(), 5)
    await events.next(Connected)
    assert resumed.is_connected
    await resumed.send(hello(1), None)
