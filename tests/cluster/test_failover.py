"""Three nodes share 30 sessions; one is SIGKILLed in the middle of a burst of 300 sends
(the reduced version of tests/cluster/test_faults.py, in `make test`).

Asserted on what the outside world sees: simnet's mailboxes (every accepted message
delivered exactly once, in order per chat), simnet's devices (the dead node's sessions
connected again from the shared credentials, without a new QR, within the lease TTL + 15 s),
and `GET /api/v1/nodes` (an even placement, then the survivors holding everything).
"""

from __future__ import annotations

from pathlib import Path

from tests.cluster.faults import run_fault
from tests.redis_cluster import RedisClusterProcesses


async def test_three_nodes_share_sessions_and_survive_a_sigkill(
    pg_url: str, redis_cluster: RedisClusterProcesses, tmp_path: Path
) -> None:
    await run_fault("sigkill", pg_url, redis_cluster.url, tmp_path, sessions=30, per_chat=10)
