"""Session ownership leases: only the daemon holding a session's lease opens its socket.

A lease is a Redis key (`zaphub:lease:session:<id>` = node id) with a TTL, renewed while held
and released on stop; when a daemon dies its leases expire and another may take them. Two
daemons must never hold one WhatsApp account open at once: WhatsApp answers that with
"connection replaced" loops. A renewal that finds the key taken by another node reports the
lease lost, and the session is stopped here.

Fencing: a node cut off from Redis (a partition) or frozen (SIGSTOP, a VM pause) cannot learn
that its lease expired. So each node also keeps time itself: a lease counts as held only for
FENCE_FRACTION of the TTL after the last renewal that Redis confirmed, measured from before
that renewal was sent (monotonic clock). Past that, `fresh()` is False at once, whatever ran
first after a pause: the session sends nothing, writes no state and does not reconnect, and
the fence loop stops it, all before Redis lets another node take the lease. A node that has
seen no other live node for a while (`peers`: a single-node install) has nobody to yield to,
so it keeps its sessions open through a Redis outage instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import redis.exceptions

from zaphubd.queue import keys
from zaphubd.queue.redis import OUTAGE_ERRORS, RedisClient

log = logging.getLogger("zaphubd.sessions.lease")

# Take the lease if free, or extend it if it is already ours. 1: held, 0: someone else's.
_ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

LostCallback = Callable[[uuid.UUID], Awaitable[None]]
#: How much of the TTL a confirmed renewal is trusted for (the rest absorbs clock drift and
#: the time a renewal takes to reach Redis).
FENCE_FRACTION = 0.8


class LeaseKeeper:
    def __init__(self, redis: RedisClient, node_id: str, ttl_s: float) -> None:
        self.node_id = node_id
        self._redis = redis
        self._ttl_ms = int(ttl_s * 1000)
        self._renew_every_s = ttl_s / 3
        self._trusted_s = ttl_s * FENCE_FRACTION
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)
        self.held: set[uuid.UUID] = set()
        #: Monotonic time each held lease was last confirmed (taken before the request went).
        self._confirmed: dict[uuid.UUID, float] = {}
        #: Whether other nodes may be running (the node registry); None: assume so.
        self.peers: Callable[[], bool] | None = None

    async def acquire(self, session_id: uuid.UUID) -> bool:
        key = keys.session_lease(session_id)
        sent_at = time.monotonic()
        if int(await self._acquire(keys=[key], args=[self.node_id, self._ttl_ms])):
            self.held.add(session_id)
            self._confirmed[session_id] = sent_at
            return True
        return False

    def fresh(self, session_id: uuid.UUID) -> bool:
        """Whether this node may still act for the session: it holds the lease and Redis
        confirmed it recently enough that no other node can have it yet."""
        confirmed = self._confirmed.get(session_id)
        if confirmed is None:
            return False
        if time.monotonic() - confirmed < self._trusted_s:
            return True
        return self.peers is not None and not self.peers()

    async def release(self, session_id: uuid.UUID) -> None:
        self.held.discard(session_id)
        self._confirmed.pop(session_id, None)
        try:
            await self._release(keys=[keys.session_lease(session_id)], args=[self.node_id])
        except OUTAGE_ERRORS as err:
            log.warning("could not release lease of %s (it will expire): %s", session_id, err)

    async def holders(self, session_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str | None]:
        """Who holds each session's lease right now (None: nobody)."""
        ids = list(session_ids)
        if not ids:
            return {}
        # One GET each in a pipeline, not MGET: leases hash to different cluster slots.
        pipe = self._redis.pipeline(transaction=False)
        for sid in ids:
            pipe.get(keys.session_lease(sid))
        values = await pipe.execute()
        return {sid: _text(v) for sid, v in zip(ids, values, strict=True)}

    async def run(self, on_lost: LostCallback) -> None:
        """Renew every held lease at a third of the TTL and report those another node took;
        between renewals, stop the sessions whose lease is no longer fresh (fencing)."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._renew_loop(on_lost))
            group.create_task(self._fence_loop(on_lost))

    async def _renew_loop(self, on_lost: LostCallback) -> None:
        while True:
            await asyncio.sleep(self._renew_every_s)
            try:
                lost = await self._renew_all()
            except OUTAGE_ERRORS as err:
                log.warning("lease renewal failed (redis unavailable): %s", err)
                continue
            for session_id in lost:
                if self._drop(session_id):
                    log.error(
                        "lease of session %s was taken by another node; stopping it here",
                        session_id,
                    )
                    await on_lost(session_id)

    async def _fence_loop(self, on_lost: LostCallback) -> None:
        while True:
            await asyncio.sleep(self._trusted_s / 8)
            for session_id in [sid for sid in self.held if not self.fresh(sid)]:
                if self._drop(session_id):
                    log.error(
                        "lease of session %s not confirmed for %.0f s (redis unreachable, or "
                        "this process was paused): stopping it here before another node "
                        "takes it",
                        session_id,
                        self._trusted_s,
                    )
                    await on_lost(session_id)

    def _drop(self, session_id: uuid.UUID) -> bool:
        """Forget a held lease; False when it was no longer held (reported already)."""
        self._confirmed.pop(session_id, None)
        if session_id not in self.held:
            return False
        self.held.discard(session_id)
        return True

    async def _renew_all(self) -> list[uuid.UUID]:
        ids = list(self.held)
        if not ids:
            return []
        sent_at = time.monotonic()
        try:
            results = await self._renew_pipeline(ids)
        except redis.exceptions.NoScriptError:
            # A cluster pipeline does not load scripts the way a plain one does: a master that
            # restarted or took over since the script was loaded does not know it yet.
            await self._redis.script_load(_ACQUIRE)
            results = await self._renew_pipeline(ids)
        lost = []
        for sid, ok in zip(ids, results, strict=True):
            if not int(ok):
                lost.append(sid)
            elif sid in self.held and self.fresh(sid):
                # A lease already past its fence stays fenced: the fence loop stops it, and
                # the session restarts through recovery, never by resuming its old socket.
                self._confirmed[sid] = sent_at
        return lost

    async def _renew_pipeline(self, ids: list[uuid.UUID]) -> list[Any]:
        pipe = self._redis.pipeline(transaction=False)
        for sid in ids:
            # redis-py's annotation omits ClusterPipeline, which __call__ handles (it queues).
            await self._acquire(
                keys=[keys.session_lease(sid)],
                args=[self.node_id, self._ttl_ms],
                client=pipe,  # type: ignore[arg-type]
            )
        return list(await pipe.execute())


def _text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else value
