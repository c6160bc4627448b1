"""Webhook benchmark: deliveries per second, and a healthy receiver's delay beside a dead one.

    .venv/bin/python tests/bench/webhook_bench.py [--deliveries 20000] [--runs 3] [--json]

Starts a private Postgres and Redis (appendonly, as in production) and the receivers in a
second process (aiohttp on loopback: one port answers 200 at once, one never answers). The
webhook parts run in this process exactly as the daemon wires them (`webhooks.assembly.build`,
EventSink listener, one queue Consumer), without the HTTP API or sessions.

- throughput: N events are recorded through the EventSink with the consumer stopped (each
  becomes a delivery row and a queued job), then the consumer starts; deliveries/s is N over
  the time until the receiver has all N, and "recorded" until every row is `delivered`.
- healthy delay: the consumer runs; events are emitted at a steady rate for one session whose
  receiver answers at once, and (second case) at the same rate for another session whose
  receiver never answers (timeout ZAPHUB_WEBHOOK_TIMEOUT_MS=2000, so attempts time out and are
  retried during the run). p50/p99 of enqueue-to-receipt latency for the healthy receiver.

Each measurement is repeated `--runs` times on an emptied database; medians are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CollectorRegistry

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.services import localservices  # noqa: E402
from zaphubd.db.database import Database  # noqa: E402
from zaphubd.db.events import EventRepo  # noqa: E402
from zaphubd.db.migrations import migrate  # noqa: E402
from zaphubd.db.sessions import SessionRepo  # noqa: E402
from zaphubd.eventsink import EventSink  # noqa: E402
from zaphubd.queue.consumer import Consumer  # noqa: E402
from zaphubd.queue.producer import Publisher  # noqa: E402
from zaphubd.settings import Settings  # noqa: E402
from zaphubd.webhooks import assembly  # noqa: E402

RATE_PER_S = 500  # events per second per session in the delay runs
DELAY_RUN_S = 8.0
TICK_S = 0.02


# -- the receivers (a separate process) ----------------------------------------------------


class Hook(asyncio.Protocol):
    """A minimal HTTP/1.1 keep-alive receiver: the benchmark measures zaphubd, so the
    receiver should cost as little as it can (aiohttp's server would take a third of a
    core at these rates, on the same two cores)."""

    def __init__(self, latencies_ms: list[float] | None) -> None:
        self.latencies_ms = latencies_ms  # None: never answer (a dead receiver)
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (request := self._next_request()) is not None:
            if self.latencies_ms is None:
                continue
            sent_at = orjson.loads(request)["payload"]["t"]
            self.latencies_ms.append((time.time() - sent_at) * 1000)
            assert self.transport is not None
            self.transport.write(OK_RESPONSE)

    def _next_request(self) -> bytes | None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(self.buffer[:end]).lower()
        at = head.find(b"content-length:")
        length = int(head[at + 15 :].split(b"\r\n", 1)[0]) if at >= 0 else 0
        if len(self.buffer) < end + 4 + length:
            return None
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        return body


OK_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


def serve_receivers(ok_port: int, dead_port: int, control_port: int) -> None:
    """`ok_port` answers 200 and notes each event's delay; `dead_port` never answers;
    `control_port` reports and resets what `ok_port` saw."""
    latencies_ms: list[float] = []

    async def count(request: web.Request) -> web.Response:
        return web.Response(text=str(len(latencies_ms)))

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"count": len(latencies_ms), "latencies_ms": latencies_ms})

    async def reset(request: web.Request) -> web.Response:
        latencies_ms.clear()
        return web.json_response({})

    async def run() -> None:
        loop = asyncio.get_running_loop()
        await loop.create_server(lambda: Hook(latencies_ms), "127.0.0.1", ok_port)
        await loop.create_server(lambda: Hook(None), "127.0.0.1", dead_port)
        control = web.Application()
        control.router.add_get("/count", count)
        control.router.add_get("/stats", stats)
        control.router.add_post("/reset", reset)
        runner = web.AppRunner(control, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", control_port).start()
        await asyncio.Event().wait()

    asyncio.run(run())


class Receivers:
    def __init__(self, workdir: Path) -> None:
        ports: list[int] = []
        while len(ports) < 3:  # free_port may hand out the same port twice in a row
            port = localservices.free_port()
            if port not in ports:
                ports.append(port)
        self.ok_url = f"http://127.0.0.1:{ports[0]}/hook"
        self.dead_url = f"http://127.0.0.1:{ports[1]}/hook"
        self._base = f"http://127.0.0.1:{ports[2]}"
        log = open(workdir / "receivers.log", "ab")  # noqa: SIM115 - lives with the process
        args = [sys.executable, __file__, "--serve-receivers", *map(str, ports)]
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)

    async def stats(self, http: aiohttp.ClientSession) -> dict[str, Any]:
        async with http.get(self._base + "/stats") as resp:
            result: dict[str, Any] = await resp.json()
            return result

    async def count(self, http: aiohttp.ClientSession) -> int:
        async with http.get(self._base + "/count") as resp:
            return int(await resp.text())

    async def reset(self, http: aiohttp.ClientSession) -> None:
        """Forget what was received (waiting for the process to listen, the first time)."""
        while self.proc.poll() is None:
            try:
                async with http.post(self._base + "/reset") as resp:
                    resp.raise_for_status()
                    return
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
        raise RuntimeError(f"the receivers exited ({self.proc.returncode}); see receivers.log")

    async def wait_count(self, http: aiohttp.ClientSession, n: int, timeout_s: float) -> float:
        deadline = time.perf_counter() + timeout_s
        while (got := await self.count(http)) < n:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"receiver got {got}/{n}")
            await asyncio.sleep(0.02)
        return time.perf_counter()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# -- where the CPU goes --------------------------------------------------------------------


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(ppid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == ppid:
                found.append(int(entry.name))
    return found


class CpuMeter:
    """CPU seconds spent by each part of the set-up between `start` and `stop`."""

    def __init__(self, pg_datadir: Path, redis_datadir: Path, receiver_pid: int) -> None:
        postmaster = int((pg_datadir / "postmaster.pid").read_text().split()[0])
        self._pids = {
            "postgres": lambda: [postmaster, *_children(postmaster)],
            "redis": lambda: [int((redis_datadir / "redis.pid").read_text().strip())],
            "receiver": lambda: [receiver_pid],
        }
        self._started: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        now = {name: sum(_cpu_s(p) for p in pids()) for name, pids in self._pids.items()}
        now["zaphubd (this process)"] = time.process_time()
        return now

    def start(self) -> None:
        self._started = self._now()

    def stop(self, wall_s: float) -> dict[str, float]:
        now = self._now()
        used = {name: round(now[name] - self._started[name], 2) for name in now}
        used["wall"] = round(wall_s, 2)
        return used


# -- the webhook parts, in process ------------------------------------------------------------


class Rig:
    """One run's webhook parts on the benchmark's Postgres and Redis."""

    def __init__(self, db: Database, redis: aioredis.Redis, settings: Settings) -> None:
        self.db, self.redis, self.settings = db, redis, settings
        self.sink = EventSink(EventRepo(db))
        self.registry = CollectorRegistry()
        services = assembly.Services(
            db, redis, Publisher(redis), self.sink, SessionRepo(db), self.registry
        )
        self.hooks = assembly.build(settings, services)
        self.sink.subscribe(self.hooks.listener)
        dispatcher = self.hooks.dispatcher
        self.consumer = Consumer(
            redis,
            self.hooks.spec,
            dispatcher.handle,
            consumer_name="bench",
            on_dead=dispatcher.on_dead,
        )
        dispatcher.bind(self.consumer)

    async def session(self, url: str) -> uuid.UUID:
        sid = uuid.uuid4()
        await SessionRepo(self.db).create(sid, "bench", url, "bench-secret-0123456789", {})
        return sid

    async def emit(self, sid: uuid.UUID) -> None:
        await self.sink.emit(sid, "message.received", {"t": time.time(), "text": "hello"})

    async def delivered(self) -> int:
        return int(
            await self.db.fetchval(
                "SELECT count(*) FROM webhook_deliveries WHERE status='delivered'"
            )
        )

    async def close(self) -> None:
        await self.consumer.stop(5)
        await self.hooks.close()


async def empty(db: Database, redis: aioredis.Redis) -> None:
    await db.execute("TRUNCATE sessions CASCADE")
    await redis.flushdb()


async def throughput_run(
    db: Database,
    redis: aioredis.Redis,
    settings: Settings,
    receivers: Receivers,
    n: int,
    cpu: CpuMeter,
) -> dict[str, Any]:
    await empty(db, redis)
    rig = Rig(db, redis, settings)
    sid = await rig.session(receivers.ok_url)
    limit = asyncio.Semaphore(256)

    async def one() -> None:
        async with limit:
            await rig.emit(sid)

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    enqueue_s = time.perf_counter() - started
    async with aiohttp.ClientSession() as http:
        await receivers.reset(http)
        cpu.start()
        started = time.perf_counter()
        await rig.consumer.start()
        received_at = await receivers.wait_count(http, n, timeout_s=300)
        while await rig.delivered() < n:
            await asyncio.sleep(0.01)
        recorded_at = time.perf_counter()
        cpu_s = cpu.stop(recorded_at - started)
    deferred = rig.registry.get_sample_value("zaphubd_webhook_deferred_total") or 0
    await rig.close()
    return {
        "deferred": deferred,
        "enqueue_per_s": round(n / enqueue_s),
        "deliveries_per_s": round(n / (received_at - started)),
        "recorded_per_s": round(n / (recorded_at - started)),
        "zaphubd_cpu_us_per_delivery": round(cpu_s["zaphubd (this process)"] / n * 1e6),
        "cpu_s": cpu_s,
    }


async def delay_run(
    db: Database, redis: aioredis.Redis, settings: Settings, receivers: Receivers, with_dead: bool
) -> dict[str, float]:
    await empty(db, redis)
    rig = Rig(db, redis, settings)
    healthy = await rig.session(receivers.ok_url)
    dead = await rig.session(receivers.dead_url) if with_dead else None
    async with aiohttp.ClientSession() as http:
        await receivers.reset(http)
        await rig.consumer.start()
        sent = await steady_load(rig, healthy, dead)
        await receivers.wait_count(http, sent, timeout_s=120)
        latencies = sorted((await receivers.stats(http))["latencies_ms"])
    deferred = rig.registry.get_sample_value("zaphubd_webhook_deferred_total") or 0
    attempts = rig.registry.get_sample_value("zaphubd_webhook_attempts_total", {"outcome": "retry"})
    await rig.close()
    return {
        "healthy_events": sent,
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1),
        "max_ms": round(latencies[-1], 1),
        "dead_host_deferrals": deferred,
        "dead_host_failed_attempts": attempts or 0,
    }


async def steady_load(rig: Rig, healthy: uuid.UUID, dead: uuid.UUID | None) -> int:
    """Emit RATE_PER_S events per second per session for DELAY_RUN_S; return the healthy count."""
    per_tick = max(1, round(RATE_PER_S * TICK_S))
    ticks = round(DELAY_RUN_S / TICK_S)
    started = time.perf_counter()
    for tick in range(ticks):
        batch = [rig.emit(healthy) for _ in range(per_tick)]
        if dead is not None:
            batch += [rig.emit(dead) for _ in range(per_tick)]
        await asyncio.gather(*batch)
        await asyncio.sleep(max(0.0, started + (tick + 1) * TICK_S - time.perf_counter()))
    return per_tick * ticks


# -- main ----------------------------------------------------------------------------------


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        key: statistics.median(r[key] for r in runs)
        for key, value in runs[0].items()
        if isinstance(value, int | float)
    }


async def measure(
    pg_url: str, redis_url: str, receivers: Receivers, cpu: CpuMeter, args: Any
) -> dict[str, Any]:
    conn = await asyncpg.connect(pg_url)
    await migrate(conn)
    await conn.close()
    db = await Database.connect(pg_url, min_size=5, max_size=20)
    redis = aioredis.Redis.from_url(redis_url)
    base = {"database_url": pg_url, "redis_url": redis_url, "webhook_allow_private": True}
    fast = Settings(**base)  # type: ignore[arg-type]
    timing_out = Settings(**base, webhook_timeout_ms=2000)  # type: ignore[arg-type]
    try:
        results: dict[str, Any] = {"deliveries": args.deliveries, "runs": args.runs}
        runs = [
            await throughput_run(db, redis, fast, receivers, args.deliveries, cpu)
            for _ in range(args.runs)
        ]
        results["throughput_runs"], results["throughput"] = runs, medians(runs)
        for name, with_dead in (("healthy_alone", False), ("healthy_beside_dead", True)):
            runs = [
                await delay_run(db, redis, timing_out, receivers, with_dead)
                for _ in range(args.runs)
            ]
            results[name + "_runs"], results[name] = runs, medians(runs)
        return results
    finally:
        await redis.aclose()
        await db.close()


def summary(results: dict[str, Any]) -> str:
    t, alone, dead = results["throughput"], results["healthy_alone"], results["healthy_beside_dead"]
    return "\n".join(
        [
            f"medians of {results['runs']} runs, {results['deliveries']} deliveries each",
            f"  deliveries/s to the receiver: {t['deliveries_per_s']:.0f} (target >= 5000: "
            f"{'met' if t['deliveries_per_s'] >= 5000 else 'MISSED'})",
            f"  deliveries/s recorded:        {t['recorded_per_s']:.0f}",
            f"  events enqueued/s (emit -> row + job): {t['enqueue_per_s']:.0f}",
            f"  healthy receiver alone:       p50 {alone['p50_ms']} ms, p99 {alone['p99_ms']} ms",
            f"  beside a dead receiver:       p50 {dead['p50_ms']} ms, p99 {dead['p99_ms']} ms "
            f"(dead host: {dead['dead_host_deferrals']:.0f} deferrals, "
            f"{dead['dead_host_failed_attempts']:.0f} timed-out attempts)",
        ]
    )


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--serve-receivers":
        serve_receivers(*map(int, sys.argv[2:]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the raw results as JSON")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="zaphubd-webhook-bench-"))
    os.chmod(workdir, 0o755)
    pg = localservices.Postgres(workdir / "pg", localservices.free_port())
    redis = localservices.Redis(workdir / "redis", localservices.free_port())
    receivers = Receivers(workdir)
    try:
        pg.ensure(fast=False)
        redis.ensure(appendonly=True)
        cpu = CpuMeter(pg.datadir, redis.datadir, receivers.proc.pid)
        results = asyncio.run(measure(pg.url, redis.url, receivers, cpu, args))
    finally:
        receivers.stop()
        pg.stop()
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(results, indent=2) if args.json else summary(results))


if __name__ == "__main__":
    main()
