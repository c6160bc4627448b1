"""Memory stays flat: RSS of the daemon through 10,000 messages and 1,000 reconnect cycles.

    .venv/bin/python tests/bench/memory_bench.py [--messages 10000] [--cycles 100] [--sessions 10]

Pairs N sessions on simnet, warms up with 1,000 messages, then records the daemon's RSS:
after the warm-up (baseline), after every 2,000 further messages (all sent), and after every
10 rounds of dropping every session's connection (each round = N reconnects: 100 rounds of 10
sessions = 1,000 reconnect cycles). Flat means the growth after the warm-up stays within the
stated bound; the figures are printed either way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import aiohttp
import asyncpg
from harness import BenchStack, rss_mib
from messages_bench import post_burst, wait_drained

BOUND_MIB = 25.0


async def reconnect_round(stack: BenchStack, http: aiohttp.ClientSession, count: int) -> None:
    async with http.post(f"{stack.control}/drop", json={"all": True}) as resp:
        await resp.read()
    deadline = time.monotonic() + 60
    await asyncio.sleep(0.05)
    while await stack.connected_devices(http) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("sessions did not reconnect")
        await asyncio.sleep(0.02)


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    stack = BenchStack().start()
    try:
        daemon = stack.start_daemon(ZAPHUB_RECONNECT_BASE_S="0.05")
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            await stack.wait_healthy(http)
            ids = await stack.pair_sessions(http, args.sessions)
            pool = await asyncpg.create_pool(stack.pg.url, min_size=1, max_size=2)
            await post_burst(stack, http, ids, 1000, 20, "warm")
            await wait_drained(pool, "warm", 1000)
            await asyncio.sleep(2)
            baseline = rss_mib(daemon.pid)
            messages: list[float] = []
            for chunk in range(args.messages // 2000):
                await post_burst(stack, http, ids, 2000, 20, f"mem{chunk}")
                await wait_drained(pool, f"mem{chunk}", 2000)
                messages.append(round(rss_mib(daemon.pid), 1))
            reconnects: list[float] = []
            for cycle in range(args.cycles):
                await reconnect_round(stack, http, args.sessions)
                if (cycle + 1) % 10 == 0:
                    reconnects.append(round(rss_mib(daemon.pid), 1))
            await pool.close()
            final = rss_mib(daemon.pid)
    finally:
        stack.stop()
    growth = final - baseline
    return {
        "sessions": args.sessions,
        "baseline_rss_mib": round(baseline, 1),
        "rss_every_2000_messages_mib": messages,
        "rss_every_10_reconnect_rounds_mib": reconnects,
        "reconnect_cycles": args.cycles * args.sessions,
        "final_rss_mib": round(final, 1),
        "growth_mib": round(growth, 1),
        "bound_mib": BOUND_MIB,
        "flat": growth <= BOUND_MIB,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--cycles", type=int, default=100, help="rounds of dropping every session")
    parser.add_argument("--sessions", type=int, default=10)
    print(json.dumps(asyncio.run(measure(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
