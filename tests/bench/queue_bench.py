"""Queue throughput: publish (batched, and one at a time) and consume, in jobs/s.

    .venv/bin/python tests/bench/queue_bench.py [--redis-url URL] [--jobs 20000] [--runs 3]
                                                [--batch 500] [--json]

Without --redis-url a private Redis (no persistence) is started for the run and stopped at
exit; with it, that database is FLUSHED before every run, so point it at a private server.
Each run starts from an empty database and measures, like tests/bench/bullmq/bench.js:

- publish_50_in_flight: `Publisher.publish`, 50 calls in flight, until all returned;
- publish_batched: `Publisher.publish_many` in batches of --batch, one after the other;
- consume: one `Consumer` (no-op handler, concurrency 50, default read batch) started on the
  jobs of publish_batched, timed from `start()` until every job is acknowledged (the stream
  is empty and nothing is pending).

The median of the runs is printed per measurement (and the single runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from redis.asyncio.cluster import RedisCluster

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import localservices  # noqa: E402  (scripts/ is no package)

from zaphubd.queue import Consumer, Job, Publisher, QueueSpec, keys  # noqa: E402
from zaphubd.queue.redis import RedisClient, connect_redis  # noqa: E402

QUEUE = "bench"
MEASUREMENTS = ("publish_50_in_flight", "publish_batched", "consume")


@dataclass
class Options:
    jobs: int
    runs: int
    batch: int
    in_flight: int
    concurrency: int


@dataclass
class Result:
    implementation: str
    jobs: int
    batch: int
    in_flight: int
    concurrency: int
    runs: dict[str, list[float]] = field(default_factory=dict)
    median: dict[str, float] = field(default_factory=dict)


class Countdown:
    """The no-op handler: counts the jobs it saw and wakes the timer at the last one."""

    def __init__(self, jobs: int) -> None:
        self.left = jobs
        self.done = asyncio.Event()

    async def __call__(self, job: Job) -> None:
        self.left -= 1
        if self.left <= 0:
            self.done.set()


async def time_publish_in_flight(redis: RedisClient, opts: Options) -> float:
    publisher = Publisher(redis)
    numbers = iter(range(opts.jobs))

    async def lane() -> None:
        for n in numbers:
            await publisher.publish(QUEUE, {"n": n})

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(opts.in_flight):
            group.create_task(lane())
    return opts.jobs / (time.perf_counter() - started)


async def time_publish_batched(redis: RedisClient, opts: Options) -> float:
    publisher = Publisher(redis)
    started = time.perf_counter()
    for start in range(0, opts.jobs, opts.batch):
        end = min(start + opts.batch, opts.jobs)
        await publisher.publish_many(QUEUE, [(None, {"n": n}) for n in range(start, end)])
    return opts.jobs / (time.perf_counter() - started)


async def all_acknowledged(redis: RedisClient) -> bool:
    stream = keys.stream(QUEUE)
    pipe = redis.pipeline(transaction=False)
    pipe.xlen(stream)
    pipe.xpending(stream, keys.GROUP)
    length, pending = await pipe.execute()
    return int(length) == 0 and int(pending["pending"]) == 0


async def time_consume(redis: RedisClient, opts: Options) -> float:
    handler = Countdown(opts.jobs)
    spec = QueueSpec(QUEUE, concurrency=opts.concurrency)
    consumer = Consumer(redis, spec, handler, consumer_name="bench")
    started = time.perf_counter()
    await consumer.start()
    try:
        # Counting in the handler keeps the poll off Redis until the last job ran.
        await handler.done.wait()
        while not await all_acknowledged(redis):
            await asyncio.sleep(0.001)
        elapsed = time.perf_counter() - started
    finally:
        await consumer.stop(timeout_s=5)
    return opts.jobs / elapsed


async def flush(redis: RedisClient) -> None:
    """Empty the database; on a cluster, every master."""
    await (redis.flushall() if isinstance(redis, RedisCluster) else redis.flushdb())


async def bench(url: str, opts: Options) -> Result:
    redis = await connect_redis(url)
    result = Result("zaphubd", opts.jobs, opts.batch, opts.in_flight, opts.concurrency)
    result.runs = {name: [] for name in MEASUREMENTS}
    try:
        for _ in range(opts.runs):
            await flush(redis)
            result.runs["publish_50_in_flight"].append(await time_publish_in_flight(redis, opts))
            await flush(redis)
            result.runs["publish_batched"].append(await time_publish_batched(redis, opts))
            result.runs["consume"].append(await time_consume(redis, opts))
        await flush(redis)
    finally:
        await redis.aclose()
    result.median = {name: statistics.median(rates) for name, rates in result.runs.items()}
    return result


@contextmanager
def private_redis() -> Iterator[str]:
    """A throwaway Redis without persistence; stopped (and its directory removed) at exit."""
    with tempfile.TemporaryDirectory(prefix="queue-bench-") as tmp:
        server = localservices.Redis(Path(tmp) / "redis", localservices.free_port())
        server.ensure(appendonly=False)
        try:
            yield server.url
        finally:
            server.stop()
            deadline = time.monotonic() + 5
            while localservices.port_open(server.port) and time.monotonic() < deadline:
                time.sleep(0.05)


def report(result: Result) -> str:
    lines = [f"zaphubd queue, {result.jobs} jobs, median of {len(result.runs['consume'])}:"]
    for name, rates in result.runs.items():
        each = ", ".join(f"{rate:.0f}" for rate in rates)
        lines.append(f"  {name:<22} {result.median[name]:>8.0f} jobs/s  ({each})")
    return "\n".join(lines)


def parse_args() -> tuple[str | None, Options, bool]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis-url", help="use this Redis (its db is flushed!)")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500, help="jobs per publish_many")
    parser.add_argument("--in-flight", type=int, default=50, help="concurrent publish calls")
    parser.add_argument("--concurrency", type=int, default=50, help="consumer concurrency")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    opts = Options(args.jobs, args.runs, args.batch, args.in_flight, args.concurrency)
    return args.redis_url, opts, args.json


def main() -> None:
    url, opts, as_json = parse_args()
    if url:
        result = asyncio.run(bench(url, opts))
    else:
        with private_redis() as private_url:
            result = asyncio.run(bench(private_url, opts))
    print(json.dumps(asdict(result)) if as_json else report(result))


if __name__ == "__main__":
    main()
