"""The `message-send` consumer: hands each job to its session's lane, in stream order.

The handler takes the job over (`hold`) and submits it to the lane without awaiting anything
first, so jobs reach a lane in the order the stream delivered them. The job leaves the
consumer's concurrency budget while it waits in the lane (for its session to connect, for
pacing), and is acknowledged when the send is recorded.
"""

from __future__ import annotations

import uuid

from zaphubd.db.messages import MessageRepo
from zaphubd.eventsink import EventSink
from zaphubd.messaging.sender import MessageSender
from zaphubd.queue import keys
from zaphubd.queue.consumer import Consumer, QueueSpec
from zaphubd.queue.job import Job, Reject
from zaphubd.sessions.lanes import LaneContext, SendLanes

SEND_SPEC = QueueSpec(
    keys.MESSAGE_SEND, concurrency=200, max_attempts=10, timeout_s=30, read_batch=200
)


def job_ids(job: Job) -> tuple[uuid.UUID, uuid.UUID]:
    try:
        return uuid.UUID(str(job.data["session_id"])), uuid.UUID(str(job.data["id"]))
    except (KeyError, ValueError) as err:
        raise Reject(f"message-send job without valid ids: {err}") from err


class SendWorker:
    def __init__(self, lanes: SendLanes, sender: MessageSender, repo: MessageRepo, sink: EventSink):
        self._lanes = lanes
        self._sender = sender
        self._repo = repo
        self._sink = sink
        self.consumer: Consumer | None = None

    async def handle(self, job: Job) -> None:
        assert self.consumer is not None, "bind the consumer before starting it"
        session_id, row_id = job_ids(job)
        held = self.consumer.hold(job)

        async def work(lane: LaneContext) -> None:
            await self._sender.run(held, row_id, lane)

        if not self._lanes.submit(session_id, row_id, work):
            await held.ack()  # a duplicate of a job already in the lane (outbox re-publish)

    async def on_dead(self, job: Job, reason: str) -> None:
        """The queue gave up on a job: the message ends in `dlq` with the reason."""
        _, row_id = job_ids(job)
        row = await self._repo.mark_failed(row_id, "dlq", reason)
        if row is not None:
            await self._sink.emit(
                row.session_id,
                "message.moved_to_dlq",
                {
                    "id": row.id,
                    "messageId": row.message_id,
                    "attempts": row.attempts,
                    "error": reason,
                },
            )
