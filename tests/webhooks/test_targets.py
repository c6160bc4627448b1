"""The session lookup cache: one query per burst, short TTL, explicit invalidation."""

from __future__ import annotations

import asyncio
import uuid

from zaphubd.db.database import Database
from zaphubd.db.sessions import SessionRepo, SessionRow
from zaphubd.webhooks.targets import Targets


class CountingRepo(SessionRepo):
    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.reads = 0

    async def get(self, session_id: uuid.UUID) -> SessionRow | None:
        self.reads += 1
        return await super().get(session_id)


async def test_a_burst_costs_one_query_and_changes_show_after_invalidation(db: Database) -> None:
    repo = CountingRepo(db)
    sid = uuid.uuid4()
    await repo.create(sid, "t", "https://a.example/h", None, {"webhookEvents": ["message.*"]})
    targets = Targets(repo, default_secret="global-secret-0123456789", ttl_s=60)
    found = await asyncio.gather(*(targets.get(sid) for _ in range(50)))
    assert repo.reads == 1 and all(t == found[0] for t in found)
    target = found[0]
    assert target is not None and target.url == "https://a.example/h"
    assert target.events == ["message.*"] and target.secret == "global-secret-0123456789"
    assert "global-secret" not in repr(target)
    await repo.update(
        sid, webhook_url="https://b.example/h", webhook_secret="own-secret-0123456789"
    )
    assert (await targets.get(sid)) == target  # cached
    targets.invalidate(sid)
    fresh = await targets.get(sid)
    assert fresh is not None and fresh.url == "https://b.example/h"
    assert fresh.secret == "own-secret-0123456789" and repo.reads == 2


async def test_entries_expire_and_unknown_sessions_are_none(db: Database) -> None:
    repo = CountingRepo(db)
    sid = uuid.uuid4()
    await repo.create(sid, "t", None, None, {})
    targets = Targets(repo, default_secret=None, ttl_s=0.05)
    first = await targets.get(sid)
    assert first is not None and first.url is None and first.events is None
    await repo.update(sid, webhook_url="https://c.example/h")
    await asyncio.sleep(0.1)
    second = await targets.get(sid)
    assert second is not None and second.url == "https://c.example/h"
    assert await targets.get(uuid.uuid4()) is None


async def test_a_load_in_flight_during_invalidation_is_not_kept(db: Database) -> None:
    repo = CountingRepo(db)
    sid = uuid.uuid4()
    await repo.create(sid, "t", "https://a.example/h", None, {})
    targets = Targets(repo, default_secret=None, ttl_s=60)
    loading = asyncio.create_task(targets.get(sid))
    await asyncio.sleep(0)
    targets.invalidate(sid)  # the row changed while the old value was being read
    await loading
    await targets.get(sid)
    assert repo.reads == 2
