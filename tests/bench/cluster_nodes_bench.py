"""Cluster benchmark: what routing through several nodes costs, and how fast a dead node's
sessions come back.

    .venv/bin/python tests/bench/cluster_nodes_bench.py [--runs 3] [--only routing recovery drain]
        [--sessions 30] [--messages 2000] [--clients 32] [--rate 100] [--seconds 10]
        [--recover 10 100 300] [--ttl 30] [--drain 100]

Everything runs on this machine: a private Postgres (fsync on), a private 3-master Redis
Cluster, simnet, and `zaphubd serve` processes (tests/cluster/harness.py, the same nodes the
cluster tests run, with a fresh database per scenario). Three scenarios:

routing   `--sessions` sessions on one node, then the same spread over three nodes (even
          placement). After a warm-up burst of 1,000 sends (every pool grown), a burst of
          `--messages` POST /messages by `--clients` concurrent clients, each to a random
          node (accepted/s), then a steady `--rate`/s for `--seconds` (open loop) whose
          accept->sent p50/p99 is read from the rows (sent_at - created_at: one clock).
          With three nodes two sends in three are accepted by a node that does not own the
          session, so they cross the queue to the owner. The same three nodes with every
          send posted to the session's owner separate the cost of routing from that of
          three processes sharing two cores. The CPU the nodes and Postgres (with its
          backends) spent per send of the burst comes from /proc.
recovery  for each count in `--recover`: that many sessions paired on one node, a second
          node started, the first SIGKILLed; seconds until every session is connected on the
          second (simnet's devices) and the cluster says so, at lease TTL `--ttl`.
drain     `--drain` sessions on one node, a second started, SIGTERM on the first: seconds
          until every session is connected on the second.
Medians of `--runs` runs; the scenarios' runs alternate so they share the machine's noise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests/bench"))

from backlog_bench import latency  # noqa: E402
from messages_bench import closed_loop  # noqa: E402

from tests.cluster.harness import Cluster, eventually  # noqa: E402
from tests.cluster.traffic import all_connected, pair_many, placed, recipient  # noqa: E402
from tests.redis_cluster import RedisClusterProcesses, start_cluster  # noqa: E402
from tests.services import localservices  # noqa: E402


class Stack:
    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="zaphubd-cluster-bench-"))
        os.chmod(self.tmp, 0o755)  # initdb runs as the postgres user when we are root
        self.pg = localservices.Postgres(self.tmp / "pg", localservices.free_port())
        self.redis: RedisClusterProcesses | None = None

    def start(self) -> Stack:
        self.pg.ensure(fast=False)
        self.redis = start_cluster(self.tmp / "redis")
        return self

    async def cluster(self, **options: Any) -> Cluster:
        name = "bench_" + uuid.uuid4().hex[:12]
        admin = await asyncpg.connect(self.pg.url)
        try:
            await admin.execute(f"CREATE DATABASE {name}")
        finally:
            await admin.close()
        assert self.redis is not None
        url = self.pg.url.rsplit("/", 1)[0] + "/" + name
        run_dir = self.tmp / name
        run_dir.mkdir()
        return await Cluster(url, self.redis.url, run_dir, **options).start()

    def cpu(self, cluster: Cluster) -> dict[str, float]:
        """CPU seconds used so far by the nodes, and by this Postgres and its backends."""
        nodes = [n.proc.pid for n in cluster.nodes.values() if n.proc and n.proc.poll() is None]
        postmaster = int((self.pg.datadir / "postmaster.pid").read_text().split()[0])
        backends = [pid for pid in _pids() if _ppid(pid) == postmaster]
        return {
            "daemons": sum(map(_cpu_s, nodes)),
            "postgres": sum(map(_cpu_s, [postmaster, *backends])),
        }

    def stop(self) -> None:
        if self.redis:
            self.redis.stop()
        self.pg.stop()


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _stat(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # gone meanwhile
        return []


def _ppid(pid: int) -> int:
    stat = _stat(pid)
    return int(stat[1]) if stat else -1


def _cpu_s(pid: int) -> float:
    stat = _stat(pid)  # utime and stime, in clock ticks
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK") if stat else 0.0


async def routing(stack: Stack, size: int, aim: str, args: argparse.Namespace) -> dict[str, float]:
    """`aim`: each send to a random node ("random") or to the session's owner ("owner")."""
    cluster = await stack.cluster(size=size, capacity=args.sessions)
    try:
        sids = await pair_many(cluster, args.sessions)
        owners = await placed(cluster, args.sessions)
        urls = [node.url for node in cluster.nodes.values()]
        tag = uuid.uuid4().hex[:8]

        def node_for(sid: str) -> str:
            return cluster.nodes[owners[sid]].url if aim == "owner" else random.choice(urls)

        async def post(i: int, prefix: str) -> None:
            chat = i % len(sids)
            body = {"messageId": f"{prefix}-{i}", "to": recipient(chat), "text": f"{i}"}
            url = f"{node_for(sids[chat])}/api/v1/sessions/{sids[chat]}/messages"
            async with cluster.http.post(url, json=body) as resp:
                if resp.status != 201:
                    raise RuntimeError(f"POST answered {resp.status}: {await resp.text()}")

        pool = await asyncpg.create_pool(cluster.pg_url, min_size=1, max_size=2)
        try:
            # Warm: every node's Postgres pool grown and its statements prepared, as in a
            # daemon that has been serving for a while (cold pools cost three times here).
            await closed_loop(WARMUP, args.clients, lambda i: post(i, f"w{tag}"))
            await latency(pool, f"w{tag}", WARMUP, timeout_s=300)
            before = stack.cpu(cluster)
            burst = await closed_loop(args.messages, args.clients, lambda i: post(i, f"b{tag}"))
            await latency(pool, f"b{tag}", args.messages, timeout_s=300)
            cpu = {k: (v - before[k]) * 1000 / args.messages for k, v in stack.cpu(cluster).items()}
            steady = await _steady(args, lambda i: post(i, f"s{tag}"))
            sent = await latency(pool, f"s{tag}", steady)
        finally:
            await pool.close()
        return {
            "accepted_per_s": burst["per_s"],
            **sent,
            "daemons_cpu_ms_per_send": round(cpu["daemons"], 2),
            "postgres_cpu_ms_per_send": round(cpu["postgres"], 2),
        }
    finally:
        await cluster.stop()


