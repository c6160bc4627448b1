"""Durable work queues on Redis Streams: publish, consume, ack, retry, delay, DLQ, reclaim."""

from zaphubd.queue.consumer import Consumer, QueueSpec
from zaphubd.queue.job import HeldJob, Job, Reject, Retry
from zaphubd.queue.producer import Publisher
from zaphubd.queue.stats import QueueCounts, queue_counts

__all__ = [
    "Consumer",
    "HeldJob",
    "Job",
    "Publisher",
    "QueueCounts",
    "QueueSpec",
    "Reject",
    "Retry",
    "queue_counts",
]
