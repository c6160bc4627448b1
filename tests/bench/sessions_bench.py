"""Session engine benchmark: memory per idle session, and reconnect time after a restart.

    .venv/bin/python tests/bench/sessions_bench.py [--sessions 1000] [--restarts 3]

Starts a private Postgres and Redis, simnet and `zaphubd serve` (simnet transport) as
subprocesses; creates N sessions through the API and pairs them through simnet's control API.
Then it measures:
- RSS of the daemon with no session (baseline, same run) and with N idle connected sessions;
  the difference per session is the figure (the simnet transport is pure Python, so this is
  all Python-side memory);
- for each restart (SIGTERM, start again): seconds from the new process's start until all N
  sessions are connected again (counted by simnet: real sockets, not stored statuses), and
  from "healthy" until then. Medians are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import time
from typing import Any

import aiohttp
from harness import BenchStack, rss_mib


async def wait_connected(stack: BenchStack, http: aiohttp.ClientSession, n: int) -> None:
    deadline = time.monotonic() + 300
    while await stack.connected_devices(http) < n:
        if time.monotonic() > deadline:
            raise RuntimeError("sessions did not reconnect in 300 s")
        await asyncio.sleep(0.1)


async def measure(stack: BenchStack, count: int, restarts: int) -> dict[str, Any]:
    env = {"ZAPHUB_MAX_CONCURRENT_SESSIONS": str(count + 100)}
    async with aiohttp.ClientSession() as http:
        daemon = stack.start_daemon(**env)
        await stack.wait_healthy(http)
        await asyncio.sleep(2)
        baseline = rss_mib(daemon.pid)
        started = time.monotonic()
        await stack.pair_sessions(http, count)
        create_s = time.monotonic() - started
        await asyncio.sleep(5)  # idle
        loaded = rss_mib(daemon.pid)
        results: dict[str, Any] = {
            "sessions": count,
            "baseline_rss_mib": round(baseline, 1),
            "loaded_rss_mib": round(loaded, 1),
            "kib_per_session": round((loaded - baseline) * 1024 / count, 1),
            "create_and_pair_s": round(create_s, 1),
            "restart_to_all_connected_s": [],
            "healthy_to_all_connected_s": [],
            "rss_after_restart_mib": [],
        }
        for _ in range(restarts):
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(60)
            assert await stack.connected_devices(http) == 0
            t0 = time.monotonic()
            daemon = stack.start_daemon(**env)
            await stack.wait_healthy(http)
            t_healthy = time.monotonic()
            await wait_connected(stack, http, count)
            t_done = time.monotonic()
            results["restart_to_all_connected_s"].append(round(t_done - t0, 2))
            results["healthy_to_all_connected_s"].append(round(t_done - t_healthy, 2))
            await asyncio.sleep(5)
            results["rss_after_restart_mib"].append(round(rss_mib(daemon.pid), 1))
        for key in ("restart_to_all_connected_s", "healthy_to_all_connected_s"):
            results[key + "_median"] = statistics.median(results[key])
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--restarts", type=int, default=3)
    args = parser.parse_args()
    stack = BenchStack().start()
    try:
        results = asyncio.run(measure(stack, args.sessions, args.restarts))
    finally:
        stack.stop()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
