"""Every Redis key and stream name zaphubd uses, built in one place.

Keys that one script or transaction touches together share a hash tag (`{...}`), so they live
in one slot and the daemon works on a Redis Cluster as on a single Redis.
"""

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
MEDIA_STORE = "media-store"
ALL_QUEUES = (
    SESSION_INIT,
    SESSION_CLOSE,
    MESSAGE_RECEIVE,
    PRESENCE_EVENTS,
    RECEIPT_EVENTS,
    CALL_EVENTS,
    WEBHOOK_DELIVERY,
    MEDIA_STORE,
)


def _queue_key(queue: str, part: str) -> str:
    # The hash tag {q:<queue>} puts all of one queue's keys in one Redis Cluster slot: the
    # scripts and transactions of queue/ touch them together (stream, delayed set, DLQ, reclaims).
    return f"{PREFIX}:{{q:{queue}}}:{part}"


def stream(queue: str) -> str:
    """The stream holding the queue's entries that are waiting or in flight."""
    return _queue_key(queue, "stream")


def dead_letters(queue: str) -> str:
    """The stream of entries that exhausted their attempts, with the last error."""
    return _queue_key(queue, "dlq")


def delayed(queue: str) -> str:
    """Sorted set of jobs waiting for a retry or a delay, scored by due time in ms."""
    return _queue_key(queue, "delayed")


def reclaims(queue: str) -> str:
    """Hash: stream entry id -> times it was taken from a consumer that went silent."""
    return _queue_key(queue, "reclaims")


def legacy_queue_keys(queue: str) -> dict[str, str]:
    """The names a queue's keys had before the hash tags (old name -> current name).

    Only queue/keymigration.py reads these, to move an existing single Redis over.
    """
    return {
        f"{PREFIX}:q:{queue}": stream(queue),
        f"{PREFIX}:dlq:{queue}": dead_letters(queue),
        f"{PREFIX}:delayed:{queue}": delayed(queue),
        f"{PREFIX}:reclaims:{queue}": reclaims(queue),
    }


# Keys below are each touched alone (one command, or a script with that one key), so they
# need no hash tag and keep the names they always had: a lease must never change its name
# while old and new daemons may run side by side, or both could open one account.


def session_lease(session_id: uuid.UUID) -> str:
    """Which daemon may open this session's socket (value: node id, with a TTL)."""
    return f"{PREFIX}:lease:session:{session_id}"


#: The last event id whose webhook deliveries the catch-up has made sure of.
WEBHOOK_EVENT_CURSOR = f"{PREFIX}:webhooks:event-cursor"


def wake_stream(node_id: str) -> str:
    """One node's wake-ups (`queue/wakeups.py`): session ids and a kind (capped length)."""
    return f"{PREFIX}:wake:{{{node_id}}}"


def call_stream(node_id: str) -> str:
    """Calls for sessions a node runs, sent by the other nodes (`cluster/owner_calls.py`)."""
    return f"{PREFIX}:calls:{{{node_id}}}"


def call_reply(request_id: str) -> str:
    """Where the owner pushes the answer to one call (expires)."""
    return f"{PREFIX}:call-reply:{request_id}"


def stream_token(digest: str) -> str:
    """A browser's short-lived event stream token, by the SHA-256 of the token."""
    return f"{PREFIX}:stream-token:{digest}"


def contact_check(session_id: uuid.UUID, number: str) -> str:
    """A session's cached answer to "is this number on WhatsApp?" (a string, with a TTL).
    One hash tag per session, so one MGET reads a request's numbers on a Redis Cluster."""
    return f"{PREFIX}:{{ct:{session_id}}}:check:{number}"
