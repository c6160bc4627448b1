"""Backlog benchmark: memory and other sessions' latency while huge backlogs wait.

    .venv/bin/python tests/bench/backlog_bench.py [--runs 3] [--dormant 1000000]
        [--paced 200000] [--others 50] [--rate 200] [--seconds 20]

In each run, on a private Postgres (fsync on), Redis and simnet:
1. a daemon starts; `--others` sessions are paired, one more is paired with
   sendRatePerMinute=60 (the paced one), and one is created and never paired (the dormant
   one, never connected);
2. baseline: a steady `--rate` sends/s spread over the other sessions for `--seconds`
   (open loop); accept->sent p50/p99 from the rows (sent_at - created_at, one clock);
3. `--dormant` sends are queued for the dormant session and `--paced` for the paced one,
   written straight into Postgres as accepted sends are (the API would take minutes), and the
   daemon is restarted so its lanes find the backlog waiting, as after a day's outage;
4. the same steady load again, with the backlog in place.
It prints the daemon's RSS idle before the backlog and with it (after the load), the other
sessions' latency without and with the backlog, and how many of the paced session's sends
went out meanwhile. `run_backlog` is also what the reduced test in `make test` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.bench.harness import BenchStack, rss_mib  # noqa: E402

RECIPIENTS = [f"55118700{n:05d}@s.whatsapp.net" for n in range(20)]
BACKLOG_SQL = """
INSERT INTO messages (id, session_id, message_id, direction, type, to_jid, status, content,
                      queued_at, send_seq)
SELECT gen_random_uuid(), $1, $2 || g, 'outbound', 'text', $3, 'queued',
       jsonb_build_object('text', 'backlog ' || g), now(), nextval('messages_send_seq')
FROM generate_series(1, $4) AS g
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def steady_load(
    api: str, http: aiohttp.ClientSession, sessions: list[str], rate: int, seconds: float, tag: str
) -> int:
    """Open loop: one POST every 1/rate s over `sessions`; returns how many were sent."""
    tasks = []
    started = time.perf_counter()
    count = int(rate * seconds)
    for i in range(count):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        body = {"messageId": f"{tag}-{i}", "to": RECIPIENTS[i % len(RECIPIENTS)], "text": f"{i}"}
        url = f"{api}/sessions/{sessions[i % len(sessions)]}/messages"
        tasks.append(asyncio.create_task(http.post(url, json=body)))
    for response in await asyncio.gather(*tasks):
        if response.status != 201:
            raise RuntimeError(f"POST answered {response.status}: {await response.text()}")
        response.release()
    return count


