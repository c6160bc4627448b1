"""The same queue workload on a single Redis and on a 3-master Redis Cluster, in jobs/s.

    .venv/bin/python tests/bench/cluster_bench.py [--jobs 20000] [--runs 3] [--queues 1 6]

Starts a private single Redis and a private 3-master cluster (tests/redis_cluster.py), both
without persistence, on this machine. One run of a workload: one `Consumer` per queue
(no-op handler, concurrency 50) is started, then --jobs jobs are published with
`publish_many` (batches of 500, the queues in turn) while the consumers run; the rate is
jobs / time from the first publish until the last job was handled and every entry is
acknowledged. Runs alternate single / cluster so both see the same machine noise; the median
of --runs is printed per backend, with the cluster's ratio to the single Redis of this run.
With one queue every key lives in one slot, so on the cluster one master does all the work;
with several the queues' slots spread over the masters.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests/bench"))

from queue_bench import Countdown, private_redis  # noqa: E402
from redis.asyncio.cluster import RedisCluster  # noqa: E402

from tests.redis_cluster import start_cluster  # noqa: E402
from zaphubd.queue import Consumer, Publisher, QueueSpec, keys  # noqa: E402
from zaphubd.queue.redis import RedisClient, connect_redis  # noqa: E402

BATCH = 500


async def drained(redis: RedisClient, queues: list[str]) -> bool:
    pipe = redis.pipeline(transaction=False)
    for queue in queues:
        pipe.xlen(keys.stream(queue))
        pipe.xpending(keys.stream(queue), keys.GROUP)
    replies = await pipe.execute()
    return all(int(n) == 0 for n in replies[0::2]) and all(
        int(p["pending"]) == 0 for p in replies[1::2]
    )


async def one_run(redis: RedisClient, jobs: int, queues: list[str]) -> float:
    await redis.flushall()
    handler = Countdown(jobs)
    consumers = [
        Consumer(redis, QueueSpec(q, concurrency=50), handler, consumer_name="bench")
        for q in queues
    ]
    publisher = Publisher(redis)
    await asyncio.gather(*(consumer.start() for consumer in consumers))
    started = time.perf_counter()
    try:
        for n, start in enumerate(range(0, jobs, BATCH)):
            batch = [(None, {"n": i}) for i in range(start, min(start + BATCH, jobs))]
            await publisher.publish_many(queues[n % len(queues)], batch)
        await handler.done.wait()
        while not await drained(redis, queues):
            await asyncio.sleep(0.001)
        elapsed = time.perf_counter() - started
    finally:
        for consumer in consumers:
            await consumer.stop(timeout_s=5)
    return jobs / elapsed


async def masters_used(redis: RedisClient, queues: list[str]) -> int:
    if not isinstance(redis, RedisCluster):
        return 1
    return len({redis.get_node_from_key(keys.stream(q)).name for q in queues})


async def bench(single_url: str, cluster_url: str, jobs: int, runs: int, counts: list[int]) -> str:
    single, cluster = await connect_redis(single_url), await connect_redis(cluster_url)
    lines = [f"{jobs} jobs per run, median of {runs} (jobs/s, enqueue -> handled and acked)"]
    try:
        for count in counts:
            queues = [f"bench-{i}" for i in range(count)]
            rates: dict[str, list[float]] = {"single": [], "cluster": []}
            for _ in range(runs):
                rates["single"].append(await one_run(single, jobs, queues))
                rates["cluster"].append(await one_run(cluster, jobs, queues))
            med = {name: statistics.median(values) for name, values in rates.items()}
            spread = await masters_used(cluster, queues)
            lines.append(f"  {count} queue(s), on {spread} of 3 cluster masters:")
            for name, values in rates.items():
                each = ", ".join(f"{v:.0f}" for v in values)
                lines.append(f"    {name:<8} {med[name]:>8.0f}  ({each})")
            lines.append(f"    cluster / single: {med['cluster'] / med['single']:.2f}x")
    finally:
        await single.aclose()
        await cluster.aclose()
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--queues", type=int, nargs="+", default=[1, 6])
    args = parser.parse_args()
    with private_redis() as single_url, tempfile.TemporaryDirectory(prefix="cb-") as tmp:
        cluster = start_cluster(Path(tmp))
        try:
            print(asyncio.run(bench(single_url, cluster.url, args.jobs, args.runs, args.queues)))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
