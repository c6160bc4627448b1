"""Reaching a Redis Cluster: by the switch as well as by URL, and one slot per queue."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio.cluster import RedisCluster

from tests.redis_cluster import RedisClusterProcesses
from zaphubd.queue import Consumer, Job, Publisher, QueueSpec, keys
from zaphubd.queue.redis import connect_redis


@pytest.mark.parametrize("redis_backend", ["cluster"])
async def test_the_switch_makes_a_plain_url_a_cluster(
    redis_url: str, redis_cluster: RedisClusterProcesses
) -> None:
    client = await connect_redis(f"redis://127.0.0.1:{redis_cluster.ports[-1]}/0", 5, cluster=True)
    try:
        assert isinstance(client, RedisCluster)
        handled: asyncio.Queue[Job] = asyncio.Queue()
        consumer = Consumer(client, QueueSpec("switch-q"), handled.put, consumer_name="n")
        await consumer.start()
        await Publisher(client).publish("switch-q", {"n": 1})
        job = await asyncio.wait_for(handled.get(), 10)
        await consumer.stop(timeout_s=1)
        assert job.data == {"n": 1}
    finally:
        await client.aclose()


def test_each_queue_has_one_slot_and_the_queues_spread_over_the_masters() -> None:
    from redis.crc import key_slot

    slots = {}
    for queue in keys.ALL_QUEUES:
        names = [keys.stream(queue), keys.dead_letters(queue), keys.delayed(queue)]
        names.append(keys.reclaims(queue))
        assert len({key_slot(name.encode()) for name in names}) == 1, names
        slots[queue] = key_slot(keys.stream(queue).encode())
    # 3 masters split 16384 slots in thirds: the queues must not all land on one of them.
    assert len({slot * 3 // 16384 for slot in slots.values()}) > 1
