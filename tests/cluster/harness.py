"""Several `zaphubd serve` processes on one Postgres, one Redis Cluster and one simnet."""

from __future__ import annotations

import asyncio
import itertools
import random
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.daemon_process import DaemonProcess, simnet_env
from tests.simnet_process import SimnetProcess
from zaphubd.queue.redis import client_from_url

#: Short enough for a test, long enough for a loaded 2-core machine.
LEASE_TTL_S = 6.0


async def flush_redis(url: str) -> None:
    client = client_from_url(url)
    try:
        await client.flushall()
    finally:
        await client.aclose()


@dataclass
class Cluster:
    pg_url: str
    redis_url: str
    tmp: Path
    size: int = 3
    capacity: int = 40
    lease_ttl_s: float = LEASE_TTL_S
    simnet: SimnetProcess = field(init=False)
    nodes: dict[str, DaemonProcess] = field(default_factory=dict)
    paused: set[str] = field(default_factory=set)  # SIGSTOPped: alive, but answers nothing
    #: A node's own ZAPHUB_REDIS_URL (through a TcpProxy, to partition it from Redis).
    redis_urls: dict[str, str] = field(default_factory=dict)
    http: aiohttp.ClientSession = field(init=False)

    async def start(self) -> Cluster:
        await flush_redis(self.redis_url)
        self.simnet = SimnetProcess(self.tmp / "simnet.log").start()
        for index in range(1, self.size + 1):
            self.nodes[f"n{index}"] = self._node(f"n{index}").start()
        for node in self.nodes.values():
            await asyncio.to_thread(node.wait_healthy, 60)
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        return self

    def _node(self, node_id: str) -> DaemonProcess:
        env = simnet_env(
            self.pg_url,
            self.redis_urls.get(node_id, self.redis_url),
            self.simnet.ws_url,
            self.tmp / f"auth-{node_id}",  # per node: nothing may be shared through the disk
            NODE_ID=node_id,
            MAX_CONCURRENT_SESSIONS=str(self.capacity),
            SESSION_LEASE_TTL_S=str(self.lease_ttl_s),
            RECONNECT_BASE_S="0.3",
            QUEUE_VISIBILITY_TIMEOUT_S="5",
            SEND_POLL_S="2",
        )
        return DaemonProcess(env, self.tmp / f"{node_id}.log")

    async def add_node(self, node_id: str) -> DaemonProcess:
        node = self.nodes[node_id] = self._node(node_id).start()
        await asyncio.to_thread(node.wait_healthy, 60)
        return node

    async def stop(self) -> None:
        for node_id in list(self.paused):
            self.nodes[node_id].signal(signal.SIGCONT)
        await self.http.close()
        for node in self.nodes.values():
            await asyncio.to_thread(node.stop)
        self.simnet.stop()

    def live(self) -> list[DaemonProcess]:
        return [
            n
            for node_id, n in self.nodes.items()
            if n.proc and n.proc.poll() is None and node_id not in self.paused
        ]

    def any_node(self) -> Iterator[DaemonProcess]:
        """Live nodes in a random order (an API client behind a load balancer)."""
        while True:
            nodes = self.live()
            random.shuffle(nodes)
            yield from itertools.islice(nodes, len(nodes))

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """The call on a random live node; on a connection error, on the next one (what a
        client behind a load balancer sees when a node dies)."""
        last: Exception | None = None
        for node in itertools.islice(self.any_node(), 6):
            try:
                async with self.http.request(method, node.url + path, json=body) as resp:
                    return resp.status, await resp.json()
            except (aiohttp.ClientConnectionError, TimeoutError) as err:
                last = err
        raise AssertionError(f"no node answered {method} {path}: {last}")

    async def on(self, node_id: str, method: str, path: str) -> tuple[int, Any]:
        async with self.http.request(method, self.nodes[node_id].url + path) as resp:
            return resp.status, await resp.json()

    async def nodes_view(self) -> dict[str, Any]:
        status, body = await self.call("GET", "/api/v1/nodes")
        assert status == 200, body
        return body["data"]

    async def owners(self) -> dict[str, str]:
        """session id -> node id, as the cluster reports it."""
        view = await self.nodes_view()
        return {sid: n["node_id"] for n in view["nodes"] for sid in n["sessions"]}

    def logs(self) -> str:
        return "\n".join(f"--- {nid}\n{n.logs()[-4000:]}" for nid, n in self.nodes.items())


async def eventually(probe: Any, timeout_s: float, interval_s: float = 0.2) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    last = None
    while asyncio.get_running_loop().time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s}s (last: {last!r})")