async def _steady(args: argparse.Namespace, post: Any) -> int:
    count = int(args.rate * args.seconds)
    started = time.perf_counter()
    tasks = []
    for i in range(count):
        delay = started + i / args.rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(post(i)))
    await asyncio.gather(*tasks)
    return count


async def takeover(stack: Stack, count: int, ttl: float, fault: signal.Signals) -> float:
    """`count` sessions on n1, n2 started, `fault` to n1: seconds until all run on n2."""
    cluster = await stack.cluster(size=1, capacity=count + 10, lease_ttl_s=ttl)
    try:
        sids = await pair_many(cluster, count)
        await placed(cluster, count)
        await cluster.add_node("n2")
        cluster.nodes["n1"].signal(fault)
        started = time.monotonic()

        async def on_n2() -> bool:
            owners = await cluster.owners()
            return all(owners.get(sid) == "n2" for sid in sids) and (
                await all_connected(cluster, sids)
            )

        await eventually(on_n2, ttl + 120, 0.05)
        return round(time.monotonic() - started, 2)
    finally:
        await cluster.stop()


WARMUP = 1000
#: One node; three nodes with every send to the session's owner (three processes on two
#: cores, no routing); three with every send to a random node (two in three routed).
ROUTINGS = (("routing_1", 1, "owner"), ("routing_3_owner", 3, "owner"), ("routing_3", 3, "random"))


def median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    stack = Stack().start()
    runs: dict[str, list[Any]] = {}
    try:
        for _ in range(args.runs):
            if "routing" in args.only:
                for name, size, aim in ROUTINGS:
                    runs.setdefault(name, []).append(await routing(stack, size, aim, args))
            if "recovery" in args.only:
                for count in args.recover:
                    took = await takeover(stack, count, args.ttl, signal.SIGKILL)
                    runs.setdefault(f"recovery_{count}", []).append(took)
            if "drain" in args.only:
                took = await takeover(stack, args.drain, args.ttl, signal.SIGTERM)
                runs.setdefault(f"drain_{args.drain}", []).append(took)
            print(json.dumps(runs), file=sys.stderr)
    finally:
        stack.stop()
    return summarize(runs, args)


def summarize(runs: dict[str, list[Any]], args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"runs": runs, "ttl_s": args.ttl}
    for name, values in runs.items():
        if name.startswith("routing"):
            result[name] = {k: median([v[k] for v in values]) for k in values[0]}
        else:
            result[name + "_s"] = median(values)
    one = result.get("routing_1")
    for name in ("routing_3_owner", "routing_3"):
        if one and name in result:
            result[f"{name}_vs_1"] = {k: round(result[name][k] / one[k], 2) for k in one}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", nargs="+", default=["routing", "recovery", "drain"])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--recover", type=int, nargs="+", default=[10, 100, 300])
    parser.add_argument("--ttl", type=float, default=30.0)
    parser.add_argument("--drain", type=int, default=100)
    print(json.dumps(asyncio.run(main_async(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
