"""The full cluster scenarios of the cluster issue (`make test-all`): 3,000 messages over 30
sessions through random nodes, under a SIGKILL, a SIGTERM drain and a rolling restart of all
three nodes; and 300 sessions placed evenly over three nodes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cluster.faults import FAULTS, run_fault
from tests.cluster.harness import Cluster
from tests.cluster.traffic import pair_many, placed, spread
from tests.redis_cluster import RedisClusterProcesses

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_burst_of_3000_survives(
    fault: str, pg_url: str, redis_cluster: RedisClusterProcesses, tmp_path: Path
) -> None:
    await run_fault(fault, pg_url, redis_cluster.url, tmp_path, sessions=30, per_chat=100)


async def test_300_sessions_are_placed_evenly(
    pg_url: str, redis_cluster: RedisClusterProcesses, tmp_path: Path
) -> None:
    cluster = await Cluster(pg_url, redis_cluster.url, tmp_path, capacity=150).start()
    try:
        await pair_many(cluster, 300)
        per_node = spread(await placed(cluster, 300))
        print(f"\nplacement of 300 sessions: {dict(sorted(per_node.items()))}")
        assert set(per_node) == {"n1", "n2", "n3"}, per_node
        assert all(80 <= n <= 120 for n in per_node.values()), per_node  # even +-20%
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        await cluster.stop()
