"""Session ownership leases: only the daemon holding a session's lease opens its socket.

A lease is a Redis key (`zaphub:lease:session:<id>` = node id) with a TTL, renewed while held
and released on stop; when a daemon dies its leases expire and another may take them. Two
daemons must never hold one WhatsApp account open at once: WhatsApp answers that with
"connection replaced" loops. A renewal that finds the key taken by another node reports the
lease lost, and the session is stopped here.
"""

from __future__ import annotations

import asyncio
import logging
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


class LeaseKeeper:
    def __init__(self, redis: RedisClient, node_id: str, ttl_s: float) -> None:
        self.node_id = node_id
        self._redis = redis
        self._ttl_ms = int(ttl_s * 1000)
        self._renew_every_s = ttl_s / 3
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)
        self.held: set[uuid.UUID] = set()

    async def acquire(self, session_id: uuid.UUID) -> bool:
        key = keys.session_lease(session_id)
        if int(await self._acquire(keys=[key], args=[self.node_id, self._ttl_ms])):
            self.held.add(session_id)
            return True
        return False

    async def release(self, session_id: uuid.UUID) -> None:
        self.held.discard(session_id)
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
        """Renew every held lease at a third of the TTL; report those another node took."""
        while True:
            await asyncio.sleep(self._renew_every_s)
            try:
                lost = await self._renew_all()
            except OUTAGE_ERRORS as err:
                log.warning("lease renewal failed (redis unavailable): %s", err)
                continue
            for session_id in lost:
                self.held.discard(session_id)
                log.error(
                    "lease of session %s was taken by another node; stopping it here", session_id
                )
                await on_lost(session_id)

    async def _renew_all(self) -> list[uuid.UUID]:
        ids = list(self.held)
        if not ids:
            return []
        try:
            results = await self._renew_pipeline(ids)
        except redis.exceptions.NoScriptError:
            # A cluster pipeline does not load scripts the way a plain one does: a master that
            # restarted or took over since the script was loaded does not know it yet.
            await self._redis.script_load(_ACQUIRE)
            results = await self._renew_pipeline(ids)
        return [sid for sid, ok in zip(ids, results, strict=True) if not int(ok)]

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
