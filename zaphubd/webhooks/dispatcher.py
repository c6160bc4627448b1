"""The `webhook-delivery` consumer: one attempt per job, in its webhook's lane.

The handler takes the job over (`Consumer.hold`) and queues the attempt in the lane of its
webhook on its destination host (hosts.py), so attempts waiting for a busy receiver sit
outside the consumer's concurrency budget, and a failing webhook marks only its own lane
congested, even beside another webhook on the same host.
An attempt posts the envelope (sender.py); the settler (settling.py) then records the outcome
and settles the job: acknowledged when delivered or finished for good, or put back with the
queue's delayed retry (`HeldJob.retry`, the held-job form of `raise Retry(defer_s=...)`) after
exponential backoff with jitter. A job whose host has no room in time goes back to the queue
without spending an attempt.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from yarl import URL

from zaphubd.db.webhooks import WebhookRepo
from zaphubd.queue import keys
from zaphubd.queue.consumer import Consumer, QueueSpec
from zaphubd.queue.job import HeldJob, Job, Reject
from zaphubd.settings import Settings
from zaphubd.webhooks.hosts import Admission, HostLanes
from zaphubd.webhooks.metrics import WebhookMetrics
from zaphubd.webhooks.queueing import Work
from zaphubd.webhooks.sender import AttemptResult, WebhookSender
from zaphubd.webhooks.settling import Attempted, Settler
from zaphubd.webhooks.targets import Target, Targets

log = logging.getLogger("zaphubd.webhooks")
#: Longest wait of a delivery put back because its host had no room: short enough that a
#: backlog follows soon once a receiver that was down answers again.
DEFER_CAP_S = 60.0
#: Handlers in flight at once; each returns as soon as its attempt is in a lane.
CONCURRENCY = 256
#: Deferrals settling at once: each takes a Redis connection, and a burst of them must not
#: drain the pool the rest of the daemon shares.
DEFERRALS_AT_ONCE = 8


def delivery_spec(settings: Settings) -> QueueSpec:
    """The queue's spec: the handler settles its own retries; no per-run timeout because the
    handler may wait for room in a busy lane (each attempt has its own deadline)."""
    return QueueSpec(
        keys.WEBHOOK_DELIVERY,
        concurrency=CONCURRENCY,
        max_attempts=settings.webhook_max_retries + 1,
        backoff_base_s=settings.webhook_backoff_base_ms / 1000,
        timeout_s=None,
        read_batch=200,
    )


@functools.lru_cache(maxsize=4096)
def host_key(url: str | None) -> str:
    """The lane of a URL: `host:port` (an unusable URL gets a lane of its own)."""
    try:
        parsed = URL(url or "")
    except (TypeError, ValueError):
        return ""
    return f"{parsed.host}:{parsed.port}" if parsed.host else ""


def lane_key(target: Target | None, work: Work) -> str:
    """The lane of a delivery: its webhook's, on its host (`host:port#webhook`)."""
    if target is None:
        return ""
    return f"{host_key(target.url)}#{target.lane(work.session_id)}"


@dataclass(frozen=True, slots=True)
class DispatcherParts:
    targets: Targets
    sender: WebhookSender
    lanes: HostLanes
    settler: Settler
    repo: WebhookRepo
    metrics: WebhookMetrics


class Dispatcher:
    def __init__(self, parts: DispatcherParts) -> None:
        self._parts = parts
        self._deferring = asyncio.Semaphore(DEFERRALS_AT_ONCE)
        self.consumer: Consumer | None = None

    def bind(self, consumer: Consumer) -> None:
        self.consumer = consumer
        self._parts.settler.consumer = consumer

    async def handle(self, job: Job) -> None:
        consumer = self.consumer
        assert consumer is not None, "bind the consumer before starting it"
        work = Work.from_job(job)
        targets = await self._parts.targets.get(work.session_id)
        if targets is None:
            return  # the session was deleted, and its deliveries with it
        target = targets.find(work.webhook_id)
        host = lane_key(target, work)
        admission = await self._parts.lanes.submit(
            host, lambda: self._attempt(consumer.hold(job), work, host)
        )
        if admission is Admission.REFUSED:
            await self._defer(consumer, job, work, host)
        elif admission is Admission.CLOSED:
            consumer.hold(job)  # never settled: its entry stays pending for the next start

    async def on_dead(self, job: Job, reason: str) -> None:
        """The queue gave up on a job that kept failing outside any attempt (an outage)."""
        try:
            work = Work.from_job(job)
        except Reject:
            return
        await self._parts.repo.mark_failed(work.delivery_id, reason)

    async def _attempt(self, held: HeldJob, work: Work, host: str) -> None:
        """The part that holds the host's slot: the request, nothing else."""
        try:
            targets = await self._parts.targets.get(work.session_id)  # the current URL, secret
            if targets is None:
                await held.ack()
                return
            target = targets.find(work.webhook_id)
            result = await self._post(target, work)
        except Exception as err:
            await self._parts.settler.give_back(held, err)
            return
        self._parts.lanes.report(host, result.ok, result.latency_ms / 1000)
        url = target.url if target is not None else None
        await self._parts.settler.submit(Attempted(held, work, url, host, result))

    async def _post(self, target: Target | None, work: Work) -> AttemptResult:
        """The attempt; a webhook deleted, disabled or without URL fails it for good (it
        stays retryable by hand), so its delivery is never left queued."""
        if target is None:
            return AttemptResult(None, 0, "the webhook was deleted", permanent=True)
        if target.url is None:
            return AttemptResult(None, 0, "the session has no webhook_url", permanent=True)
        if not target.enabled:
            return AttemptResult(None, 0, "the webhook is disabled", permanent=True)
        return await self._parts.sender.post(target.url, work.envelope, target.secret)

    async def _defer(self, consumer: Consumer, job: Job, work: Work, host: str) -> None:
        """Back to the queue for later without spending an attempt: its host has no room."""
        delay_s = self._defer_delay_s(work, self._parts.lanes.congested(host))
        again = dataclasses.replace(
            job,
            attempt=job.attempt - 1,
            data=dataclasses.replace(work, deferrals=work.deferrals + 1).job_data(),
        )
        # settle_retry moves the entry to the delayed set; the consumer's ack that follows the
        # handler's return then finds nothing left to acknowledge.
        async with self._deferring:
            await consumer.settle_retry(again, "destination host has no room", delay_s)
        self._parts.metrics.deferred.inc()
        due = datetime.now(UTC) + timedelta(seconds=delay_s)
        try:
            await self._parts.repo.postpone(work.delivery_id, due)  # keeps the sweeper off it
        except Exception as err:
            # The job is back in the queue already: failing the handler now would queue it
            # twice. At worst the sweeper publishes it once more (same deliveryId).
            log.warning("webhook %s: due time not updated: %s", work.delivery_id, err)

    def _defer_delay_s(self, work: Work, congested: bool) -> float:
        """A host that fails or hangs is tried again after about its timeout; one that is only
        busy, after half a second. Both double with each deferral of the same delivery."""
        base_s = self._parts.sender.timeout_s if congested else 0.5
        return min(DEFER_CAP_S, base_s * 2.0 ** min(work.deferrals, 6)) * random.uniform(1.0, 1.5)
