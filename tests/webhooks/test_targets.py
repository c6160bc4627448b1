"""The webhook targets cache: one query per burst, short TTL, explicit invalidation."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from zaphubd.db.database import Database
from zaphubd.db.sessions import SessionRepo
from zaphubd.db.webhook_targets import SessionWebhooks, WebhookTargetRepo
from zaphubd.webhooks.targets import SessionTargets, Targets


class CountingRepo(WebhookTargetRepo):
    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.sessions = SessionRepo(db)
        self.reads = 0

    async def create(self, *args: Any) -> None:
        await self.sessions.create(*args)

    async def update(self, session_id: uuid.UUID, **values: Any) -> None:
        await self.sessions.update(session_id, **values)

    async def load(self, session_id: uuid.UUID) -> SessionWebhooks | None:
        self.reads += 1
        return await super().load(session_id)


def first_of(targets: SessionTargets | None) -> Any:
    assert targets is not None
    return targets.first


async def test_a_burst_costs_one_query_and_changes_show_after_invalidation(db: Database) -> None:
    repo = CountingRepo(db)
    sid = uuid.uuid4()
    await repo.create(sid, "t", "https://a.example/h", None, {"webhookEvents": ["message.*"]})
    targets = Targets(repo, default_secret="global-secret-0123456789", ttl_s=60)
    found = await asyncio.gather(*(targets.get(sid) for _ in range(50)))
    assert repo.reads == 1 and all(t == found[0] for t in found)
    target = first_of(found[0])
    assert target.url == "https://a.example/h"
    assert target.events == ["message.*"] and target.secret == "global-secret-0123456789"
    assert "global-secret" not in repr(target)
    await repo.update(
        sid, webhook_url="https://b.example/h", webhook_secret="own-secret-0123456789"
    )
    assert first_of(await targets.get(sid)) == target  # cached
    targets.invalidate(sid)
    fresh = first_of(await targets.get(sid))
    assert fresh.url == "https://b.example/h"
    assert fresh.secret == "own-secret-0123456789" and repo.reads == 2


async def test_entries_expire_and_unknown_sessions_are_none(db: Database) -> None:
    repo = CountingRepo(db)
    sid = uuid.uuid4()
    await repo.create(sid, "t", None, None, {})
    targets = Targets(repo, default_secret=None, ttl_s=0.05)
    first = first_of(await targets.get(sid))
    assert first.url is None and first.events is None
    await repo.update(sid, webhook_url="https://c.example/h")
    await asyncio.sleep(0.1)
    second = first_of(await targets.get(sid))
    assert second.url == "https://c.example/h"
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
