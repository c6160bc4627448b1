"""Idle memory: the daemon's RSS with no session, and after offline neonize sessions ran.

    .venv/bin/python tests/bench/idle_memory_bench.py [--runs 3] [--counts 1,10,100]

Per run: a daemon on the simnet transport, idle (the baseline of the same run); then a daemon
on the default neonize transport, idle, and after each count of sessions was started and
stopped: the sessions are created through the API, try to reach WhatsApp (unreachable from
here, so they fail at once with `retryLimit: 0`), and are deleted; RSS is read after the
daemon settled. Prints the medians over the runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import aiohttp
from harness import BenchStack, rss_mib

SETTLE_S = 3.0


async def settled_rss(pid: int) -> float:
    await asyncio.sleep(SETTLE_S)
    return round(rss_mib(pid), 1)


async def run_sessions(stack: BenchStack, http: aiohttp.ClientSession, count: int) -> None:
    """Start `count` neonize sessions, wait until every one has stopped (failed), delete them."""
    body = {"label": "offline", "config": {"retryLimit": 0}}
    ids = []
    for _ in range(count):
        async with http.post(f"{stack.api}/sessions", json=body) as resp:
            ids.append((await resp.json())["data"]["id"])
    deadline = time.monotonic() + 180
    pending = set(ids)
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} sessions did not stop")
        for sid in list(pending):
            async with http.get(f"{stack.api}/sessions/{sid}") as resp:
                if (await resp.json())["data"]["status"] == "failed":
                    pending.discard(sid)
        await asyncio.sleep(0.5)
    for sid in ids:
        async with http.delete(f"{stack.api}/sessions/{sid}") as resp:
            await resp.read()


async def one_run(counts: list[int]) -> dict[str, float]:
    figures: dict[str, float] = {}
    stack = BenchStack().start()
    try:
        async with aiohttp.ClientSession() as http:
            simnet = stack.start_daemon()
            await stack.wait_healthy(http)
            figures["simnet idle"] = await settled_rss(simnet.pid)
            simnet.terminate()
            simnet.wait(30)
            neonize = stack.start_daemon(
                ZAPHUB_TRANSPORT="neonize", RES_OPTIONS="timeout:1 attempts:1"
            )
            await stack.wait_healthy(http)
            figures["neonize idle"] = await settled_rss(neonize.pid)
            for count in counts:
                await run_sessions(stack, http, count)
                figures[f"neonize after {count}"] = await settled_rss(neonize.pid)
    finally:
        stack.stop()
    return figures


async def main(args: argparse.Namespace) -> dict[str, Any]:
    counts = [int(c) for c in args.counts.split(",")]
    runs = [await one_run(counts) for _ in range(args.runs)]
    return {
        "runs": runs,
        "median_rss_mib": {k: statistics.median(r[k] for r in runs) for k in runs[0]},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--counts", default="1,10,100")
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
