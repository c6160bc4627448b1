"""After an attempt: record its outcome, then settle its queue entry, off the host's lane.

The lane's slot is free as soon as the receiver has answered (the per-host limit bounds
requests, not bookkeeping). Attempts that have their answer are taken in batches: each batch
is written in one statement (recorder.py), then each entry is acknowledged or put back with
the queue's delayed retry. A second and third writer join when a batch's worth waits, so one
slow write does not hold everything up. At most `max_pending` attempts wait; past that the
lanes wait too, and the database sets the pace. An outcome is written before its entry is
settled: a crash in between runs the attempt again, with the same deliveryId.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from zaphubd.backoff import backoff_delay
from zaphubd.db.webhook_targets import first_webhook_id
from zaphubd.queue.consumer import Consumer
from zaphubd.queue.job import HeldJob
from zaphubd.tasks import cancel_and_wait
from zaphubd.webhooks.metrics import WebhookMetrics
from zaphubd.webhooks.queueing import Work
from zaphubd.webhooks.recorder import AttemptRecorder, Outcome
from zaphubd.webhooks.sender import AttemptResult

log = logging.getLogger("zaphubd.webhooks")
MAX_PENDING = 4096
MAX_BATCH = 500
MAX_WRITERS = 3
#: Retries settling at once: each takes a Redis connection from the pool the whole daemon
#: shares (an ack costs none: the consumer batches them).
RETRIES_AT_ONCE = 16


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int
    backoff_base_s: float
    backoff_cap_s: float = 3600.0

    def delay_s(self, attempt: int, result: AttemptResult) -> float | None:
        """Seconds until the next attempt after attempt `attempt` (1: the first), or None."""
        if result.ok or result.permanent or attempt > self.max_retries:
            return None
        cap_s = max(self.backoff_cap_s, self.backoff_base_s)
        return backoff_delay(attempt - 1, self.backoff_base_s, cap_s)


@dataclass(frozen=True, slots=True)
class Attempted:
    """An attempt that has its answer (or error), waiting to be recorded and settled."""

    held: HeldJob
    work: Work
    url: str | None
    host: str
    result: AttemptResult


class Settler:
    def __init__(
        self,
        recorder: AttemptRecorder,
        metrics: WebhookMetrics,
        policy: RetryPolicy,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._recorder = recorder
        self._metrics = metrics
        self._policy = policy
        self._room = asyncio.Semaphore(max_pending)
        self._retrying = asyncio.Semaphore(RETRIES_AT_ONCE)
        self._pending: list[Attempted] = []
        self._writers: set[asyncio.Task[None]] = set()
        self.consumer: Consumer | None = None

    async def submit(self, attempted: Attempted) -> None:
        """Hand an attempt over; waits while `max_pending` are not yet settled."""
        await self._room.acquire()
        self._pending.append(attempted)
        busy = len(self._pending) >= MAX_BATCH and len(self._writers) < MAX_WRITERS
        if not self._writers or busy:
            self._writers.add(asyncio.create_task(self._drain(), name="webhook-settle"))

    async def close(self, timeout_s: float = 5.0) -> None:
        """Let what was handed over be written; cut short what takes longer (it runs again)."""
        if self._writers:
            await asyncio.wait(list(self._writers), timeout=timeout_s)
        for writer in list(self._writers):
            await cancel_and_wait(writer)

    async def give_back(self, held: HeldJob, err: Exception) -> None:
        """An attempt could not be recorded or settled: run its job again later."""
        log.warning("webhook job %s: %s; it will run again", held.job.id, err)
        try:
            await self._retry(held, f"{type(err).__name__}: {err}", None)
        except Exception:
            # Redis is away too: let go, and the entry is reclaimed after the visibility timeout.
            if self.consumer is not None:
                self.consumer.release_hold(held.job)

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(0)  # let this loop iteration's answers join the batch
            while self._pending:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
                try:
                    await self._settle(batch)
                finally:
                    for _ in batch:
                        self._room.release()
        finally:
            # Leave the set before returning, not in a done callback: a submit in between
            # would otherwise count on a writer that is gone.
            self._writers.discard(asyncio.current_task())

    async def _settle(self, batch: list[Attempted]) -> None:
        delays = [self._policy.delay_s(a.held.job.attempt, a.result) for a in batch]
        outcomes = [_outcome(a, d) for a, d in zip(batch, delays, strict=True)]
        errors = await self._recorder.write(outcomes)
        retries = []
        for attempted, outcome, delay_s, error in zip(batch, outcomes, delays, errors, strict=True):
            if error is not None:
                retries.append(self.give_back(attempted.held, error))
                continue
            self._count(outcome)
            _log(attempted, delay_s)
            if delay_s is None:
                await attempted.held.ack()
            else:
                reason = attempted.result.error or "failed"
                retries.append(self._settle_retry(attempted.held, reason, delay_s))
        await asyncio.gather(*retries)

    async def _settle_retry(self, held: HeldJob, reason: str, delay_s: float) -> None:
        try:
            await self._retry(held, reason, delay_s)
        except Exception as err:
            await self.give_back(held, err)

    async def _retry(self, held: HeldJob, reason: str, delay_s: float | None) -> None:
        async with self._retrying:
            await held.retry(reason, delay_s)

    def _count(self, outcome: Outcome) -> None:
        self._metrics.attempts.labels(outcome.status.replace("queued", "retry")).inc()
        self._metrics.attempt_latency.observe(outcome.result.latency_ms / 1000)


def _outcome(attempted: Attempted, delay_s: float | None) -> Outcome:
    next_at = None if delay_s is None else datetime.now(UTC) + timedelta(seconds=delay_s)
    work = attempted.work
    webhook_id = work.webhook_id or first_webhook_id(work.session_id)
    return Outcome(
        work.delivery_id, work.event, attempted.url, attempted.result, next_at, webhook_id
    )


def _log(attempted: Attempted, delay_s: float | None) -> None:
    work, result, attempt = attempted.work, attempted.result, attempted.held.job.attempt
    if result.ok:
        log.debug(
            "webhook %s %s -> %s: HTTP %s in %d ms (attempt %d)",
            work.delivery_id,
            work.event,
            attempted.host,
            result.status_code,
            result.latency_ms,
            attempt,
        )
        return
    log.log(
        logging.INFO if delay_s is not None else logging.WARNING,
        "webhook %s %s -> %s failed (attempt %d, %d ms): %s; %s",
        work.delivery_id,
        work.event,
        attempted.host,
        attempt,
        result.latency_ms,
        result.error,
        f"retry in {delay_s:.1f}s" if delay_s is not None else "giving up",
    )
