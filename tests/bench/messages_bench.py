"""Messaging benchmark: POST /messages throughput and latency, and send latency end to end.

    .venv/bin/python tests/bench/messages_bench.py [--runs 3] [--messages 5000] [--sessions 10]

In one run, against the same private Postgres (durable: fsync on) and Redis (appendonly):
(a) the floor: a plain asyncpg + redis script doing what accepting a send needs at minimum,
    one INSERT and one XADD per message, at 10 and 50 concurrent clients;
    then `POST /messages` on the real daemon at 10 and 50 concurrent clients while the sends
    really flow to simnet (N sessions, paired through simnet): accepted/s, p50/p99 latency,
    the ratio to the floor, and how fast the sends drained;
(b) end-to-end latency from accept to `sent` at a steady 200 messages/s (open loop),
    read from the rows (sent_at - created_at: one clock, no polling error);
(c) the same burst with sessions that have a webhook URL (every event also becomes a
    delivery to a local receiver), to show what event fan-out costs (`--webhooks`).
Medians of `--runs` runs are printed, with every run's figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg
import redis.asyncio as aioredis
from aiohttp import web
from harness import BenchStack

RECIPIENTS = [f"55118800{n:05d}@s.whatsapp.net" for n in range(20)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def closed_loop(
    n: int, clients: int, op: Callable[[int], Awaitable[None]]
) -> dict[str, float]:
    """Run `op(i)` for i < n with `clients` concurrent workers; throughput and latency."""
    latencies: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            started = time.perf_counter()
            await op(i)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return {
        "per_s": round(n / elapsed),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
    }


async def floor(stack: BenchStack, n: int, clients: int) -> dict[str, float]:
    """One INSERT + one XADD per message, nothing else: the least a durable accept costs."""
    pool = await asyncpg.create_pool(stack.pg.url, min_size=clients, max_size=clients)
    redis = aioredis.Redis.from_url(stack.redis.url, max_connections=clients)
    sid = uuid.uuid4()
    await pool.execute("INSERT INTO sessions (id, label) VALUES ($1, 'floor')", sid)
    run = uuid.uuid4().hex[:8]

    async def op(i: int) -> None:
        row_id = uuid.uuid4()
        await pool.execute(
            """INSERT INTO messages (id, session_id, message_id, direction, type, to_jid, status,
                                     content, queued_at)
               VALUES ($1, $2, $3, 'outbound', 'text', $4, 'queued', '{"text":"hi"}', now())""",
            row_id,
            sid,
            f"floor-{run}-{i}",
            RECIPIENTS[i % len(RECIPIENTS)],
        )
        await redis.xadd("bench:floor", {"id": str(row_id), "session_id": str(sid)})

    try:
        return await closed_loop(n, clients, op)
    finally:
        await pool.execute("DELETE FROM sessions WHERE id=$1", sid)  # and its messages
        await redis.delete("bench:floor")
        await redis.aclose()
        await pool.close()


async def post_burst(
    stack: BenchStack,
    http: aiohttp.ClientSession,
    sessions: list[str],
    n: int,
    clients: int,
    tag: str,
) -> dict[str, float]:
    async def op(i: int) -> None:
        sid = sessions[i % len(sessions)]
        body = {"messageId": f"{tag}-{i}", "to": RECIPIENTS[i % len(RECIPIENTS)], "text": f"m{i}"}
        async with http.post(f"{stack.api}/sessions/{sid}/messages", json=body) as resp:
            if resp.status != 201:
                raise RuntimeError(f"POST answered {resp.status}: {await resp.text()}")
            await resp.read()

    return await closed_loop(n, clients, op)


async def wait_drained(pool: asyncpg.Pool, tag: str, n: int, timeout_s: float = 600) -> float:
    """Seconds until all `n` sends of `tag` are at least `sent`."""
    started = time.monotonic()
    while True:
        done = await pool.fetchval(
            """SELECT count(*) FROM messages
               WHERE message_id LIKE $1 AND status IN ('sent', 'delivered', 'read')""",
            f"{tag}-%",
        )
        if done >= n:
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(f"only {done}/{n} sent")
        await asyncio.sleep(0.1)


async def send_latency(pool: asyncpg.Pool, tag: str) -> dict[str, float]:
    rows = await pool.fetch(
        """SELECT extract(epoch FROM sent_at - created_at) AS s FROM messages
           WHERE message_id LIKE $1""",
        f"{tag}-%",
    )
    values = [float(r["s"]) for r in rows]
    return {
        "p50_ms": round(percentile(values, 0.5) * 1000, 1),
        "p99_ms": round(percentile(values, 0.99) * 1000, 1),
    }


async def steady(
    stack: BenchStack,
    http: aiohttp.ClientSession,
    sessions: list[str],
    rate: int,
    seconds: int,
    tag: str,
) -> None:
    """Open loop: one POST every 1/rate s, whatever the answers take."""
    tasks = []
    started = time.perf_counter()
    for i in range(rate * seconds):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        body = {"messageId": f"{tag}-{i}", "to": RECIPIENTS[i % len(RECIPIENTS)], "text": f"s{i}"}
        tasks.append(
            asyncio.create_task(
                http.post(f"{stack.api}/sessions/{sessions[i % len(sessions)]}/messages", json=body)
            )
        )
    for response in await asyncio.gather(*tasks):
        response.release()


async def receiver() -> tuple[web.AppRunner, str, list[int]]:
    """A local webhook receiver that answers 200 at once and counts what it got."""
    got = [0]

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        got[0] += 1
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/hook", got


async def one_run(stack: BenchStack, run: int, n: int, ids: list[str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    pool = await asyncpg.create_pool(stack.pg.url, min_size=2, max_size=4)
    # What autovacuum does within a minute or two in production. Without it, a fresh
    # database keeps the planner's first guess (a table of a few rows) through the runs: the
    # receipts UPDATE then walks a session's whole outbound history by the direction index
    # instead of the unique WhatsApp-id index, and each run is slower than the one before.
    await pool.execute("ANALYZE")
    for clients in (10, 50):
        results[f"floor_c{clients}"] = await floor(stack, n, clients)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        for clients in (10, 50):
            tag = f"r{run}c{clients}"
            results[f"daemon_c{clients}"] = await post_burst(stack, http, ids, n, clients, tag)
            results[f"daemon_c{clients}"]["drain_s"] = round(await wait_drained(pool, tag, n), 2)
            results[f"daemon_c{clients}"]["ratio_to_floor"] = round(
                results[f"daemon_c{clients}"]["per_s"] / results[f"floor_c{clients}"]["per_s"], 2
            )
        tag = f"r{run}steady"
        await steady(stack, http, ids, 200, 15, tag)
        await wait_drained(pool, tag, 200 * 15)
        results["steady_200_per_s"] = await send_latency(pool, tag)
    await pool.close()
    return results


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for key, value in runs[0].items():
        summary[key] = {metric: statistics.median(r[key][metric] for r in runs) for metric in value}
    return summary


async def prepare(
    stack: BenchStack, session_count: int, webhooks: bool
) -> tuple[list[str], web.AppRunner | None, list[int]]:
    runner, got = None, [0]
    async with aiohttp.ClientSession() as http:
        await stack.wait_healthy(http)
        ids = await stack.pair_sessions(http, session_count)
        if webhooks:
            runner, url, got = await receiver()
            for sid in ids:
                await http.patch(f"{stack.api}/sessions/{sid}", json={"webhook_url": url})
    return ids, runner, got


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    stack = BenchStack().start()
    try:
        env = {"ZAPHUB_MEDIA_ALLOW_PRIVATE": "true", "ZAPHUB_WEBHOOK_ALLOW_PRIVATE": "true"}
        stack.start_daemon(**env)
        ids, runner, got = await prepare(stack, args.sessions, args.webhooks)
        runs = [await one_run(stack, run, args.messages, ids) for run in range(args.runs)]
        if runner is not None:
            await runner.cleanup()
        return {
            "runs": runs,
            "median": summarize(runs),
            "webhooks": args.webhooks,
            "webhook_deliveries": got[0],
        }
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument(
        "--webhooks", action="store_true", help="sessions deliver events to a local receiver"
    )
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args)), indent=2))


if __name__ == "__main__":
    main()