async def latency(
    pool: asyncpg.Pool, tag: str, count: int, timeout_s: float = 120
) -> dict[str, float]:
    """accept->sent p50/p99 (ms) of the `count` sends of `tag`, once all are sent."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = await pool.fetch(
            """SELECT extract(epoch FROM sent_at - created_at) AS s FROM messages
               WHERE message_id LIKE $1 AND sent_at IS NOT NULL""",
            f"{tag}-%",
        )
        if len(rows) >= count:
            break
        if time.monotonic() > deadline:
            stuck = await pool.fetch(
                """SELECT status, attempts, error_message, count(*) AS n FROM messages
                   WHERE message_id LIKE $1 AND sent_at IS NULL
                   GROUP BY status, attempts, error_message""",
                f"{tag}-%",
            )
            raise RuntimeError(f"only {len(rows)}/{count} of {tag} sent: {stuck}")
        await asyncio.sleep(0.2)
    values = [float(r["s"]) for r in rows]
    return {
        "p50_ms": round(percentile(values, 0.5) * 1000, 2),
        "p99_ms": round(percentile(values, 0.99) * 1000, 2),
    }


async def settle_rss(pid: int, seconds: float = 2.0) -> float:
    """RSS once the daemon has been quiet for a moment (MiB)."""
    await asyncio.sleep(seconds)
    return round(rss_mib(pid), 1)


async def pair_paced(stack: BenchStack, http: aiohttp.ClientSession) -> str:
    body = {"label": "paced", "config": {"sendRatePerMinute": 60}}
    async with http.post(f"{stack.api}/sessions", json=body) as resp:
        sid: str = (await resp.json())["data"]["id"]
    scan = {"device_id": sid, "phone": "5598000000001"}
    while True:
        async with http.post(f"{stack.control}/scan", json=scan) as resp:
            if resp.status == 200:
                return sid
        await asyncio.sleep(0.05)


async def run_backlog(
    dormant: int, paced: int, others: int, rate: int, seconds: float
) -> dict[str, Any]:
    """One run of the scenario of the module docstring, on a stack of its own."""
    stack = BenchStack().start()
    try:
        return await _run(stack, dormant, paced, others, rate, seconds)
    finally:
        stack.stop()


async def _run(
    stack: BenchStack, dormant: int, paced: int, others: int, rate: int, seconds: float
) -> dict[str, Any]:
    env = {"ZAPHUB_RECOVERY_STARTS_PER_S": "1000"}
    daemon = stack.start_daemon(**env)
    pool = await asyncpg.create_pool(stack.pg.url, min_size=1, max_size=4)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        await stack.wait_healthy(http)
        ids = await stack.pair_sessions(http, others)
        paced_id = await pair_paced(stack, http)
        async with http.post(f"{stack.api}/sessions", json={"label": "dormant"}) as resp:
            dormant_id = (await resp.json())["data"]["id"]
        await pool.execute("ANALYZE")
        sent = await steady_load(stack.api, http, ids, rate, seconds, "base")
        base = await latency(pool, "base", sent)
        rss_idle = await settle_rss(daemon.pid)

        started = time.perf_counter()
        await pool.execute(BACKLOG_SQL, dormant_id, "dormant-", RECIPIENTS[0], dormant)
        await pool.execute(BACKLOG_SQL, paced_id, "paced-", RECIPIENTS[1], paced)
        insert_s = time.perf_counter() - started
        # A real backlog builds up over hours; this one arrived in seconds. Let Postgres
        # finish what it would have done meanwhile (vacuum, statistics, a checkpoint of the
        # insert's WAL) so the measurement sees the daemon, not the bulk insert's aftermath.
        await pool.execute("VACUUM ANALYZE messages")
        await pool.execute("CHECKPOINT")
        daemon.terminate()
        daemon.wait(60)
        daemon = stack.start_daemon(**env)
        await stack.wait_healthy(http)
        while await stack.connected_devices(http) < others + 1:
            await asyncio.sleep(0.1)
        rss_backlog_idle = await settle_rss(daemon.pid)
        paced_before = await _sent(pool, "paced-")
        load_started = time.monotonic()
        sent = await steady_load(stack.api, http, ids, rate, seconds, "load")
        loaded = await latency(pool, "load", sent)
        paced_sent = await _sent(pool, "paced-") - paced_before
        load_s = time.monotonic() - load_started
        rss_after = await settle_rss(daemon.pid)
        dormant_left = await pool.fetchval(
            "SELECT count(*) FROM messages WHERE session_id = $1 AND status = 'queued'",
            dormant_id,
        )
    await pool.close()
    return {
        "rss_idle_mib": rss_idle,
        "rss_with_backlog_idle_mib": rss_backlog_idle,
        "rss_with_backlog_after_load_mib": rss_after,
        "rss_growth_mib": round(max(rss_backlog_idle, rss_after) - rss_idle, 1),
        "others_without_backlog": base,
        "others_with_backlog": loaded,
        "paced_sent_during_load": paced_sent,
        "paced_window_s": round(load_s, 1),
        "dormant_still_queued": dormant_left,
        "backlog_insert_s": round(insert_s, 1),
    }


async def _sent(pool: asyncpg.Pool, prefix: str) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM messages WHERE message_id LIKE $1 AND sent_at IS NOT NULL",
        f"{prefix}%",
    )
    return count


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for key, value in runs[0].items():
        if isinstance(value, dict):
            summary[key] = {m: statistics.median(r[key][m] for r in runs) for m in value}
        else:
            summary[key] = statistics.median(r[key] for r in runs)
    return summary


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    runs = []
    for _ in range(args.runs):
        runs.append(
            await run_backlog(args.dormant, args.paced, args.others, args.rate, args.seconds)
        )
        print(json.dumps(runs[-1]), file=sys.stderr)
    return {"runs": runs, "median": summarize(runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dormant", type=int, default=1_000_000)
    parser.add_argument("--paced", type=int, default=200_000)
    parser.add_argument("--others", type=int, default=50)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args)), indent=2))


if __name__ == "__main__":
    main()
