"""Every Redis key and stream name zaphubd uses, built in one place."""

from __future__ import annotations

import uuid

PREFIX = "zaphub"
GROUP = "zaphubd"

SESSION_INIT = "session-init"
SESSION_CLOSE = "session-close"
MESSAGE_SEND = "message-send"
MESSAGE_RECEIVE = "message-receive"
PRESENCE_EVENTS = "presence-events"
RECEIPT_EVENTS = "receipt-events"
CALL_EVENTS = "call-events"
WEBHOOK_DELIVERY = "webhook-delivery"
ALL_QUEUES = (
    SESSION_INIT,
    SESSION_CLOSE,
    MESSAGE_RECEIVE,
    PRESENCE_EVENTS,
    RECEIPT_EVENTS,
    CALL_EVENTS,
    WEBHOOK_DELIVERY,
)


def stream(queue: str) -> str:
    """The stream holding the queue's entries that are waiting or in flight."""
    return f"{PREFIX}:q:{queue}"


def dead_letters(queue: str) -> str:
    """The stream of entries that exhausted their attempts, with the last error."""
    return f"{PREFIX}:dlq:{queue}"


def delayed(queue: str) -> str:
    """Sorted set of jobs waiting for a retry or a delay, scored by due time in ms."""
    return f"{PREFIX}:delayed:{queue}"


def reclaims(queue: str) -> str:
    """Hash: stream entry id -> times it was taken from a consumer that went silent."""
    return f"{PREFIX}:reclaims:{queue}"


def session_lease(session_id: uuid.UUID) -> str:
    """Which daemon may open this session's socket (value: node id, with a TTL)."""
    return f"{PREFIX}:lease:session:{session_id}"


#: The last event id whose webhook deliveries the catch-up has made sure of.
WEBHOOK_EVENT_CURSOR = f"{PREFIX}:webhooks:event-cursor"


def wake_stream(node_id: str) -> str:
    """One node's wake-ups: ids of sessions it runs that have new sends (capped length)."""
    return f"{PREFIX}:wake:{{{node_id}}}"
