"""The outbox rule for deliveries: a row written while Redis was away is published later."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import redis.asyncio as aioredis

from zaphubd.db.database import Database
from zaphubd.db.sessions import SessionRepo
from zaphubd.db.webhooks import WebhookRepo
from zaphubd.queue import keys
from zaphubd.queue.producer import Publisher
from zaphubd.webhooks.queueing import DeliveryQueue
from zaphubd.webhooks.sweeper import DeliverySweeper


async def test_a_delivery_whose_publish_failed_is_published_by_the_sweeper(
    db: Database, redis: aioredis.Redis
) -> None:
    sid = uuid.uuid4()
    await SessionRepo(db).create(sid, "t", "https://a.example/h", None, {})
    repo = WebhookRepo(db)
    down = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        offline = DeliveryQueue(repo, Publisher(down))
        delivery_id = await offline.create(
            sid, "chat.presence", {"state": "paused"}, datetime.now(UTC), "https://a.example/h"
        )
    finally:
        await down.aclose()
    row = await repo.get(sid, delivery_id)
    assert row is not None and row.status == "queued"
    assert await redis.xlen(keys.stream(keys.WEBHOOK_DELIVERY)) == 0

    online = DeliveryQueue(repo, Publisher(redis))
    sweeper = DeliverySweeper(repo, online, redis, grace_s=0)
    assert await sweeper.sweep_once() == 1
    entries = await redis.xrange(keys.stream(keys.WEBHOOK_DELIVERY))
    assert len(entries) == 1 and entries[0][1][b"j"] == str(delivery_id).encode()
    assert await sweeper.sweep_once() == 0  # its job is waiting in the stream


async def test_the_sweeper_leaves_deliveries_within_their_grace(
    db: Database, redis: aioredis.Redis
) -> None:
    repo, _ = await _lost_delivery(db, redis)
    queue = DeliveryQueue(repo, Publisher(redis))
    sweeper = DeliverySweeper(repo, queue, redis, grace_s=60)
    assert await sweeper.sweep_once() == 0


async def _lost_delivery(db: Database, redis: aioredis.Redis) -> tuple[WebhookRepo, uuid.UUID]:
    """A queued delivery whose job is gone (the daemon died between the row and the publish)."""
    sid = uuid.uuid4()
    await SessionRepo(db).create(sid, "t", "https://a.example/h", None, {})
    repo = WebhookRepo(db)
    queue = DeliveryQueue(repo, Publisher(redis))
    delivery_id = await queue.create(
        sid, "chat.presence", {}, datetime.now(UTC), "https://a.example/h"
    )
    await redis.delete(keys.stream(keys.WEBHOOK_DELIVERY))
    return repo, delivery_id


async def test_with_no_job_anywhere_the_short_idle_grace_applies(
    db: Database, redis: aioredis.Redis
) -> None:
    repo, delivery_id = await _lost_delivery(db, redis)
    queue = DeliveryQueue(repo, Publisher(redis))
    sweeper = DeliverySweeper(repo, queue, redis, grace_s=3600, idle_grace_s=0)
    assert await sweeper.sweep_once() == 1
    entries = await redis.xrange(keys.stream(keys.WEBHOOK_DELIVERY))
    assert [e[1][b"j"] for e in entries] == [str(delivery_id).encode()]


async def test_a_job_in_flight_keeps_the_full_grace(db: Database, redis: aioredis.Redis) -> None:
    repo, _ = await _lost_delivery(db, redis)
    stream = keys.stream(keys.WEBHOOK_DELIVERY)
    # Another delivery's job, read by a consumer and not acknowledged: it may be any row's.
    await redis.xgroup_create(stream, keys.GROUP, id="0", mkstream=True)
    await redis.xadd(stream, {"j": "other"})
    await redis.xreadgroup(keys.GROUP, "c1", {stream: ">"}, count=1)
    queue = DeliveryQueue(repo, Publisher(redis))
    sweeper = DeliverySweeper(repo, queue, redis, grace_s=3600, idle_grace_s=0)
    assert await sweeper.sweep_once() == 0
