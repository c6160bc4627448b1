"""The read/write gate every call into neonize goes through (NEONIZE.md, hazard 1).

neonize keeps its clients in Go maps without a lock: a `connect()` or `stop()` that overlaps
any other call into the library can abort the process ("concurrent map writes"). So connect
and stop take the gate exclusively, everything else shares it. Waiters are served in arrival
order: a connect queued behind readers is not starved by later readers, and readers queued
behind a connect wait for it (which also serialises connects).

Release is synchronous, so a cancelled holder can never leave the gate locked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger("zaphubd.transport.neonize")

Mode = Literal["shared", "exclusive"]
#: An exclusive hold longer than this is logged: every session's calls wait meanwhile.
SLOW_EXCLUSIVE_S = 5.0


@dataclass(frozen=True, slots=True)
class GateEvent:
    """One grant or release, as seen by an observer (instrumentation and tests)."""

    action: Literal["grant", "release"]
    mode: Mode
    what: str
    readers: int  # shared holders after this action
    exclusive: bool  # whether an exclusive holder exists after this action


GateObserver = Callable[[GateEvent], None]


class Gate:
    """An asyncio shared/exclusive lock with FIFO fairness."""

    def __init__(self, observer: GateObserver | None = None) -> None:
        self._readers = 0
        self._exclusive = False
        self._waiters: deque[tuple[Mode, str, asyncio.Future[None]]] = deque()
        self._observer = observer

    @property
    def readers(self) -> int:
        return self._readers

    @property
    def exclusive_held(self) -> bool:
        return self._exclusive

    @asynccontextmanager
    async def shared(self, what: str) -> AsyncIterator[None]:
        """Hold the gate alongside other shared holders (sends, presence, downloads...)."""
        await self._acquire("shared", what)
        try:
            yield
        finally:
            self._release("shared", what)

    @asynccontextmanager
    async def exclusive(self, what: str) -> AsyncIterator[None]:
        """Hold the gate alone (connect, stop)."""
        await self._acquire("exclusive", what)
        started = time.monotonic()
        try:
            yield
        finally:
            held_s = time.monotonic() - started
            if held_s > SLOW_EXCLUSIVE_S:
                log.warning("neonize gate held exclusively by %s for %.1f s", what, held_s)
            self._release("exclusive", what)

    async def _acquire(self, mode: Mode, what: str) -> None:
        if not self._waiters and self._grantable(mode):
            self._grant(mode, what)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (mode, what, future)
        self._waiters.append(entry)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release(mode, what)  # granted just as we were cancelled: give it back
            else:
                self._forget(entry)
            raise

    def _forget(self, entry: tuple[Mode, str, asyncio.Future[None]]) -> None:
        with suppress(ValueError):  # already granted and popped by _wake
            self._waiters.remove(entry)
        self._wake()  # a cancelled head may have been holding others back

    def _grantable(self, mode: Mode) -> bool:
        if mode == "shared":
            return not self._exclusive
        return not self._exclusive and self._readers == 0

    def _grant(self, mode: Mode, what: str) -> None:
        if mode == "shared":
            self._readers += 1
        else:
            self._exclusive = True
        self._notify("grant", mode, what)

    def _release(self, mode: Mode, what: str) -> None:
        if mode == "shared":
            self._readers -= 1
        else:
            self._exclusive = False
        self._notify("release", mode, what)
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            mode, what, future = self._waiters[0]
            if future.done():  # cancelled while waiting
                self._waiters.popleft()
                continue
            if not self._grantable(mode):
                return
            self._waiters.popleft()
            self._grant(mode, what)
            future.set_result(None)
            if mode == "exclusive":
                return

    def _notify(self, action: Literal["grant", "release"], mode: Mode, what: str) -> None:
        if self._observer is None:
            return
        try:
            self._observer(GateEvent(action, mode, what, self._readers, self._exclusive))
        except Exception:  # instrumentation must never break the lock itself
            log.exception("neonize gate observer failed")
