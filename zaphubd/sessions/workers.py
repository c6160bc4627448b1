"""Handlers of the `session-init` and `session-close` queues.

A job about a session that another daemon holds is retried shortly: the owner (or, once a dead
owner's lease expired, anyone) picks it up, so no job waits in a queue of a node that died.
With several live nodes a new session is not started by whichever node read its job: every
node is asked for a recovery pass at once, and those passes place the orphaned sessions over
the nodes the same way (`cluster/placement.py`), so a burst of creations spreads evenly.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

from zaphubd.cluster.registry import NodeRegistry
from zaphubd.queue import keys
from zaphubd.queue.consumer import QueueSpec
from zaphubd.queue.job import Job, Reject, Retry
from zaphubd.queue.wakeups import Kind
from zaphubd.sessions.lease import LeaseKeeper
from zaphubd.sessions.manager import SessionManager
from zaphubd.sessions.transitions import Transitions

#: Sends a wake-up of a kind to a node (`Wakeups.signal`).
Signal = Callable[[str, Kind, uuid.UUID], Awaitable[None]]

log = logging.getLogger("zaphubd.sessions")
ELSEWHERE_RETRY_S = 1.0
#: Enough retries at ELSEWHERE_RETRY_S to outlast a dead owner's lease.
SESSION_QUEUE_ATTEMPTS = 200

INIT_SPEC = QueueSpec(
    keys.SESSION_INIT, concurrency=20, max_attempts=SESSION_QUEUE_ATTEMPTS, timeout_s=120
)
CLOSE_SPEC = QueueSpec(
    keys.SESSION_CLOSE, concurrency=10, max_attempts=SESSION_QUEUE_ATTEMPTS, timeout_s=120
)


def _session_id(job: Job) -> uuid.UUID:
    try:
        return uuid.UUID(str(job.data["session_id"]))
    except (KeyError, ValueError) as err:
        raise Reject(f"job without a valid session_id: {err}") from err


class SessionWorkers:
    def __init__(
        self,
        manager: SessionManager,
        leases: LeaseKeeper,
        transitions: Transitions,
        registry: NodeRegistry | None = None,
        signal: Signal | None = None,
    ) -> None:
        self._manager = manager
        self._leases = leases
        self._transitions = transitions
        self._registry = registry
        self._signal = signal
        self._me = leases.node_id

    async def _owner_elsewhere(self, session_id: uuid.UUID) -> str | None:
        holder = (await self._leases.holders([session_id]))[session_id]
        return holder if holder not in (None, self._leases.node_id) else None

    async def init(self, job: Job) -> None:
        """Start a new session, or restart one (`action: restart`, new QR cycle) or
        reconnect it (`action: reconnect`, same credentials)."""
        session_id = _session_id(job)
        action = job.data.get("action", "start")
        if action in ("restart", "reconnect"):
            owner = await self._owner_elsewhere(session_id)
            if owner:
                raise Retry(f"session runs on node {owner}", defer_s=ELSEWHERE_RETRY_S)
            keep = action == "reconnect"
            result = await self._manager.restart(session_id, keep_credentials=keep)
        elif target := await self._placed_elsewhere(session_id):
            log.info("session-init start %s: left to %s", session_id, target)
            return
        else:
            result = await self._manager.start(session_id)
        if result == "capacity":
            limit = self._manager.max_sessions
            reason = f"not started: ZAPHUB_MAX_CONCURRENT_SESSIONS ({limit}) reached"
            await self._transitions.start_failed(session_id, reason)
        log.info("session-init %s %s: %s", action, session_id, result)

    async def _placed_elsewhere(self, session_id: uuid.UUID) -> str | None:
        """With other live nodes, a new session is placed by the recovery passes of all of
        them (which agree on a spread): ask each for a pass now. None: start it here."""
        if self._registry is None or self._signal is None:
            return None
        others = [n.node_id for n in await self._registry.loads() if n.node_id != self._me]
        if not others:
            return None
        for node_id in [*others, self._me]:
            await self._signal(node_id, "place", session_id)
        return "placement"

    async def close(self, job: Job) -> None:
        """Delete a session: stop it, log the device out, remove its credentials and rows."""
        session_id = _session_id(job)
        owner = await self._owner_elsewhere(session_id)
        if owner:
            raise Retry(f"session runs on node {owner}", defer_s=ELSEWHERE_RETRY_S)
        await self._manager.close(session_id, force=bool(job.data.get("force")))
