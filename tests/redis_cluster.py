"""A real 3-master Redis Cluster on loopback, for the tests and the benchmarks.

Three `redis-server --cluster-enabled yes` on free ports, each in its own directory, joined
by `redis-cli --cluster create` (no replicas); ready once every node says cluster_state:ok.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.services import localservices

MASTERS = 3


@dataclass
class RedisClusterProcesses:
    nodes: list[object]  # localservices.Redis

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]  # type: ignore[attr-defined]

    @property
    def url(self) -> str:
        """The daemon's ZAPHUB_REDIS_URL for this cluster (every node a starting point)."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()  # type: ignore[attr-defined]


def start_cluster(base: Path, masters: int = MASTERS) -> RedisClusterProcesses:
    cli = shutil.which("redis-cli")
    if not cli:
        raise RuntimeError("redis-cli not found: install the 'redis-tools' package")
    nodes = []
    for index in range(masters):
        node = localservices.Redis(base / f"node{index}", localservices.free_port())
        # The bus port defaults to port + 10000, which may be taken or past 65535: pick one.
        bus = str(localservices.free_port())
        node.ensure(
            appendonly=False,
            extra=("--cluster-enabled", "yes", "--cluster-port", bus),
        )
        nodes.append(node)
    cluster = RedisClusterProcesses(nodes)
    try:
        created = subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in cluster.ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if created.returncode:
            raise RuntimeError(f"redis-cli --cluster create failed:\n{created.stdout}")
        _wait_ok(cli, cluster.ports)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _wait_ok(cli: str, ports: list[int], timeout_s: float = 30) -> None:
    # `--cluster create` returns once the slots are assigned; the nodes agree a moment later.
    deadline = time.monotonic() + timeout_s
    pending = list(ports)
    while pending:
        info = subprocess.run(
            [cli, "-p", str(pending[0]), "cluster", "info"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        if "cluster_state:ok" in info:
            pending.pop(0)
            continue
        if time.monotonic() > deadline:
            raise RuntimeError(f"redis cluster not ok after {timeout_s}s:\n{info}")
        time.sleep(0.05)
