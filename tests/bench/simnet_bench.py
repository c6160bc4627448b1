"""How many sends per second simnet carries: through one client, and through 100 clients.

simnet runs as its own process (`python -m zaphubd simnet`), as in the e2e tests and the
load tests, and the clients are real SimnetTransport clients in this process; each figure is
the median of 3 runs. Every send is acknowledged, stored in a mailbox and answered with a
delivered receipt that the sending client handles and acknowledges.

    .venv/bin/python tests/bench/simnet_bench.py [--messages 20000] [--clients 100]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

from zaphubd.transport.events import Connected, Qr, TransportEvent
from zaphubd.transport.outbound import OutboundMessage, Text
from zaphubd.transport.simnet import SimnetClient, SimnetTransport

RECIPIENT = "5511999990000@s.whatsapp.net"


class Waiter:
    """Event callback that lets the benchmark wait for a QR code and for Connected."""

    def __init__(self) -> None:
        self.qr = asyncio.Event()
        self.connected = asyncio.Event()

    async def __call__(self, event: TransportEvent) -> None:
        if isinstance(event, Qr):
            self.qr.set()
        elif isinstance(event, Connected):
            self.connected.set()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def start_simnet(port: int) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "zaphubd", "simnet", "--port", str(port), "--log-level", "WARNING"
    )
    async with aiohttp.ClientSession() as http, asyncio.timeout(15):
        while True:
            try:
                async with http.get(f"http://127.0.0.1:{port}/control/stats"):
                    return proc
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)


async def pair_clients(transport: SimnetTransport, port: int, count: int) -> list[SimnetClient]:
    clients = []
    async with aiohttp.ClientSession() as http:
        for index in range(count):
            waiter = Waiter()
            client = transport.client(uuid.uuid4(), waiter)
            await client.connect()
            await waiter.qr.wait()
            body = {"device_id": str(client.session_id), "phone": f"55119{index:08d}"}
            async with http.post(f"http://127.0.0.1:{port}/control/scan", json=body) as r:
                assert r.status == 200, await r.text()
            await waiter.connected.wait()
            clients.append(client)
    return clients


async def blast(clients: list[SimnetClient], messages: int, window: int) -> float:
    """Send `messages` spread over `clients`, `window` in flight per client; sends/s."""
    counter = itertools.count()
    message = OutboundMessage(RECIPIENT, Text("benchmark message"))

    async def worker(client: SimnetClient) -> None:
        while next(counter) < messages:
            await client.send(message, None)

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in clients for _ in range(window)))
    return messages / (time.perf_counter() - started)


async def measure(clients: list[SimnetClient], messages: int, window: int, runs: int) -> float:
    await blast(clients, min(messages, 2000), window)  # warm up
    rates = [await blast(clients, messages, window) for _ in range(runs)]
    print(f"  runs: {', '.join(f'{r:,.0f}' for r in rates)} sends/s", flush=True)
    return statistics.median(rates)


async def main(args: argparse.Namespace) -> None:
    port = free_port()
    proc = await start_simnet(port)
    with tempfile.TemporaryDirectory() as auth:
        transport = SimnetTransport(f"ws://127.0.0.1:{port}/ws", Path(auth))
        await transport.start()
        try:
            clients = await pair_clients(transport, port, args.clients)
            print(f"one client, {args.window} sends in flight:", flush=True)
            one = await measure(clients[:1], args.messages, args.window, args.runs)
            print(f"{args.clients} clients, {args.window_each} in flight each:", flush=True)
            many = await measure(clients, args.messages, args.window_each, args.runs)
        finally:
            await transport.close()
            proc.send_signal(signal.SIGTERM)
            await proc.wait()
    print(
        f"simnet sends/s, median of {args.runs}: one client {one:,.0f}; "
        f"{args.clients} clients {many:,.0f}"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000, help="sends per run")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--window", type=int, default=256, help="in flight, one client")
    parser.add_argument("--window-each", type=int, default=8, help="in flight per client")
    parser.add_argument("--runs", type=int, default=3)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
