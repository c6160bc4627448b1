"""Publishing: batches through one script, coalesced single publishes, outages surfaced."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from tests.services import localservices
from zaphubd.errors import DependencyUnavailable
from zaphubd.queue import Publisher, keys
from zaphubd.queue.job import decode_entry

Q = "producer-q"


async def entries(redis: aioredis.Redis) -> list[dict[str, object]]:
    raw = await redis.xrange(keys.stream(Q))
    return [decode_entry(Q, eid, fields).data for eid, fields in raw]


async def test_concurrent_publishes_are_coalesced_and_each_lands_once(redis) -> None:  # type: ignore[no-untyped-def]
    publisher = Publisher(redis)
    ids = await asyncio.gather(*(publisher.publish(Q, {"n": n}) for n in range(1200)))
    assert len(set(ids)) == 1200
    data = await entries(redis)
    assert sorted(d["n"] for d in data) == list(range(1200))  # type: ignore[type-var]
    # Coalesced per loop pass, in the order the calls were made.
    assert [d["n"] for d in data] == list(range(1200))


async def test_publish_many_keeps_order_across_batches(redis) -> None:  # type: ignore[no-untyped-def]
    publisher = Publisher(redis)
    ids = await publisher.publish_many(Q, [(f"job-{n}", {"n": n}) for n in range(1234)])
    assert ids[:2] == ["job-0", "job-1"]
    assert [d["n"] for d in await entries(redis)] == list(range(1234))


async def test_an_outage_fails_every_caller_with_dependency_unavailable() -> None:
    dead = aioredis.Redis.from_url(
        f"redis://127.0.0.1:{localservices.free_port()}/0", socket_connect_timeout=1
    )
    publisher = Publisher(dead)
    results = await asyncio.gather(
        *(publisher.publish(Q, {"n": n}) for n in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, DependencyUnavailable) for r in results)
    with pytest.raises(DependencyUnavailable):
        await publisher.publish_many(Q, [(None, {"n": 1})])
    await dead.aclose()
