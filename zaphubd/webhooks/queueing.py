"""Deliveries into the `webhook-delivery` queue: the row first, then the job.

The row is the outbox: if the publish fails (Redis down) the delivery waits `queued` and the
sweeper publishes it later. A job carries the envelope itself, so an attempt needs no read of
the row. The delivery id is the row's UUID; every attempt and every re-queue keeps it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from zaphubd.db.webhooks import DeliveryRow, NewDelivery, WebhookRepo
from zaphubd.errors import DependencyUnavailable
from zaphubd.jsonutil import dumps
from zaphubd.queue import keys
from zaphubd.queue.job import Job, Reject
from zaphubd.queue.producer import Publisher
from zaphubd.webhooks import envelope
from zaphubd.webhooks.batching import GroupCommit

log = logging.getLogger("zaphubd.webhooks")


@dataclass(frozen=True, slots=True)
class Work:
    """A `webhook-delivery` job, decoded."""

    delivery_id: uuid.UUID
    session_id: uuid.UUID
    envelope: dict[str, Any]
    #: Times the job was put back unattempted because its host was congested.
    deferrals: int = 0
    #: Its webhook; None: the session's first (and every job queued before there were more).
    webhook_id: uuid.UUID | None = None

    @property
    def event(self) -> str:
        return str(self.envelope["event"])

    @classmethod
    def from_job(cls, job: Job) -> Work:
        try:
            return cls(
                uuid.UUID(str(job.data["id"])),
                uuid.UUID(str(job.data["session_id"])),
                dict(job.data["envelope"]),
                int(job.data.get("deferrals", 0)),
                _optional_uuid(job.data.get("webhook_id")),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise Reject(f"malformed webhook-delivery job: {err}") from err

    def job_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.delivery_id),
            "session_id": str(self.session_id),
            "envelope": self.envelope,
        }
        if self.deferrals:
            data["deferrals"] = self.deferrals
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
        return data


def _optional_uuid(value: object) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(str(value))


@dataclass(frozen=True, slots=True)
class _Pending:
    row: NewDelivery
    work: Work


class DeliveryQueue:
    def __init__(self, repo: WebhookRepo, publisher: Publisher) -> None:
        self._repo = repo
        self._publisher = publisher
        self._batches: GroupCommit[_Pending] = GroupCommit(self._write, "webhook deliveries")

    async def create(
        self,
        session_id: uuid.UUID,
        event: str,
        payload: dict[str, Any],
        occurred_at: datetime,
        url: str,
        delivery_id: uuid.UUID | None = None,
        webhook_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        """Queue a new delivery of one event to `url` (webhook `webhook_id`, None: the first);
        return its delivery id. One that exists already (same `delivery_id`) is left as is."""
        delivery_id = delivery_id or uuid.uuid4()
        body = envelope.build(event, session_id, payload, occurred_at, delivery_id)
        row = NewDelivery(delivery_id, session_id, event, url, dumps(body).decode(), webhook_id)
        work = Work(delivery_id, session_id, body, webhook_id=webhook_id)
        await self._batches.submit(_Pending(row, work))
        return delivery_id

    async def requeue(self, rows: Sequence[DeliveryRow]) -> None:
        """Publish jobs for existing deliveries (by hand, or found lost by the sweeper)."""
        await self._publish(
            [Work(r.id, r.session_id, r.body, webhook_id=r.webhook_id) for r in rows]
        )

    async def close(self) -> None:
        await self._batches.close()

    async def _write(self, batch: list[_Pending]) -> None:
        created = await self._repo.insert_many([p.row for p in batch])
        try:
            await self._publish([p.work for p in batch if p.row.id in created])
        except DependencyUnavailable as err:
            log.warning("%d webhook delivery(ies) wait for the sweeper: %s", len(batch), err)

    async def _publish(self, works: Sequence[Work]) -> None:
        jobs = [(str(w.delivery_id), w.job_data()) for w in works]
        await self._publisher.publish_many(keys.WEBHOOK_DELIVERY, jobs)
