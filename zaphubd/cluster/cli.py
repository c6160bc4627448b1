"""`zaphubd nodes`: the live nodes and their sessions, read from Postgres and Redis."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import asyncpg

from zaphubd.cluster.overview import ClusterView, cluster_view
from zaphubd.db.database import Database
from zaphubd.db.nodes import NodeRepo
from zaphubd.db.sessions import SessionRepo
from zaphubd.errors import MigrationError
from zaphubd.queue.redis import connect_redis
from zaphubd.sessions.lease import LeaseKeeper
from zaphubd.settings import Settings


async def read_cluster(settings: Settings) -> ClusterView:
    db = await Database.connect(
        settings.database_url, min_size=1, max_size=2, startup_timeout_s=settings.startup_timeout_s
    )
    try:
        redis = await connect_redis(
            settings.redis_url, settings.startup_timeout_s, cluster=settings.redis_cluster
        )
        try:
            leases = LeaseKeeper(redis, "zaphubd-nodes-cli", settings.session_lease_ttl_s)
            try:
                live = await NodeRepo(db).live(settings.session_lease_ttl_s * 2 / 3)
            except asyncpg.UndefinedTableError as err:
                raise MigrationError("no nodes table: run `zaphubd migrate` first") from err
            return await cluster_view(live, SessionRepo(db), leases.holders)
        finally:
            await redis.aclose()
    finally:
        await db.close()


def render(view: ClusterView, as_json: bool) -> str:
    if as_json:
        return json.dumps(
            {
                "nodes": [
                    {
                        "node_id": n.node_id,
                        "version": n.version,
                        "capacity": n.capacity,
                        "draining": n.draining,
                        "started_at": n.started_at.isoformat(),
                        "heartbeat_at": n.heartbeat_at.isoformat(),
                        "sessions": [str(s) for s in n.sessions],
                    }
                    for n in view.nodes
                ],
                "unplaced_sessions": [str(s) for s in view.unplaced],
            }
        )
    now = datetime.now(UTC)
    lines = [f"{'NODE':<24} {'VERSION':<10} {'SESSIONS':>8} {'CAPACITY':>8} {'STATE':<9} UP"]
    for n in view.nodes:
        state = "draining" if n.draining else "live"
        up = _duration((now - n.started_at).total_seconds())
        lines.append(
            f"{n.node_id:<24} {n.version:<10} {len(n.sessions):>8} {n.capacity:>8} {state:<9} {up}"
        )
    if not view.nodes:
        lines.append("(no live node)")
    lines.append(f"unplaced sessions: {len(view.unplaced)}")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
