"""An event recorded without its delivery (the daemon died in between) is still delivered."""

from __future__ import annotations

import uuid
from typing import Any

import redis.asyncio as aioredis

from zaphubd.db.database import Database
from zaphubd.db.events import EventRepo, EventRow
from zaphubd.db.sessions import SessionRepo
from zaphubd.db.webhook_targets import WebhookTargetRepo, first_webhook_id
from zaphubd.db.webhooks import DeliveryFilter, WebhookRepo, event_delivery_id
from zaphubd.queue import keys
from zaphubd.queue.producer import Publisher
from zaphubd.webhooks.catchup import EventCatchUp
from zaphubd.webhooks.listener import WebhookListener
from zaphubd.webhooks.queueing import DeliveryQueue
from zaphubd.webhooks.targets import GLOBAL_WEBHOOK_ID, Target, Targets

URL = "https://hooks.example/in"


def parts(db: Database, redis: aioredis.Redis) -> tuple[WebhookRepo, WebhookListener]:
    repo = WebhookRepo(db)
    listener = WebhookListener(
        Targets(WebhookTargetRepo(db), None), DeliveryQueue(repo, Publisher(redis))
    )
    return repo, listener


async def session(db: Database, config: dict[str, Any] | None = None) -> uuid.UUID:
    sid = uuid.uuid4()
    await SessionRepo(db).create(sid, "t", URL, None, config or {})
    return sid


async def record_only(db: Database, sid: uuid.UUID, name: str = "message.received") -> EventRow:
    """An event whose listener never ran, as after a crash between the two writes."""
    return await EventRepo(db).insert(sid, name, name.split(".")[0], {"messageId": "X"})


async def jobs(redis: aioredis.Redis) -> list[bytes]:
    entries = await redis.xrange(keys.stream(keys.WEBHOOK_DELIVERY))
    return [fields[b"j"] for _, fields in entries]


async def test_a_missed_event_is_delivered_once_after_its_round(
    db: Database, redis: aioredis.Redis
) -> None:
    repo, listener = parts(db, redis)
    catchup = EventCatchUp(repo, listener, redis)
    assert await catchup.sweep_once() == 0  # first start: nothing before now is owed
    sid = await session(db)
    quiet = await session(db, {"webhookEvents": ["session.*"]})
    missed = await record_only(db, sid)
    filtered = await record_only(db, quiet)
    handled = await record_only(db, sid, "message.sent")
    await listener(handled)  # the normal path
    assert await catchup.sweep_once() == 0  # younger than the round's bound: left alone
    assert await catchup.sweep_once() == 1
    row = await repo.get(sid, event_delivery_id(missed.id))
    assert row is not None and row.status == "queued" and row.event == "message.received"
    assert row.body["deliveryId"] == str(row.id) and row.body["payload"] == {"messageId": "X"}
    assert await repo.get(quiet, event_delivery_id(filtered.id)) is None
    assert sorted(await jobs(redis)) == sorted(
        str(event_delivery_id(e.id)).encode() for e in (handled, missed)
    )
    assert await catchup.sweep_once() == 0


async def test_the_listener_and_the_catch_up_together_make_one_delivery(
    db: Database, redis: aioredis.Redis
) -> None:
    repo, listener = parts(db, redis)
    sid = await session(db)
    event = await record_only(db, sid)
    await listener(event)
    await listener(event)  # the catch-up handing it over again
    page, total = await repo.list_page(DeliveryFilter(sid), 10, 0)
    assert total == 1 and page[0].id == event_delivery_id(event.id)
    assert await jobs(redis) == [str(event_delivery_id(event.id)).encode()]


async def test_a_restart_resumes_where_the_last_round_ended(
    db: Database, redis: aioredis.Redis
) -> None:
    repo, listener = parts(db, redis)
    before = EventCatchUp(repo, listener, redis)
    await before.sweep_once()
    await before.sweep_once()
    sid = await session(db)
    missed = await record_only(db, sid)  # the daemon dies before its listener runs
    after = EventCatchUp(repo, listener, redis)  # a new process: the cursor is in Redis
    assert await after.sweep_once() == 1
    assert await repo.get(sid, event_delivery_id(missed.id)) is not None


async def test_events_from_before_the_url_was_set_are_not_caught_up(
    db: Database, redis: aioredis.Redis
) -> None:
    repo, listener = parts(db, redis)
    catchup = EventCatchUp(repo, listener, redis)
    await catchup.sweep_once()
    sid = uuid.uuid4()
    await SessionRepo(db).create(sid, "t", None, None, {})
    before = await record_only(db, sid)  # no URL yet: nobody was to be told
    await SessionRepo(db).update(sid, webhook_url=URL)
    after = await record_only(db, sid)  # missed after the URL was set
    await catchup.sweep_once()
    assert await catchup.sweep_once() == 1
    assert await repo.get(sid, event_delivery_id(before.id)) is None
    assert await repo.get(sid, event_delivery_id(after.id)) is not None


async def test_every_webhook_of_an_event_is_caught_up_and_the_global_one_too(
    db: Database, redis: aioredis.Redis
) -> None:
    hook = Target(GLOBAL_WEBHOOK_ID, "https://all.example/in", None, ["message.*"])
    repo, queue = WebhookRepo(db), DeliveryQueue(WebhookRepo(db), Publisher(redis))
    listener = WebhookListener(Targets(WebhookTargetRepo(db), None, global_=hook), queue)
    catchup = EventCatchUp(repo, listener, redis, global_hook=(GLOBAL_WEBHOOK_ID, hook.events))
    await catchup.sweep_once()
    sid, targets = await session(db), WebhookTargetRepo(db)
    other = await targets.add(sid, {"url": "https://two.example/in"}, cap=5)
    off = await targets.add(sid, {"url": "https://off.example/in", "enabled": False}, cap=5)
    assert other is not None and off is not None
    missed = await record_only(db, sid)
    quiet = await record_only(db, sid, "session.connected")  # outside the global filter
    await catchup.sweep_once()
    assert await catchup.sweep_once() == 2
    for webhook_id in (None, other.id, GLOBAL_WEBHOOK_ID):
        row = await repo.get(sid, event_delivery_id(missed.id, webhook_id))
        assert row is not None and row.webhook_id == webhook_id
    assert await repo.get(sid, event_delivery_id(missed.id, off.id)) is None
    assert await repo.get(sid, event_delivery_id(quiet.id, GLOBAL_WEBHOOK_ID)) is None
    assert await repo.get(sid, event_delivery_id(quiet.id, other.id)) is not None
    page, total = await repo.list_page(DeliveryFilter(sid, webhook_id=first_webhook_id(sid)), 9, 0)
    assert total == 2 and {r.webhook_id for r in page} == {None}
    assert await catchup.sweep_once() == 0
