"""A queue consumer: read → run with bounded concurrency → settle (ack, retry, dead-letter).

At-least-once: an entry is acknowledged (XACK + XDEL, in batches) only after its handler
returned, that is after its effect is durable; a crash in between runs it again, so handlers
are idempotent. Entries this node left pending when it died are re-read at start; entries of a
consumer that went silent are reclaimed by anyone after the visibility timeout (XAUTOCLAIM).
A handler may `hold` a job (a send waiting for its session): the job leaves the concurrency
budget, its entry stays pending and is kept alive until the holder settles it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import redis.exceptions

from zaphubd.backoff import backoff_delay
from zaphubd.metrics import Metrics
from zaphubd.queue import keys
from zaphubd.queue.job import HeldJob, Job, Reject, Retry, decode_entry, delayed_member
from zaphubd.queue.maintenance import Maintenance
from zaphubd.queue.redis import OUTAGE_ERRORS, RedisClient
from zaphubd.queue.scripts import DEAD_LETTER, RETRY_LATER
from zaphubd.tasks import TaskGroup

log = logging.getLogger("zaphubd.queue")

Handler = Callable[[Job], Awaitable[None]]
DeadHandler = Callable[[Job, str], Awaitable[None]]
READ_BLOCK_MS = 1000
ACK_FLUSH_S = 0.005
ACK_CHUNK = 500


@dataclass(frozen=True, slots=True)
class QueueSpec:
    name: str
    concurrency: int = 10
    max_attempts: int = 5
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 300.0
    #: Per-run limit; None for handlers that hold their jobs instead of running long.
    timeout_s: float | None = 60.0
    read_batch: int = 100


class Consumer:
    """Consumes one queue. `start()` spawns its loops; `stop()` drains within a deadline."""

    def __init__(
        self,
        redis: RedisClient,
        spec: QueueSpec,
        handler: Handler,
        *,
        consumer_name: str,
        on_dead: DeadHandler | None = None,
        visibility_timeout_s: float = 60.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.spec = spec
        self.name = consumer_name
        self._redis = redis
        self._handler = handler
        self._on_dead = on_dead
        self._metrics = metrics
        self._stream = keys.stream(spec.name)
        self._running: dict[str, asyncio.Task[None]] = {}
        self._held: dict[str, HeldJob] = {}
        self._acks: list[str] = []
        self._ack_wakeup = asyncio.Event()
        self._capacity = asyncio.Event()
        self._capacity.set()
        self._stopping = False
        self._tasks = TaskGroup(f"queue:{spec.name}")
        self._maintenance = Maintenance(self, redis, visibility_timeout_s)
        # Scripts, not MULTI: one round trip, and atomic on a Redis Cluster slot as well.
        self._retry_later = redis.register_script(RETRY_LATER)
        self._dead_letter = redis.register_script(DEAD_LETTER)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        await self.ensure_group()
        self._tasks.spawn(self._read_loop(), "read")
        self._tasks.spawn(self._ack_loop(), "ack")
        self._tasks.spawn(self._maintenance.run(), "maintenance")

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Stop reading, let running handlers finish within `timeout_s`, flush acks."""
        self._stopping = True
        await self._tasks.cancel("read")
        if self._running:
            _, late = await asyncio.wait(list(self._running.values()), timeout=timeout_s)
            for task in late:
                task.cancel()  # its entry stays pending: re-read at the next start
            if late:
                await asyncio.wait(late, timeout=1.0)
                log.warning("queue %s: %d job(s) cut short by shutdown", self.spec.name, len(late))
        with contextlib.suppress(*OUTAGE_ERRORS):
            await self._flush_acks()
        await self._tasks.cancel_all()

    async def ensure_group(self) -> None:
        """Create the stream and its consumer group unless they exist (idempotent)."""
        try:
            await self._redis.xgroup_create(self._stream, keys.GROUP, id="0", mkstream=True)
        except redis.exceptions.ResponseError as err:
            if "BUSYGROUP" not in str(err):
                raise

    # -- introspection for Maintenance and tests ------------------------------------------

    @property
    def free_slots(self) -> int:
        return max(0, self.spec.concurrency - len(self._running))

    @property
    def live_entry_ids(self) -> list[str]:
        """Entries this consumer is working on or holding: to be kept from reclaim."""
        return [*self._running, *self._held]

    def hold(self, job: Job) -> HeldJob:
        """Take `job` over from the consumer: settle it later through the returned handle."""
        held = HeldJob(self, job)
        self._held[job.entry_id] = held
        return held

    def release_hold(self, job: Job) -> None:
        self._held.pop(job.entry_id, None)

    # -- reading and running ----------------------------------------------------------------

    async def _read_loop(self) -> None:
        await self._read_entries("0")  # what this node left pending when it last stopped
        failures = 0
        while not self._stopping:
            await self._capacity.wait()
            try:
                await self._read_entries(">")
                failures = 0
            except OUTAGE_ERRORS as err:
                failures += 1
                await self._outage_pause("read", err, failures)

    async def _read_entries(self, start: str) -> None:
        """Read new entries (`>`), or page through our own pending ones (`0`)."""
        cursor = start
        while not self._stopping:
            count = min(self.free_slots, self.spec.read_batch) or 1
            block = READ_BLOCK_MS if cursor == ">" else None
            reply: Any
            try:
                reply = await self._redis.xreadgroup(
                    keys.GROUP, self.name, {self._stream: cursor}, count=count, block=block
                )
            except redis.exceptions.ResponseError as err:
                if "NOGROUP" not in str(err):
                    raise
                await self.ensure_group()  # Redis lost its data: start the group again
                continue
            entries = reply[0][1] if reply else []
            for entry_id, fields in entries:
                await self._capacity.wait()
                await self.dispatch(entry_id, fields, recovered=cursor != ">")
                cursor = entry_id if cursor != ">" else cursor
            if cursor == ">" or not entries:
                return

    async def dispatch(self, entry_id: bytes, fields: dict[bytes, bytes], recovered: bool) -> None:
        """Start a handler for one entry (or settle it at once if it is unusable)."""
        eid = entry_id.decode()
        if not fields:  # deleted while pending: nothing left to run
            self.queue_ack(eid)
            return
        try:
            job = decode_entry(self.spec.name, eid, fields)
        except (KeyError, ValueError, orjson.JSONDecodeError) as err:
            log.error("queue %s: malformed entry %s dead-lettered: %s", self.spec.name, eid, err)
            await self._dead_letter_raw(eid, fields, f"malformed entry: {err}")
            return
        if eid in self._running or eid in self._held:
            return  # ours already: reclaimed back after a missed keep-alive
        if recovered and not await self._maintenance.may_retry_recovered(job):
            return
        self._running[eid] = asyncio.create_task(self._run(job), name=f"job:{self.spec.name}")
        if len(self._running) >= self.spec.concurrency:
            self._capacity.clear()

    async def _run(self, job: Job) -> None:
        started = time.perf_counter()
        outcome = "ok"
        try:
            outcome = await self._invoke(job)
        finally:
            self._running.pop(job.entry_id, None)
            self._capacity.set()
            if self._metrics:
                self._metrics.jobs.labels(self.spec.name, outcome).inc()
                self._metrics.job_latency.labels(self.spec.name).observe(
                    time.perf_counter() - started
                )

    async def _invoke(self, job: Job) -> str:
        try:
            if self.spec.timeout_s is None:
                await self._handler(job)
            else:
                async with asyncio.timeout(self.spec.timeout_s):
                    await self._handler(job)
        except Reject as err:
            await self._settle_safely(self.settle_dead(job, str(err)))
            return "dead"
        except Retry as err:
            await self._settle_safely(self.settle_retry(job, str(err), err.defer_s))
            return "retry"
        except Exception as err:
            reason = _describe(err, self.spec.timeout_s)
            log.warning(
                "queue %s: job %s attempt %d failed: %s",
                self.spec.name,
                job.id,
                job.attempt,
                reason,
                exc_info=not isinstance(err, TimeoutError),
            )
            await self._settle_safely(self.settle_retry(job, reason, None))
            return "retry"
        if job.entry_id in self._held:
            await self._settle_safely(self._maintenance.clear_recovered(job.entry_id))
            return "held"
        self.queue_ack(job.entry_id)
        return "ok"

    # -- settling -------------------------------------------------------------------------

    def queue_ack(self, entry_id: str) -> None:
        self._acks.append(entry_id)
        self._ack_wakeup.set()

    async def settle_ack(self, job: Job) -> None:
        self.queue_ack(job.entry_id)

    async def settle_retry(self, job: Job, reason: str, defer_s: float | None) -> None:
        """Schedule the next attempt (or dead-letter after the last one)."""
        if job.attempt >= self.spec.max_attempts:
            await self.settle_dead(job, reason)
            return
        if defer_s is None:
            defer_s = backoff_delay(
                job.attempt - 1, self.spec.backoff_base_s, self.spec.backoff_cap_s
            )
        member = delayed_member(job.id, orjson.dumps(job.data), job.attempt, job.enqueued_at_ms)
        due_ms = int((time.time() + defer_s) * 1000)
        await self._retry_later(
            keys=[keys.delayed(self.spec.name), self._stream],
            args=[member, due_ms, keys.GROUP, job.entry_id],
        )

    async def settle_dead(self, job: Job, reason: str) -> None:
        """Record the final failure (on_dead), then move the entry to the dead letters."""
        log.error(
            "queue %s: job %s dead-lettered after %d attempt(s): %s",
            self.spec.name,
            job.id,
            job.attempt,
            reason,
        )
        if self._on_dead:
            await self._on_dead(job, reason)
        fields = {
            "j": job.id,
            "d": orjson.dumps(job.data),
            "a": str(job.attempt),
            "t": str(job.enqueued_at_ms),
        }
        await self._dead_letter_raw(job.entry_id, fields, reason)

    async def _dead_letter_raw(self, entry_id: str, fields: dict[Any, Any], reason: str) -> None:
        record = {**fields, "error": reason[:2000], "failed_at": str(int(time.time() * 1000))}
        record["entry"] = entry_id
        await self._dead_letter(
            keys=[keys.dead_letters(self.spec.name), self._stream, keys.reclaims(self.spec.name)],
            args=[keys.GROUP, entry_id, *(part for pair in record.items() for part in pair)],
        )

    async def _settle_safely(self, settling: Awaitable[None]) -> None:
        """A settle that fails (Redis or Postgres down) leaves the entry pending: it runs again."""
        try:
            await settling
        except Exception as err:
            log.warning(
                "queue %s: could not settle a job, it will run again: %s", self.spec.name, err
            )

    async def _ack_loop(self) -> None:
        failures = 0
        while True:
            await self._ack_wakeup.wait()
            self._ack_wakeup.clear()
            await asyncio.sleep(ACK_FLUSH_S)  # gather the acks of a burst into one round trip
            try:
                await self._flush_acks()
                failures = 0
            except OUTAGE_ERRORS as err:
                failures += 1
                self._ack_wakeup.set()
                await self._outage_pause("ack", err, failures)

    async def _flush_acks(self) -> None:
        while self._acks:
            batch, self._acks = self._acks[:ACK_CHUNK], self._acks[ACK_CHUNK:]
            try:
                pipe = self._redis.pipeline(transaction=False)
                pipe.xack(self._stream, keys.GROUP, *batch)
                pipe.xdel(self._stream, *batch)
                self._maintenance.forget_recovered(pipe, batch)
                await pipe.execute()
            except BaseException:
                self._acks[:0] = batch
                raise

    async def _outage_pause(self, what: str, err: BaseException, failures: int) -> None:
        if failures == 1 or failures % 30 == 0:
            log.warning("queue %s: redis unavailable (%s): %s", self.spec.name, what, err)
        await asyncio.sleep(backoff_delay(failures - 1, 0.2, 5.0))


def _describe(err: BaseException, timeout_s: float | None) -> str:
    if isinstance(err, TimeoutError):
        return f"handler timed out after {timeout_s}s"
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
