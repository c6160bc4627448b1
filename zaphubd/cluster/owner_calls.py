"""Calls on a session's live connection, answered by the node that runs the session.

Presence, subscriptions, pairing codes and media downloads need the session's client, which
lives on one node only. A node that receives such a request for a session another node runs
forwards it: a request entry in the owner's call stream (`zaphub:calls:{<node>}`) and a reply
pushed to a key named after the request, which the caller waits on (BLPOP) with a deadline.
Redis is the only path between nodes, so they need not reach each other's HTTP ports.

Bounded by design: at most `max_waiting` calls wait for a reply on a node at once (each holds a
pooled Redis connection while it blocks), at most `max_running` forwarded calls run on the
owner together, the call stream is trimmed, a request carries its deadline and is dropped
unanswered once past it, and a reply key expires. A caller that gets no reply in time answers
503; an API error raised on the owner (409 not connected, 404 media gone) reaches the client
unchanged.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from redis.typing import EncodableT, FieldT

from zaphubd.backoff import backoff_delay
from zaphubd.errors import (
    ApiError,
    CapacityReached,
    Conflict,
    DependencyUnavailable,
    Forbidden,
    NotFound,
    SessionNotReady,
    UpstreamError,
    ValidationFailed,
)
from zaphubd.queue import keys
from zaphubd.queue.redis import OUTAGE_ERRORS, RedisClient
from zaphubd.tasks import cancel_and_wait

log = logging.getLogger("zaphubd.cluster.calls")

#: Runs one call locally: (session id, arguments) -> a JSON-able result.
LocalCall = Callable[[uuid.UUID, dict[str, Any]], Awaitable[Any]]
STREAM_MAXLEN = 10_000
REPLY_TTL_S = 60
READ_BLOCK_MS = 1000
#: The errors that cross: their type name picks the class the caller raises again.
_CROSSING: dict[str, type[ApiError]] = {
    cls.type_name: cls
    for cls in (
        SessionNotReady,
        NotFound,
        Forbidden,
        Conflict,
        ValidationFailed,
        CapacityReached,
        UpstreamError,
        ApiError,
    )
}


class OwnerCalls:
    def __init__(
        self,
        redis: RedisClient,
        node_id: str,
        *,
        timeout_s: float = 15.0,
        max_waiting: int = 64,
        max_running: int = 32,
    ) -> None:
        self._redis = redis
        self._node_id = node_id
        self._timeout_s = timeout_s
        self._waiting = asyncio.Semaphore(max_waiting)
        self._running = asyncio.Semaphore(max_running)
        self._ops: dict[str, LocalCall] = {}
        self._inflight: set[asyncio.Task[None]] = set()

    def serve(self, op: str, call: LocalCall) -> None:
        """Answer `op` for sessions running here."""
        self._ops[op] = call

    async def call(self, owner: str, op: str, session_id: uuid.UUID, args: dict[str, Any]) -> Any:
        """Run `op` on `owner` and return its result, or raise its API error."""
        request_id = uuid.uuid4().hex
        reply_key = keys.call_reply(request_id)
        deadline = time.time() + self._timeout_s
        entry: dict[FieldT, EncodableT] = {
            "id": request_id,
            "op": op,
            "s": str(session_id),
            "a": orjson.dumps(args),
            "r": reply_key,
            "d": f"{deadline:.3f}",
        }
        try:
            async with asyncio.timeout(self._timeout_s), self._waiting:
                await self._redis.xadd(
                    keys.call_stream(owner), entry, maxlen=STREAM_MAXLEN, approximate=True
                )
                reply = await self._redis.blpop([reply_key], timeout=self._timeout_s)
        except TimeoutError:
            reply = None
        except OUTAGE_ERRORS as err:
            raise DependencyUnavailable("redis", str(err) or type(err).__name__) from err
        if reply is None:
            raise DependencyUnavailable(
                f"node {owner}", f"no answer to {op} within {self._timeout_s:.0f} s"
            )
        return _outcome(orjson.loads(reply[1]))

    async def run(self) -> None:
        """Read this node's call stream and answer each call (a bounded number at once)."""
        stream, cursor, failures = keys.call_stream(self._node_id), "$", 0
        try:
            while True:
                try:
                    reply: Any = await self._redis.xread(
                        {stream: cursor}, count=100, block=READ_BLOCK_MS
                    )
                    failures = 0
                except OUTAGE_ERRORS as err:
                    failures += 1
                    if failures == 1:
                        log.warning("owner calls: redis unavailable: %s", err)
                    await asyncio.sleep(backoff_delay(failures - 1, 0.2, 5.0))
                    continue
                for entry_id, fields in reply[0][1] if reply else []:
                    cursor = entry_id
                    await self._running.acquire()
                    task = asyncio.create_task(self._answer(fields), name="owner-call")
                    self._inflight.add(task)
                    task.add_done_callback(self._inflight.discard)
        finally:
            for task in list(self._inflight):
                await cancel_and_wait(task)

    async def _answer(self, fields: dict[bytes, bytes]) -> None:
        try:
            text = {k.decode(): v for k, v in fields.items()}
            if float(text["d"]) < time.time():
                return  # the caller gave up already
            outcome = await self._execute(
                text["op"].decode(), uuid.UUID(text["s"].decode()), orjson.loads(text["a"])
            )
            await self._redis.rpush(text["r"].decode(), orjson.dumps(outcome))
            await self._redis.expire(text["r"].decode(), REPLY_TTL_S)
        except (KeyError, ValueError, orjson.JSONDecodeError) as err:
            log.warning("owner calls: malformed request dropped: %s", err)
        except OUTAGE_ERRORS as err:
            log.warning("owner calls: reply not sent (redis unavailable): %s", err)
        finally:
            self._running.release()

    async def _execute(self, op: str, session_id: uuid.UUID, args: dict[str, Any]) -> Any:
        handler = self._ops.get(op)
        if handler is None:
            return {"error": "ApiError", "message": f"unknown call {op!r}"}
        try:
            return {"ok": await handler(session_id, args)}
        except ApiError as err:
            return {"error": err.type_name, "message": err.message}
        except Exception:
            log.exception("owner call %s for session %s failed", op, session_id)
            return {"error": "ApiError", "message": f"{op} failed on the owner node"}


def _outcome(reply: dict[str, Any]) -> Any:
    if "ok" in reply:
        return reply["ok"]
    cls = _CROSSING.get(str(reply.get("error")), ApiError)
    raise cls(str(reply.get("message", "call failed on the owner node")))


def encode_bytes(data: bytes) -> str:
    return base64.b64encode(data).decode()


def decode_bytes(text: str) -> bytes:
    return base64.b64decode(text)
