"""Background tasks for simnet: named, referenced, crashes logged; and the send delay line."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from contextlib import suppress
from typing import Any

log = logging.getLogger("zaphubd.simnet")

_RUNNING: set[asyncio.Task[Any]] = set()


def spawn(coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    """Start `coro` as a named task that is kept referenced and whose crash is logged."""
    task = asyncio.create_task(coro, name=name)
    _RUNNING.add(task)
    task.add_done_callback(_finished)
    return task


def _finished(task: asyncio.Task[Any]) -> None:
    _RUNNING.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("simnet task %s crashed", task.get_name(), exc_info=task.exception())


async def cancel(task: asyncio.Task[Any] | None) -> None:
    """Cancel `task` and wait for it, unless it is the task calling this."""
    if task is None or task is asyncio.current_task():
        return
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


class DelayLine:
    """Runs callbacks after a delay, strictly in the order they were added.

    Injected send latency must not serialise pipelined sends (a real network delays each
    message, it does not process them one at a time), nor reorder them.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._queue: deque[tuple[float, Callable[[], None]]] = deque()
        self._task: asyncio.Task[None] | None = None

    def add(self, delay_s: float, callback: Callable[[], None]) -> None:
        self._queue.append((time.monotonic() + delay_s, callback))
        if self._task is None or self._task.done():
            self._task = spawn(self._drain(), self._name)

    async def close(self) -> None:
        self._queue.clear()
        await cancel(self._task)

    async def _drain(self) -> None:
        while self._queue:
            due, callback = self._queue[0]
            wait_s = due - time.monotonic()
            if wait_s > 0:
                await asyncio.sleep(wait_s)
            self._queue.popleft()
            try:
                callback()
            except Exception:
                log.exception("simnet delayed callback failed")
