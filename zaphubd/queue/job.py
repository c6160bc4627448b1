"""A job as the consumer hands it to a handler, and the outcomes a handler can raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from zaphubd.queue.consumer import Consumer


class Retry(Exception):
    """Raise from a handler to run the job again later (counts as an attempt).

    `defer_s` overrides the queue's exponential backoff for this retry.
    """

    def __init__(self, reason: str = "retry requested", defer_s: float | None = None) -> None:
        super().__init__(reason)
        self.defer_s = defer_s


class Reject(Exception):
    """Raise from a handler when retrying cannot help: the job goes to the dead letters now."""


@dataclass(frozen=True, slots=True)
class Job:
    queue: str
    id: str
    data: dict[str, Any]
    #: 1 for the first run; a retry after a failure runs with attempt + 1.
    attempt: int
    entry_id: str
    enqueued_at_ms: int


def entry_fields(
    job_id: str, data_json: bytes, attempt: int, enqueued_at_ms: int
) -> dict[Any, Any]:
    """The stream entry of a job. `a` counts the attempts already made (0 when new)."""
    return {"j": job_id, "d": data_json, "a": str(attempt), "t": str(enqueued_at_ms)}


def delayed_member(job_id: str, data_json: bytes, attempt: int, enqueued_at_ms: int) -> bytes:
    """A delayed-set member; strings only, so the Lua mover copies it into XADD verbatim."""
    return orjson.dumps(
        {"j": job_id, "d": data_json.decode(), "a": str(attempt), "t": str(enqueued_at_ms)}
    )


def decode_entry(queue: str, entry_id: bytes | str, fields: dict[bytes, bytes]) -> Job:
    eid = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return Job(
        queue=queue,
        id=fields[b"j"].decode(),
        data=orjson.loads(fields[b"d"]),
        attempt=int(fields[b"a"]) + 1,
        entry_id=eid,
        enqueued_at_ms=int(fields[b"t"]),
    )


class HeldJob:
    """A job a handler took over (`Consumer.hold`): settled later, kept alive until then.

    The stream entry stays pending and the consumer keeps refreshing its idle time, so no
    other consumer reclaims it while it waits (a send waiting for its session to connect).
    """

    def __init__(self, consumer: Consumer, job: Job) -> None:
        self.job = job
        self._consumer = consumer
        self.settled = False

    async def ack(self) -> None:
        await self._settle(self._consumer.settle_ack)

    async def retry(self, reason: str, defer_s: float | None = None) -> None:
        await self._settle(lambda job: self._consumer.settle_retry(job, reason, defer_s))

    async def reject(self, reason: str) -> None:
        await self._settle(lambda job: self._consumer.settle_dead(job, reason))

    async def _settle(self, action: Any) -> None:
        if self.settled:
            return
        await action(self.job)
        self.settled = True
        self._consumer.release_hold(self.job)
