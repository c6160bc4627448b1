"""Upgrading a single Redis from the queue key names before hash tags: nothing is lost."""

from __future__ import annotations

import asyncio
import time

import pytest

from zaphubd.queue import Consumer, Job, QueueSpec, keys
from zaphubd.queue.job import delayed_member
from zaphubd.queue.keymigration import CHUNK, migrate_queue_keys
from zaphubd.queue.redis import RedisClient

Q = keys.WEBHOOK_DELIVERY
OLD_STREAM, OLD_DLQ, OLD_DELAYED, OLD_RECLAIMS = keys.legacy_queue_keys(Q)
single = pytest.mark.parametrize("redis_backend", ["single"])


def entry(n: int) -> dict[str, str]:
    return {"j": f"job-{n}", "d": f'{{"n":{n}}}', "a": "0", "t": str(int(time.time() * 1000))}


async def old_layout(redis: RedisClient, entries: int = 3, taken: int = 2) -> None:
    """What an old daemon leaves: a stream with a group and pending entries, and the rest."""
    await redis.xgroup_create(OLD_STREAM, keys.GROUP, id="0", mkstream=True)
    for n in range(entries):
        await redis.xadd(OLD_STREAM, entry(n))  # type: ignore[arg-type]
    await redis.xreadgroup(keys.GROUP, "node-a", {OLD_STREAM: ">"}, count=taken)
    due = int(time.time() * 1000) - 1000
    await redis.zadd(OLD_DELAYED, {delayed_member("late", b'{"n":"late"}', 1, due): due})
    await redis.xadd(OLD_DLQ, {**entry(99), "error": "gave up"})  # type: ignore[arg-type]
    await redis.hset(OLD_RECLAIMS, "1-0", 2)


async def handled_by(redis: RedisClient, count: int) -> list[object]:
    seen: list[object] = []

    async def handler(job: Job) -> None:
        seen.append(job.data["n"])

    consumer = Consumer(redis, QueueSpec(Q), handler, consumer_name="node-a")
    await consumer.start()
    try:
        deadline = time.monotonic() + 10
        while len(seen) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # a duplicate would show itself now
    finally:
        await consumer.stop(timeout_s=1)
    return seen


@single
async def test_rename_keeps_the_group_and_its_pending_entries(redis: RedisClient) -> None:
    await old_layout(redis)
    done = await migrate_queue_keys(redis)
    assert set(done) == {OLD_STREAM, OLD_DLQ, OLD_DELAYED, OLD_RECLAIMS}
    assert all(what.startswith("renamed") for what in done.values())
    assert not await redis.exists(OLD_STREAM, OLD_DLQ, OLD_DELAYED, OLD_RECLAIMS)
    pending = await redis.xpending(keys.stream(Q), keys.GROUP)
    assert pending["pending"] == 2
    assert pending["consumers"] == [{"name": b"node-a", "pending": 2}]
    assert await redis.xlen(keys.dead_letters(Q)) == 1
    assert await redis.hget(keys.reclaims(Q), "1-0") == b"2"
    assert await migrate_queue_keys(redis) == {}  # a second start finds nothing to do
    # The node that had taken two entries re-reads them; the untaken one and the delayed
    # job arrive as well: four jobs, each once.
    assert sorted(map(str, await handled_by(redis, 4))) == ["0", "1", "2", "late"]


@single
async def test_old_keys_written_after_the_new_ones_exist_are_merged(redis: RedisClient) -> None:
    await old_layout(redis, entries=CHUNK * 2 + 7, taken=5)
    await redis.xgroup_create(keys.stream(Q), keys.GROUP, id="0", mkstream=True)
    await redis.xadd(keys.stream(Q), entry(-1))  # type: ignore[arg-type]
    later = int(time.time() * 1000) + 3_600_000
    await redis.zadd(keys.delayed(Q), {delayed_member("other", b"{}", 0, later): later})
    await redis.xadd(keys.dead_letters(Q), {"j": "x", "error": "new"})
    await redis.hset(keys.reclaims(Q), mapping={"1-0": 1, "2-0": 4})

    done = await migrate_queue_keys(redis)

    assert done[OLD_STREAM] == f"merged into {keys.stream(Q)} ({CHUNK * 2 + 7} item(s))"
    assert not await redis.exists(OLD_STREAM, OLD_DLQ, OLD_DELAYED, OLD_RECLAIMS)
    assert await redis.xlen(keys.stream(Q)) == CHUNK * 2 + 8
    assert await redis.zcard(keys.delayed(Q)) == 2
    assert await redis.xlen(keys.dead_letters(Q)) == 2
    assert await redis.hgetall(keys.reclaims(Q)) == {b"1-0": b"2", b"2-0": b"4"}
    seen = await handled_by(redis, CHUNK * 2 + 9)
    assert sorted(map(str, seen)) == sorted([*map(str, range(-1, CHUNK * 2 + 7)), "late"])


@single
async def test_the_daemon_moves_old_keys_at_startup(redis: RedisClient, api) -> None:  # type: ignore[no-untyped-def]
    await old_layout(redis)
    await api()
    assert not await redis.exists(OLD_STREAM, OLD_DLQ, OLD_DELAYED, OLD_RECLAIMS)
    # The daemon's own consumer may be reading the untaken entry already; node-a's two
    # entries stay its own until the visibility timeout.
    consumers = (await redis.xpending(keys.stream(Q), keys.GROUP))["consumers"]
    assert {"name": b"node-a", "pending": 2} in consumers


@pytest.mark.parametrize("redis_backend", ["cluster"])
async def test_a_cluster_is_left_alone(redis: RedisClient) -> None:
    await redis.xadd(OLD_STREAM, entry(1))  # type: ignore[arg-type]
    assert await migrate_queue_keys(redis) == {}
    assert await redis.xlen(OLD_STREAM) == 1
