"""What a session's contact checks need besides the network: a Redis cache of the answers,
and a pace that keeps the session's check requests to WhatsApp apart.

WhatsApp rate-limits "is this number on WhatsApp?" and bans accounts that ask too much, so a
retried request must not ask again: answers are kept in Redis per session and number, a
positive one for `positive_ttl_s`, a negative one (numbers do join WhatsApp) for the
shorter `negative_ttl_s`. Redis keys expire by themselves, so the cache's memory is bounded
by its TTLs. A Redis outage only costs the cache: the check still goes out, paced.

The pace runs on the node that runs the session (the checks are session actions): one
request at a time, `interval_s` after the previous one ended (longer after WhatsApp said
"too fast", see `slow_down`). Callers wait their turn, at
most `max_waiting` per session; one more is refused with 429 rather than queued without end.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import orjson

from zaphubd.errors import CapacityReached
from zaphubd.queue import keys
from zaphubd.queue.redis import OUTAGE_ERRORS, RedisClient
from zaphubd.transport.contacts import NumberCheck

log = logging.getLogger("zaphubd.sessions")

#: After WhatsApp refuses a check as too fast, the session's next one waits this many
#: intervals, and at least PENALTY_MIN_S.
PENALTY_INTERVALS = 10
PENALTY_MIN_S = 5.0
#: Pace entries of idle sessions are dropped once there are more than this many.
PACE_SWEEP_AT = 1000


class CheckCache:
    """Answers to contact checks in Redis, per session and number."""

    def __init__(self, redis: RedisClient, positive_ttl_s: int, negative_ttl_s: int) -> None:
        self._redis = redis
        self._positive_ttl_s = positive_ttl_s
        self._negative_ttl_s = negative_ttl_s

    async def get(self, session_id: uuid.UUID, numbers: Sequence[str]) -> dict[str, NumberCheck]:
        """The cached answers among `numbers` (digits); a Redis outage is a miss."""
        if not numbers:
            return {}
        names = [keys.contact_check(session_id, n) for n in numbers]
        try:
            values = await self._redis.mget(names)
        except OUTAGE_ERRORS as err:
            log.warning("contact check cache unavailable (read): %s", err)
            return {}
        found = {}
        for number, value in zip(numbers, values, strict=True):
            if value is not None:
                found[number] = _decode(number, value)
        return found

    async def put(self, session_id: uuid.UUID, answers: Sequence[NumberCheck]) -> None:
        if not answers:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for answer in answers:
                    ttl = self._positive_ttl_s if answer.exists else self._negative_ttl_s
                    value = orjson.dumps({"exists": answer.exists, "jid": answer.jid})
                    pipe.set(keys.contact_check(session_id, answer.number), value, ex=ttl)
                await pipe.execute()
        except OUTAGE_ERRORS as err:
            log.warning("contact check cache unavailable (write): %s", err)


def _decode(number: str, value: bytes | str) -> NumberCheck:
    data = orjson.loads(value)
    return NumberCheck(number, bool(data["exists"]), data.get("jid"))


@dataclass(slots=True)
class _Turns:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_at: float = 0.0  # monotonic
    waiting: int = 0


class CheckPace:
    """One check request per session at a time, `interval_s` apart."""

    def __init__(self, interval_s: float, max_waiting: int) -> None:
        self._interval_s = interval_s
        self._max_waiting = max_waiting
        self._sessions: dict[uuid.UUID, _Turns] = {}

    @asynccontextmanager
    async def turn(self, session_id: uuid.UUID) -> AsyncIterator[None]:
        """Wait for the session's next slot, then hold it while the request runs."""
        turns = self._turns(session_id)
        if turns.waiting >= self._max_waiting:
            raise CapacityReached(
                f"{turns.waiting} contact checks already wait for this session's pace; "
                "try again later"
            )
        turns.waiting += 1
        try:
            await turns.lock.acquire()
            try:
                delay = turns.next_at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            except BaseException:  # cancelled while waiting: the turn goes to the next
                turns.lock.release()
                raise
        finally:
            turns.waiting -= 1
        try:
            yield
        finally:
            turns.next_at = max(turns.next_at, time.monotonic() + self._interval_s)
            turns.lock.release()

    def slow_down(self, session_id: uuid.UUID) -> None:
        """WhatsApp refused a check as too fast: the session's next one waits longer."""
        turns = self._turns(session_id)
        turns.next_at = time.monotonic() + max(PENALTY_INTERVALS * self._interval_s, PENALTY_MIN_S)

    def _turns(self, session_id: uuid.UUID) -> _Turns:
        turns = self._sessions.get(session_id)
        if turns is None:
            if len(self._sessions) >= PACE_SWEEP_AT:
                self._sweep()
            turns = self._sessions[session_id] = _Turns()
        return turns

    def _sweep(self) -> None:
        now = time.monotonic()
        idle = [
            sid
            for sid, t in self._sessions.items()
            if t.waiting == 0 and not t.lock.locked() and t.next_at <= now
        ]
        for sid in idle:
            del self._sessions[sid]
