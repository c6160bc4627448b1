"""The durable queue against a real Redis: delivery, retries, dead letters, reclaim, holds."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from zaphubd.queue import Consumer, Job, Publisher, QueueSpec, Reject, keys, queue_counts

Q = "test-q"


async def wait_for(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


@pytest.fixture
async def consumers(redis: aioredis.Redis) -> AsyncIterator[Callable[..., Awaitable[Consumer]]]:
    started: list[Consumer] = []

    async def make(handler, name: str = "node-a", visibility_s: float = 60.0, **spec) -> Consumer:  # type: ignore[no-untyped-def]
        spec.setdefault("backoff_base_s", 0.05)
        consumer = Consumer(
            redis,
            QueueSpec(Q, **spec),
            handler,
            consumer_name=name,
            visibility_timeout_s=visibility_s,
            on_dead=spec_on_dead.get(name),
        )
        await consumer.start()
        started.append(consumer)
        return consumer

    spec_on_dead: dict[str, object] = {}
    make.on_dead = spec_on_dead  # type: ignore[attr-defined]
    yield make
    for consumer in started:
        await consumer.stop(timeout_s=1)


async def test_each_of_10000_jobs_is_handled_exactly_once(redis, consumers) -> None:  # type: ignore[no-untyped-def]
    seen: Counter[str] = Counter()

    async def handler(job: Job) -> None:
        seen[job.data["n"]] += 1

    await consumers(handler, concurrency=50)
    publisher = Publisher(redis)
    for start in range(0, 10_000, 1000):
        await publisher.publish_many(Q, [(None, {"n": str(i)}) for i in range(start, start + 1000)])
    await wait_for(lambda: sum(seen.values()) >= 10_000, 30)
    await asyncio.sleep(0.2)  # let acks flush and any duplicate show itself
    assert len(seen) == 10_000
    assert set(seen.values()) == {1}
    counts = (await queue_counts(redis, [Q]))[Q]
    assert (counts.waiting, counts.in_flight, counts.delayed, counts.dead) == (0, 0, 0, 0)


async def test_retry_then_success(redis, consumers) -> None:  # type: ignore[no-untyped-def]
    attempts: list[int] = []

    async def handler(job: Job) -> None:
        attempts.append(job.attempt)
        if job.attempt < 3:
            raise ConnectionError("flaky")

    await consumers(handler, max_attempts=5)
    await Publisher(redis).publish(Q, {"x": 1})
    await wait_for(lambda: len(attempts) == 3)
    await asyncio.sleep(0.3)
    assert attempts == [1, 2, 3]
    counts = (await queue_counts(redis, [Q]))[Q]
    assert counts.dead == 0 and counts.delayed == 0 and counts.in_flight == 0


async def test_dead_letter_after_max_attempts_keeps_the_error(redis, consumers) -> None:  # type: ignore[no-untyped-def]
    dead: list[tuple[str, str]] = []

    async def on_dead(job: Job, reason: str) -> None:
        dead.append((job.data["k"], reason))

    async def handler(job: Job) -> None:
        raise ValueError(f"boom on attempt {job.attempt}")

    consumers.on_dead["node-a"] = on_dead
    await consumers(handler, max_attempts=3)
    await Publisher(redis).publish(Q, {"k": "v"}, job_id="job-1")
    await wait_for(lambda: bool(dead))
    # on_dead runs before the entry moves to the dead letters: give the move its round trips.
    deadline = time.monotonic() + 5
    while not await redis.xlen(keys.dead_letters(Q)) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    entries = await redis.xrange(keys.dead_letters(Q))
    assert dead == [("v", "ValueError: boom on attempt 3")]
    assert len(entries) == 1
    fields = entries[0][1]
    assert fields[b"j"] == b"job-1"
    assert fields[b"a"] == b"3"
    assert fields[b"error"] == b"ValueError: boom on attempt 3"
    assert await redis.xlen(keys.stream(Q)) == 0


async def test_reject_goes_to_dead_letters_without_retrying(redis, consumers) -> None:  # type: ignore[no-untyped-def]
    runs: list[int] = []

    async def handler(job: Job) -> None:
        runs.append(job.attempt)
        raise Reject("invalid recipient")

    await consumers(handler, max_attempts=5)
    await Publisher(redis).publish(Q, {})
    await wait_for(lambda: len(runs) == 1)
    await asyncio.sleep(0.2)  # a wrong retry would run by now (backoff base 0.05 s)
    entries = await redis.xrange(keys.dead_letters(Q))
    assert runs == [1]
    assert [e[1][b"error"] for e in entries] == [b"invalid recipient"]


async def test_a_delayed_job_is_not_delivered_before_it_is_due(redis, consumers) -> None:  # type: ignore[no-untyped-def]
    handled_at: list[float] = []

    async def handler(job: Job) -> None:
        handled_at.append(time.monotonic())

    await consumers(handler)
    published = time.monotonic()
    await Publisher(redis).publish(Q, {}, delay_s=0.6)
    await asyncio.sleep(0.4)
    assert handled_at == []
    await wait_for(lambda: bool(handled_at))
    assert handled_at[0] - published >= 0.6


async def test_a_handler_timeout_is_retried(redis, consumers) -> None:  # type: ignore[no-untyped-def]
    attempts: list[int] = []

    async def handler(job: Job) -> None:
        attempts.append(job.attempt)
        if job.attempt == 1:
            await asyncio.sleep(10)

    await consumers(handler, timeout_s=0.2)
    await Publisher(redis).publish(Q, {})
    await wait_for(lambda: attempts == [1, 2])


async def test_entry_of_a_consumer_that_died_is_reclaimed_by_another(redis, consumers) -> None:  # type: ignore[no-untyped-def]
    consumer = Consumer(redis, QueueSpec(Q), _never_called, consumer_name="dead-node")
    await consumer.ensure_group()
    await Publisher(redis).publish(Q, {"n": 1})
    # A consumer takes the entry and dies without acknowledging it.
    taken = await redis.xreadgroup(keys.GROUP, "dead-node", {keys.stream(Q): ">"}, count=1)
    assert taken
    handled: list[Job] = []

    async def handler(job: Job) -> None:
        handled.append(job)

    await consumers(handler, name="node-b", visibility_s=1.0)
    await wait_for(lambda: bool(handled), timeout_s=5)
    assert handled[0].data == {"n": 1}
    await asyncio.sleep(0.1)
    assert (await queue_counts(redis, [Q]))[Q].in_flight == 0


async def test_own_pending_entries_are_rerun_at_start(redis, consumers) -> None:  # type: ignore[no-untyped-def]
    started = asyncio.Event()

    async def stuck(job: Job) -> None:
        started.set()
        await asyncio.sleep(60)

    first = await consumers(stuck, name="node-a")
    await Publisher(redis).publish(Q, {"n": 7})
    await started.wait()
    await first.stop(timeout_s=0.1)  # shutdown cuts the handler short: entry stays pending
    assert (await queue_counts(redis, [Q]))[Q].in_flight == 1

    handled: list[Job] = []

    async def handler(job: Job) -> None:
        handled.append(job)

    # The same node restarts with a long visibility timeout: no reclaim needed.
    await consumers(handler, name="node-a", visibility_s=600)
    await wait_for(lambda: bool(handled), timeout_s=3)
    assert handled[0].data == {"n": 7}


async def test_a_held_job_is_not_reclaimed_and_settles_later(redis, consumers) -> None:  # type: ignore[no-untyped-def]
    holder: dict[str, Consumer] = {}
    held = []

    async def hold(job: Job) -> None:
        held.append(holder["c"].hold(job))

    holder["c"] = await consumers(hold, name="node-a", visibility_s=1.0, concurrency=1)
    publisher = Publisher(redis)
    await publisher.publish(Q, {"n": 1})
    await wait_for(lambda: len(held) == 1)
    stolen: list[Job] = []

    async def thief(job: Job) -> None:
        stolen.append(job)

    # Another consumer, which would reclaim the held entry if its keep-alive stopped.
    await consumers(thief, name="node-b", visibility_s=1.0)
    # The hold frees the concurrency slot: a second job runs although concurrency is 1.
    await publisher.publish(Q, {"n": 2})
    await wait_for(lambda: len(held) + len(stolen) == 2)
    await asyncio.sleep(2.5)  # well past the visibility timeout
    assert [j.data for j in stolen if j.data == {"n": 1}] == []
    await held[0].ack()
    await asyncio.sleep(0.1)
    remaining = await redis.xrange(keys.stream(Q))
    assert all(fields[b"d"] != b'{"n":1}' for _, fields in remaining)


async def test_graceful_stop_lets_running_jobs_finish(redis, consumers) -> None:  # type: ignore[no-untyped-def]
    finished: list[int] = []
    started = asyncio.Event()

    async def handler(job: Job) -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.append(job.data["n"])

    consumer = await consumers(handler)
    await Publisher(redis).publish(Q, {"n": 1})
    await started.wait()
    await consumer.stop(timeout_s=5)
    assert finished == [1]
    counts = (await queue_counts(redis, [Q]))[Q]
    assert counts.in_flight == 0 and counts.waiting == 0


async def test_an_entry_that_keeps_killing_its_consumer_is_dead_lettered(redis, consumers) -> None:  # type: ignore[no-untyped-def]
    consumer = Consumer(redis, QueueSpec(Q), _never_called, consumer_name="x")
    await consumer.ensure_group()
    await Publisher(redis).publish(Q, {"poison": True})
    await redis.xreadgroup(keys.GROUP, "crashy", {keys.stream(Q): ">"}, count=1)
    # Pretend it was already abandoned max_attempts times.
    entry_id = (await redis.xrange(keys.stream(Q)))[0][0]
    await redis.hset(keys.reclaims(Q), entry_id, 5)
    ran: list[Job] = []

    async def handler(job: Job) -> None:
        ran.append(job)

    await consumers(handler, name="node-b", visibility_s=1.0, max_attempts=5)
    deadline = time.monotonic() + 5
    while not await redis.xlen(keys.dead_letters(Q)):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    dead = await redis.xrange(keys.dead_letters(Q))
    assert ran == []
    assert b"abandoned 5 time(s)" in dead[0][1][b"error"]
    assert not await redis.hexists(keys.reclaims(Q), entry_id)


async def test_malformed_entries_are_dead_lettered_not_fatal(redis, consumers) -> None:  # type: ignore[no-untyped-def]
    handled: list[Job] = []

    async def handler(job: Job) -> None:
        handled.append(job)

    await consumers(handler)
    await redis.xadd(keys.stream(Q), {"garbage": "1"})
    await Publisher(redis).publish(Q, {"ok": True})
    await wait_for(lambda: bool(handled))
    assert handled[0].data == {"ok": True}
    await asyncio.sleep(0.1)
    assert await redis.xlen(keys.dead_letters(Q)) == 1


async def _never_called(job: Job) -> None:
    raise AssertionError("not expected to run")
