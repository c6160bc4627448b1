"""The nodes table: which zaphubd processes are alive, their capacity and load."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

import asyncpg

from zaphubd.db.database import Database


@dataclass(frozen=True, slots=True)
class NodeRow:
    node_id: str
    version: str
    capacity: int
    sessions: int
    draining: bool
    started_at: datetime
    heartbeat_at: datetime

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> NodeRow:
        return cls(**{f.name: record[f.name] for f in fields(cls)})

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.sessions)


_COLUMNS = ", ".join(f.name for f in fields(NodeRow))
_BEAT = """
INSERT INTO nodes (node_id, version, capacity, sessions, draining, started_at, heartbeat_at)
VALUES ($1, $2, $3, $4, $5, $6, now())
ON CONFLICT (node_id) DO UPDATE SET version = EXCLUDED.version, capacity = EXCLUDED.capacity,
    sessions = EXCLUDED.sessions, draining = EXCLUDED.draining,
    started_at = EXCLUDED.started_at, heartbeat_at = now()
"""


class NodeRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def beat(
        self,
        node_id: str,
        version: str,
        capacity: int,
        sessions: int,
        draining: bool,
        started_at: datetime,
    ) -> None:
        await self._db.execute(_BEAT, node_id, version, capacity, sessions, draining, started_at)

    async def live(self, within_s: float) -> list[NodeRow]:
        """Nodes whose last heartbeat is at most `within_s` old, by node id."""
        records = await self._db.fetch(
            f"""SELECT {_COLUMNS} FROM nodes
                WHERE heartbeat_at > now() - make_interval(secs => $1)
                ORDER BY node_id""",
            within_s,
        )
        return [NodeRow.from_record(r) for r in records]

    async def remove(self, node_id: str) -> None:
        await self._db.execute("DELETE FROM nodes WHERE node_id = $1", node_id)

    async def forget_dead(self, older_than_s: float) -> int:
        """Delete rows of nodes silent for `older_than_s` (crashed, never restarted)."""
        status = await self._db.execute(
            "DELETE FROM nodes WHERE heartbeat_at < now() - make_interval(secs => $1)",
            older_than_s,
        )
        return int(status.split()[-1])
