"""Attempt outcomes into their delivery rows and the events table, many per statement.

The webhook.* events written here reach the EventSink's listeners like any other event.
A batch that fails is written again item by item, so one bad item (a delivery whose session
was deleted at that moment) does not fail the others; an outage fails them all at once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from zaphubd.db.webhooks import AttemptRecord, WebhookRepo
from zaphubd.errors import DependencyUnavailable
from zaphubd.event_types import lookup
from zaphubd.eventsink import EventSink
from zaphubd.jsonutil import dumps
from zaphubd.webhooks.sender import AttemptResult

DELIVERED = lookup("webhook.delivered")
FAILED = lookup("webhook.failed")
log = logging.getLogger("zaphubd.webhooks")
#: Characters of an attempt's error kept in its attempt_log entry: the error is our own
#: one-line summary (status, or the network error), never the response body.
LOG_ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class Outcome:
    delivery_id: uuid.UUID
    event: str
    #: Where the attempt went; None when there was no URL to try.
    url: str | None
    result: AttemptResult
    #: When the next automatic attempt is due; None when there is none.
    next_attempt_at: datetime | None
    #: Its webhook's public id (GET /sessions/:id/webhooks; the global one: the nil UUID).
    webhook_id: uuid.UUID

    @property
    def status(self) -> str:
        if self.result.ok:
            return "delivered"
        return "queued" if self.next_attempt_at is not None else "failed"

    def record(self) -> AttemptRecord:
        payload: dict[str, object] = {
            "deliveryId": str(self.delivery_id),
            "webhookId": str(self.webhook_id),
            "event": self.event,
            "url": self.url,
            "statusCode": self.result.status_code,
            "latencyMs": self.result.latency_ms,
        }
        if not self.result.ok:
            payload |= {
                "error": self.result.error,
                "willRetry": self.next_attempt_at is not None,
                "nextAttemptAt": self.next_attempt_at,
            }
        return AttemptRecord(
            delivery_id=self.delivery_id,
            status=self.status,
            url=self.url,
            status_code=self.result.status_code,
            latency_ms=self.result.latency_ms,
            error=None if self.result.error is None else self.result.error[:2000],
            next_attempt_at=self.next_attempt_at,
            event_type=(DELIVERED if self.result.ok else FAILED).name,
            payload_json=dumps(payload).decode(),
            log_entry_json=dumps(self.log_entry()).decode(),
        )

    def log_entry(self) -> dict[str, object]:
        """The attempt as its delivery's attempt_log keeps it; `at` is when it started."""
        error = self.result.error
        return {
            "at": self.result.started_at,
            "status_code": self.result.status_code,
            "error": None if error is None else error[:LOG_ERROR_CHARS],
            "latency_ms": self.result.latency_ms,
        }


class AttemptRecorder:
    def __init__(self, repo: WebhookRepo, sink: EventSink, log_cap: int) -> None:
        """`log_cap`: attempts kept in each delivery's attempt_log (the retry limit + 1)."""
        self._repo = repo
        self._sink = sink
        self._log_cap = log_cap

    async def write(self, outcomes: Sequence[Outcome]) -> list[Exception | None]:
        """Write the outcomes and their events; per outcome, None or why it was not written."""
        try:
            await self._write(outcomes)
        except DependencyUnavailable as err:
            return [err] * len(outcomes)
        except Exception as err:
            if len(outcomes) == 1:
                return [err]
            log.warning(
                "webhook attempts: a batch of %d failed (%s); one by one", len(outcomes), err
            )
            return [(await self.write([outcome]))[0] for outcome in outcomes]
        return [None] * len(outcomes)

    async def _write(self, outcomes: Sequence[Outcome]) -> None:
        records = [o.record() for o in outcomes]
        for row in await self._repo.record_attempts(records, self._log_cap):
            await self._sink.notify(row)
