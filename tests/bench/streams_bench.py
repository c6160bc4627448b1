"""Event stream memory: the daemon's RSS with 200 open streams, reading and stalled.

    .venv/bin/python tests/bench/streams_bench.py [--runs 3] [--streams 200]

Per run, one daemon on simnet (auth off, ZAPHUB_STREAM_MAX_PER_KEY raised so one client may
hold them all):
- `idle`: settled RSS with no stream (the baseline of the same run);
- `open`: with `--streams` streams open on `/api/v1/events/stream`;
- `reading`: after a burst of 2,000 events (1 KB payload each, written straight into the
  events table) that every stream read to the end;
- `stalled`: the same streams' clients stop reading, and another burst of 2,000 events is
  written; RSS once the daemon has settled (its writes block, buffers are capped).
The issue's target: 200 open streams cost less than 20 MB (`open` - `idle`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from typing import Any

import aiohttp
import asyncpg
from harness import BenchStack, rss_mib

SETTLE_S = 3.0
BURST = 2000


async def settled(pid: int) -> float:
    await asyncio.sleep(SETTLE_S)
    return round(rss_mib(pid), 1)


async def burst(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(
            """INSERT INTO events (session_id, event_type, event_category, payload)
               SELECT NULL, 'message.received', 'message',
                      jsonb_build_object('n', g, 'pad', repeat(md5(g::text), 32))
               FROM generate_series(1, $1) AS g""",
            BURST,
        )
    finally:
        await conn.close()


async def read_events(resp: aiohttp.ClientResponse, count: int) -> None:
    seen = 0
    while seen < count:
        line = await resp.content.readline()
        if not line:
            raise RuntimeError("a stream ended early")
        if line.startswith(b"data:"):
            seen += 1


async def one_run(streams: int) -> dict[str, float]:
    stack = BenchStack().start()
    figures: dict[str, float] = {}
    try:
        daemon = stack.start_daemon(
            ZAPHUB_STREAM_MAX_PER_KEY=str(streams), ZAPHUB_STREAM_HEARTBEAT_S="300"
        )
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout()
        ) as http:
            await stack.wait_healthy(http)
            figures["idle"] = await settled(daemon.pid)
            opened = [await http.get(f"{stack.api}/events/stream") for _ in range(streams)]
            assert all(r.status == 200 for r in opened)
            figures["open"] = await settled(daemon.pid)
            await burst(stack.pg.url)
            await asyncio.gather(*(read_events(r, BURST) for r in opened))
            figures["reading"] = await settled(daemon.pid)
            await burst(stack.pg.url)  # nobody reads these
            figures["stalled"] = await settled(daemon.pid)
            for resp in opened:
                resp.close()
    finally:
        stack.stop()
    return figures


async def main(args: argparse.Namespace) -> dict[str, Any]:
    runs = [await one_run(args.streams) for _ in range(args.runs)]
    medians = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    per_run_cost = [r["open"] - r["idle"] for r in runs]
    return {
        "streams": args.streams,
        "runs": runs,
        "median_rss_mib": medians,
        "open_minus_idle_mib": round(statistics.median(per_run_cost), 1),
        "stalled_minus_idle_mib": round(
            statistics.median(r["stalled"] - r["idle"] for r in runs), 1
        ),
        "target_open_below_mib": 20,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--streams", type=int, default=200)
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
